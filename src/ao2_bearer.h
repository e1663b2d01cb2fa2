/* AuthType api-oauth2: the Bearer check in front of Odoo, the api-oauth2-scope
 * authorization provider, and the identity passed on to the backend. */
#ifndef AO2_BEARER_H
#define AO2_BEARER_H

#include <httpd.h>
#include <mod_auth.h>
#include <util_filter.h>

#define AO2_AUTH_TYPE "api-oauth2"

/* check_authn hook. */
int ao2_bearer_check(request_rec *r);
/* note_auth_failure hook: the WWW-Authenticate challenge (RFC 6750 §3). */
int ao2_bearer_note_failure(request_rec *r, const char *auth_type);
/* insert_error_filter hook: insufficient_scope is a 403, not a 401; the
 * module's JSON refusal goes out as application/json. */
void ao2_bearer_error_status(request_rec *r);
#define AO2_JSON_ERROR_FILTER "API_OAUTH2_JSON_ERROR"
apr_status_t ao2_bearer_json_filter(ap_filter_t *f, apr_bucket_brigade *bb);
/* fixups hook: the Bearer token this module checked does not go on to the
 * backend (ApiOAuth2PassToken on keeps it). */
int ao2_bearer_fixups(request_rec *r);

/* Require api-oauth2-scope WORD...: every word must be granted. */
extern const authz_provider ao2_scope_authz_provider;

/* Drops the cached validation of a token at once (revoke, refresh); with
 * cluster, every other server learns it too (the revocation log). until:
 * Unix seconds the token would have lived. */
void ao2_bearer_forget(request_rec *r, const char *token, apr_int64_t until,
                       int cluster);

#endif
