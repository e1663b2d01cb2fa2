/* Request parameters from a query string, a form body or a JSON body, all
 * bounded. Pure: no request_rec, so it is unit-tested and fuzzed alone. */
#ifndef AO2_PARAMS_H
#define AO2_PARAMS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "ao2_err.h"

#define AO2_PARAMS_MAX_FIELDS 64
#define AO2_PARAMS_MAX_VALUE  8192

/* Percent-decodes in place ('+' is a space when plus_is_space). Returns -1
 * on a bad escape, else the new length. Rejects decoded NUL bytes. */
long ao2_url_decode(char *s, int plus_is_space);

/* Percent-encodes everything but RFC 3986 unreserved characters. */
char *ao2_url_encode(apr_pool_t *p, const char *s);

/* key=value&... into t (apr_table_add: repeated keys kept). A key that
 * appears twice is refused later by ao2_params_get; here only syntax and
 * bounds count. NULL on success, else a 400 invalid_request error. */
ao2_err_t *ao2_params_parse_form(apr_pool_t *p, const char *buf, apr_size_t len,
                                 apr_table_t *t);
/* A form request body: as ao2_params_parse_form, but a body that looks like
 * JSON (a '{' after whitespace) is refused, saying to send it as JSON. */
ao2_err_t *ao2_params_parse_form_body(apr_pool_t *p, const char *buf,
                                      apr_size_t len, apr_table_t *t);
/* A JSON object whose members are strings; a member of another type is
 * refused, naming it when the endpoints read a parameter of that name. */
ao2_err_t *ao2_params_parse_json(apr_pool_t *p, const char *buf, apr_size_t len,
                                 apr_table_t *t);

/* The value of a parameter that must appear at most once; NULL when absent.
 * *err set (400 invalid_request) when it appears more than once. */
const char *ao2_params_get(apr_pool_t *p, const apr_table_t *t, const char *key,
                           ao2_err_t **err);

#endif
