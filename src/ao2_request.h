/* Request glue shared by the endpoints: bounded body reading, parameters
 * from query + body, client authentication, JSON answers. */
#ifndef AO2_REQUEST_H
#define AO2_REQUEST_H

#include <httpd.h>

#include "ao2_config.h"
#include "ao2_err.h"

/* Parameters from the query string and a JSON or form body (also on GET).
 * 413 past dc->max_body, 415 for another content type with a body. */
ao2_err_t *ao2_request_params(request_rec *r, const ao2_dir_conf_t *dc,
                              apr_table_t **params);

/* The client this request acts for, authenticated per
 * ApiOAuth2ClientAuthentication (HTTP Basic or client_secret in the body,
 * compared in constant time). */
ao2_err_t *ao2_request_client(request_rec *r, const ao2_dir_conf_t *dc,
                              const apr_table_t *params,
                              const ao2_client_t **client);

/* A required, bounded, printable parameter. */
ao2_err_t *ao2_request_param(request_rec *r, const apr_table_t *params,
                             const char *name, apr_size_t max_len,
                             const char **value);

/* What the module notes of one request. httpd gives a module one slot per
 * request (request_config): scrubbing and the Bearer check share it
 * through these, never by casting it to their own type. */
typedef enum {
    AO2_NOTE_IDENTITY_KEPT, /* apr_table_t: identity headers ao2_scrub_early
                               took out */
    AO2_NOTE_CHECKED_AUTH,  /* const char: the Authorization header a
                               Bearer check accepted */
    AO2_NOTE_N
} ao2_note_e;

void ao2_request_note_set(request_rec *r, ao2_note_e which, const void *value);

/* The note of r, else of the request it was redirected from or is a
 * subrequest of (they share its headers): the nearest one set; NULL. */
const void *ao2_request_note(const request_rec *r, ao2_note_e which);

/* The Retry-After of every held or capped answer (AO2_RETRY_AFTER), Bearer
 * and endpoints alike. */
void ao2_retry_after(request_rec *r);

/* Writes the answer; the handler then returns OK. 503s and held answers
 * (err->retry) carry Retry-After. */
int ao2_reply_json(request_rec *r, int status, const char *json);
int ao2_reply_error(request_rec *r, const ao2_err_t *err);

#endif
