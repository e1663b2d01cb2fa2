#include "ao2_bearer.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_core.h>
#include <string.h>

#include "ao2_config.h"
#include "ao2_discovery.h"
#include "ao2_json.h"
#include "ao2_jwt.h"
#include "ao2_memo.h"
#include "ao2_metrics.h"
#include "ao2_http.h"
#include "ao2_oauth2.h"
#include "ao2_request.h"
#include "ao2_validate.h"

APLOG_USE_MODULE(api_oauth2);

#define AO2_MAX_BEARER    4096
#define NOTE_SCOPE        "ao2-scope"
#define NOTE_ERROR        "ao2-error"
#define NOTE_INSUFFICIENT "ao2-insufficient-scope"
#define NOTE_JSON         "ao2-json-refusal" /* the status it is set for */

static int is_oauth2(request_rec *r)
{
    const char *type = ap_auth_type(r);
    return type && strcasecmp(type, AO2_AUTH_TYPE) == 0;
}

typedef struct auth_headers {
    const char *first;
    int count; /* stops at 2 */
} auth_headers_t;

static int auth_header(void *baton, const char *key, const char *value)
{
    auth_headers_t *a = baton;

    if (a->count++ == 0)
        a->first = value;
    return a->count < 2;
}

/* RFC 6750 §2.1's b64token characters but the trailing '=': ALPHA, DIGIT
 * and -._~+/ (a table: this runs over every character of every token). */
static int b64token_char(unsigned char c)
{
    static const unsigned char ok[256] = {
        ['-'] = 1,         ['.'] = 1,         ['_'] = 1,
        ['~'] = 1,         ['+'] = 1,         ['/'] = 1,
        ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
    };
    return ok[c];
}

/* RFC 6750 §2.1: one "Bearer" 1*SP b64token, nothing else. 1 found, 0
 * absent (or another scheme), -1 malformed or more than one credential. */
static int bearer_token(request_rec *r, const char **token)
{
    auth_headers_t a = {NULL, 0};
    const char *h, *t, *end;

    /* One walk of the headers for the value and the count. */
    apr_table_do(auth_header, &a, r->headers_in, "Authorization", NULL);
    if (a.count > 1)
        return -1;
    h = a.first;
    if (h == NULL || strncasecmp(h, "Bearer", 6) != 0 ||
        (h[6] != ' ' && h[6] != '\0'))
        return 0;
    t = h + 6;
    while (*t == ' ')
        t++;
    end = t;
    while (b64token_char((unsigned char)*end))
        end++;
    if (end == t)
        return -1;
    while (*end == '=')
        end++;
    if (*end != '\0' || end - t > AO2_MAX_BEARER)
        return -1;
    *token = t;
    return 1;
}

static const char *realm(request_rec *r)
{
    const char *name = ap_auth_name(r);
    char *out, *o;

    if (name == NULL)
        return "api_oauth2";
    out = o = apr_palloc(r->pool, strlen(name) + 1);
    for (; *name; name++) {
        if (*name != '"' && *name != '\\' && *name >= 0x20 && *name != 0x7f)
            *o++ = *name;
    }
    *o = '\0';
    return out;
}

/* Every endpoint answers JSON, and clients read refusals of the API as JSON
 * too: the body httpd sends for status is this one, unless the operator
 * has an ErrorDocument for it. */
static void json_refusal(request_rec *r, int status, const char *error,
                         const char *description)
{
    const char *ours = apr_table_get(r->notes, NOTE_JSON);
    ao2_json_t *j;

    if ((ours == NULL || atoi(ours) != status) &&
        ap_response_code_string(r, ap_index_of_response(status)) != NULL)
        return;
    j = ao2_json_object(r->pool);
    ao2_json_set_str(j, "error", error);
    ao2_json_set_str(j, "error_description", description);
    ap_custom_response(r, status, ao2_json_dump(r->pool, j));
    apr_table_setn(r->notes, NOTE_JSON, apr_itoa(r->pool, status));
}

static int unauthorized(request_rec *r, const char *error)
{
    if (error)
        apr_table_setn(r->notes, NOTE_ERROR, error);
    ao2_bearer_note_failure(r, AO2_AUTH_TYPE);
    return HTTP_UNAUTHORIZED;
}

int ao2_bearer_note_failure(request_rec *r, const char *auth_type)
{
    const char *scope = apr_table_get(r->notes, NOTE_INSUFFICIENT);
    const char *error = apr_table_get(r->notes, NOTE_ERROR);
    const char *value;

    if (auth_type == NULL || strcasecmp(auth_type, AO2_AUTH_TYPE) != 0)
        return DECLINED;
    /* Keyed 401 even for insufficient_scope: httpd picks the body by the
     * status it dies with, before ao2_bearer_error_status makes it 403. */
    if (scope) {
        value = apr_psprintf(r->pool,
                             "Bearer realm=\"%s\", error=\"insufficient_scope\""
                             ", scope=\"%s\"",
                             realm(r), scope);
        json_refusal(r, HTTP_UNAUTHORIZED, "insufficient_scope",
                     apr_pstrcat(r->pool,
                                 "the access token does not grant the scope "
                                 "this location requires: ",
                                 scope, NULL));
    } else if (error) {
        value = apr_psprintf(r->pool, "Bearer realm=\"%s\", error=\"%s\"",
                             realm(r), error);
        json_refusal(r, HTTP_UNAUTHORIZED, error,
                     "the access token is not valid here");
    } else {
        /* RFC 6750 §3.1: no error attribute in the challenge when no token
         * came; the body still says what is missing. */
        value = apr_psprintf(r->pool, "Bearer realm=\"%s\"", realm(r));
        json_refusal(r, HTTP_UNAUTHORIZED, "invalid_request",
                     "this location needs an access token: send "
                     "Authorization: Bearer <access_token>");
    }
    apr_table_setn(r->err_headers_out, "WWW-Authenticate", value);
    return OK;
}

void ao2_bearer_error_status(request_rec *r)
{
    const char *ours = apr_table_get(r->notes, NOTE_JSON);

    if (ours && atoi(ours) == r->status)
        ap_add_output_filter(AO2_JSON_ERROR_FILTER, NULL, r, r->connection);
    if (r->status == HTTP_UNAUTHORIZED &&
        apr_table_get(r->notes, NOTE_INSUFFICIENT)) {
        r->status = HTTP_FORBIDDEN;
        r->status_line = NULL;
    }
}

/* httpd has set text/html by the time the body passes. */
apr_status_t ao2_bearer_json_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ap_set_content_type(f->r, "application/json");
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

int ao2_bearer_fixups(request_rec *r)
{
    const ao2_dir_conf_t *dc =
        ap_get_module_config(r->per_dir_config, &api_oauth2_module);
    /* A request that inherited the check (internal redirect, subrequest)
     * carries the header its first request checked. Every request of every
     * server passes here: the header is looked up only after a check. */
    const char *checked = ao2_request_note(r, AO2_NOTE_CHECKED_AUTH);
    const char *h;

    if (checked == NULL || dc->pass_token == 1)
        return DECLINED;
    h = apr_table_get(r->headers_in, "Authorization");
    /* Only the header checked: one the operator set for the backend stays. */
    if (h && strcmp(h, checked) == 0)
        apr_table_unset(r->headers_in, "Authorization");
    return DECLINED;
}

static void set_identity(request_rec *r, const char *name, const char *env,
                         const char *value)
{
    if (value == NULL || *value == '\0')
        return;
    apr_table_setn(r->headers_in, name, value);
    apr_table_setn(r->subprocess_env, env, value);
}

/* The verdict is clean (ao2_validate checked it): copied out of the cache
 * buffer into the request. */
static int pass_identity(request_rec *r, const ao2_dir_conf_t *dc,
                         const ao2_verdict_t *v)
{
    const char *login = apr_pstrmemdup(r->pool, v->login, v->login_len);
    const char *db =
        v->db_len ? apr_pstrmemdup(r->pool, v->db, v->db_len) : dc->odoo_db;
    const char *scope = apr_pstrmemdup(r->pool, v->scope, v->scope_len);

    r->user = (char *)login;
    r->ap_auth_type = (char *)AO2_AUTH_TYPE;
    apr_table_setn(r->notes, NOTE_SCOPE, scope);
    set_identity(r, "Remote-User", "API_OAUTH2_LOGIN", login);
    apr_table_setn(r->headers_in, "X-Odoo-Login", login);
    set_identity(r, "X-Odoo-Db", "API_OAUTH2_DB", db);
    set_identity(r, "X-OAuth2-Scope", "API_OAUTH2_SCOPE", scope);
    return OK;
}

static apr_status_t provider_http(void *baton, apr_pool_t *p,
                                  const char *method, const char *url,
                                  const char *authorization, const char *form,
                                  ao2_http_response_t *out, const char **why)
{
    return ao2_http_request(p, baton, method, url, authorization, form, out,
                            why);
}

static void log_to_request(void *baton, int level, apr_status_t rv,
                           const char *msg)
{
    ap_log_rerror(APLOG_MARK, level, rv, (request_rec *)baton, "%s", msg);
}

/* The cap on this process's provider calls of the Bearer check (ao2_gate.h):
 * its introspection and userinfo calls (ao2_validate.c) and the metadata
 * fetches they and the JWT check need (ao2_discovery.c). */
static ao2_gate_t provider_gate(void)
{
    return ao2_gate_provider_calls(&ao2_global->provider_calls,
                                   &ao2_global->provider_call_waiters,
                                   &ao2_global->provider_call_ended);
}

/* The location's provider whose issuer signed token, when its
 * token_validation allows local checks. */
static const ao2_provider_t *jwt_provider(apr_pool_t *p, const ao2_binding_t *b,
                                          const char *token)
{
    const char *iss = ao2_jwt_claim_unverified(p, token, "iss");
    int i;

    for (i = 0; iss && b->clients && i < b->clients->nelts; i++) {
        const ao2_provider_t *pv =
            APR_ARRAY_IDX(b->clients, i, ao2_client_t *)->provider;
        if (pv->token_validation != AO2_TV_INTROSPECT && pv->issuer &&
            strcmp(pv->issuer, iss) == 0)
            return pv;
    }
    return NULL;
}

/* RFC 9068 locally (ao2_validate's JWT slot): the keys of the provider
 * named by the token's iss, fetched again once for an unknown kid. A token
 * that is not a JWS, or names no provider of the location, goes on to
 * introspection. */
static ao2_jwt_e jwt_verify(void *baton, apr_pool_t *p, const ao2_binding_t *b,
                            const char *token, apr_int64_t now,
                            const ao2_json_t **claims, apr_int64_t *expires_at,
                            const ao2_provider_t **issuer)
{
    request_rec *r = baton;
    const ao2_server_conf_t *sc =
        ap_get_module_config(r->server->module_config, &api_oauth2_module);
    const ao2_provider_t *pv;
    const ao2_provider_meta_t *meta;
    ao2_jws_result_e jws = AO2_JWS_MALFORMED;
    ao2_jwt_access_e rc = AO2_JWT_ACCESS_BAD_SIGNATURE;
    ao2_gate_t cap = provider_gate();
    ao2_err_t *err;
    int refetch;

    if (!ao2_jws_looks_like(token, strlen(token)) ||
        (pv = jwt_provider(p, b, token)) == NULL)
        return AO2_JWT_PASS;
    for (refetch = 0; refetch < 2; refetch++) {
        err = ao2_discovery_get(p, r->server, &sc->http, &cap, pv, refetch,
                                &meta);
        if (err && err->status == HTTP_SERVICE_UNAVAILABLE) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "AO2J0013: JWT access token of %s: %s", pv->name,
                          err->description);
            return AO2_JWT_BUSY;
        }
        if (err) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "AO2J0010: JWT access token of %s: %s", pv->name,
                          err->description);
            return AO2_JWT_TROUBLE;
        }
        if (meta->jwks == NULL)
            return AO2_JWT_PASS;
        rc = ao2_jwt_access_verify(p, &meta->provider, meta->jwks, token, now,
                                   claims, expires_at, &jws);
        if (rc != AO2_JWT_ACCESS_BAD_SIGNATURE || jws != AO2_JWS_UNKNOWN_KID)
            break;
    }
    if (rc != AO2_JWT_ACCESS_OK) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            "AO2J0011: JWT access token of %s refused: %s%s%s", pv->name,
            ao2_jwt_access_text(rc),
            rc == AO2_JWT_ACCESS_BAD_SIGNATURE ? ": " : "",
            rc == AO2_JWT_ACCESS_BAD_SIGNATURE ? ao2_jws_result_text(jws) : "");
        return AO2_JWT_INVALID;
    }
    /* With its discovered endpoints (userinfo); lives as long as p. */
    *issuer = &meta->provider;
    return AO2_JWT_VALID;
}

static const ao2_provider_t *resolve_provider(void *baton, apr_pool_t *p,
                                              const ao2_provider_t *pv)
{
    request_rec *r = baton;
    const ao2_server_conf_t *sc =
        ap_get_module_config(r->server->module_config, &api_oauth2_module);
    const ao2_provider_meta_t *meta;
    ao2_gate_t cap = provider_gate();
    ao2_err_t *err;

    err = ao2_discovery_get(p, r->server, &sc->http, &cap, pv, 0, &meta);
    if (err) {
        /* 503: turned away by the cap, nothing failed. */
        ap_log_rerror(
            APLOG_MARK,
            err->status == HTTP_SERVICE_UNAVAILABLE ? APLOG_INFO : APLOG_ERR, 0,
            r, "AO2J0012: provider %s: %s", pv->name, err->description);
        return NULL;
    }
    return &meta->provider;
}

/* What ao2_validate works with, from the process-wide configuration. */
static void validate_env(request_rec *r, ao2_validate_env_t *env)
{
    const ao2_server_conf_t *sc =
        ap_get_module_config(r->server->module_config, &api_oauth2_module);
    const ao2_global_t *g = ao2_global;

    memset(env, 0, sizeof(*env));
    env->store = g->store;
    env->server = r->server;
    env->keys = &g->keys;
    env->cache = g->cache;
    env->local_cache = g->local_cache;
    env->cache_ttl = g->cache_ttl;
    env->neg_ttl = g->cache_neg_ttl;
    env->local_ttl = g->cache_local_ttl;
    env->revlog = g->revlog;
    /* A crashed holder blocks one provider timeout; waiters wait that and a
     * second more. */
    env->lock_ttl = (int)(sc->http.total_timeout_ms / 1000) + 2;
    env->lock_wait =
        apr_time_from_msec(sc->http.total_timeout_ms) + apr_time_from_sec(1);
    env->fail_ttl = AO2_FAILED_LOOKUP_TTL;
    env->calls = provider_gate();
    env->http = provider_http;
    env->http_baton = (void *)&sc->http;
    env->log = log_to_request;
    env->log_baton = r;
    env->log_level = ap_get_request_module_loglevel(r, APLOG_MODULE_INDEX);
    env->jwt = jwt_verify;
    env->jwt_baton = r;
    env->resolve = resolve_provider;
    env->resolve_baton = r;
}

/* The connection's memo (ao2_memo.h), made at its first Bearer check. A
 * connection is served by one thread at a time, HTTP/2 streams each by
 * their own secondary connection. */
static ao2_memo_t *connection_memo(conn_rec *c)
{
    ao2_memo_t *m = ap_get_module_config(c->conn_config, &api_oauth2_module);

    if (m == NULL) {
        m = ao2_memo_make(c->pool);
        ap_set_module_config(c->conn_config, &api_oauth2_module, m);
    }
    return m;
}

int ao2_bearer_check(request_rec *r)
{
    const ao2_dir_conf_t *dc;
    const ao2_binding_t *b;
    const char *token;
    char buf[AO2_VERDICT_MAX];
    ao2_validate_env_t env;
    ao2_verdict_t v;
    int rc;

    if (!is_oauth2(r))
        return DECLINED;
    dc = ap_get_module_config(r->per_dir_config, &api_oauth2_module);
    if (ao2_global == NULL || ao2_global->store == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "AO2B0006: AuthType api-oauth2 without a token store: "
                      "configure ApiOAuth2API or ApiOAuth2TokenStore");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rc = bearer_token(r, &token);
    if (rc <= 0) {
        ao2_metrics_bearer(rc == 0 ? AO2_MB_MISSING : AO2_MB_MALFORMED);
        return unauthorized(r, rc == 0 ? NULL : "invalid_token");
    }
    b = ao2_dir_binding(r->pool, dc);
    validate_env(r, &env);
    env.now_us = apr_time_now();
    env.memo = connection_memo(r->connection);
    switch (ao2_validate(&env, b, r->pool, token,
                         (apr_int64_t)apr_time_sec(env.now_us), buf, &v)) {
        case AO2_TOKEN_TROUBLE:
            ao2_metrics_bearer(AO2_MB_UNAVAILABLE);
            ao2_retry_after(r);
            json_refusal(r, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                         "the access token cannot be checked now; try again "
                         "shortly");
            return HTTP_SERVICE_UNAVAILABLE;
        case AO2_TOKEN_INVALID:
            ao2_metrics_bearer(AO2_MB_INVALID);
            return unauthorized(r, "invalid_token");
        case AO2_TOKEN_VALID:
            break;
    }
    ao2_metrics_bearer(AO2_MB_VALID);
    ao2_request_note_set(r, AO2_NOTE_CHECKED_AUTH,
                         apr_table_get(r->headers_in, "Authorization"));
    return pass_identity(r, dc, &v);
}

void ao2_bearer_forget(request_rec *r, const char *token, apr_int64_t until,
                       int cluster)
{
    ao2_validate_env_t env;

    if (ao2_global == NULL)
        return;
    validate_env(r, &env);
    ao2_validate_forget(&env, token, until, cluster);
}

static authz_status scope_check(request_rec *r, const char *line,
                                const void *parsed)
{
    const char *granted;

    if (r->user == NULL)
        return AUTHZ_DENIED_NO_USER;
    granted = apr_table_get(r->notes, NOTE_SCOPE);
    if (ao2_scope_covers(granted, line))
        return AUTHZ_GRANTED;
    apr_table_setn(r->notes, NOTE_INSUFFICIENT, apr_pstrdup(r->pool, line));
    return AUTHZ_DENIED;
}

static const char *scope_parse(cmd_parms *cmd, const char *line,
                               const void **parsed)
{
    const char *s;

    for (s = line; *s == ' '; s++)
        ;
    if (*s == '\0')
        return "Require api-oauth2-scope needs at least one scope";
    for (; *s; s++) {
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
            return "Require api-oauth2-scope: scopes are plain words";
    }
    return NULL;
}

const authz_provider ao2_scope_authz_provider = {&scope_check, &scope_parse};
