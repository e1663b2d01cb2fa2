#include "ao2_bearer.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <string.h>

#include "ao2_cache.h"
#include "ao2_config.h"
#include "ao2_crypto.h"
#include "ao2_http.h"
#include "ao2_oauth2.h"
#include "ao2_record.h"
#include "ao2_verdict.h"

APLOG_USE_MODULE(api_oauth2);

#define AO2_MAX_BEARER    4096
#define NOTE_SCOPE        "ao2-scope"
#define NOTE_ERROR        "ao2-error"
#define NOTE_INSUFFICIENT "ao2-insufficient-scope"
#define KEY_VERDICT       "ao2v:"
#define KEY_LOCK          "ao2l:"
#define KEY_LEN           (5 + AO2_SHA256_B64URL_LEN) /* prefix + token hash */

static int is_oauth2(request_rec *r)
{
    const char *type = ap_auth_type(r);
    return type && strcasecmp(type, AO2_AUTH_TYPE) == 0;
}

static int count_header(void *count, const char *key, const char *value)
{
    (*(int *)count)++;
    return 1;
}

/* RFC 6750 §2.1: one "Bearer" 1*SP b64token, nothing else. 1 found, 0
 * absent (or another scheme), -1 malformed or more than one credential. */
static int bearer_token(request_rec *r, const char **token)
{
    const char *h = apr_table_get(r->headers_in, "Authorization");
    const char *t, *end;
    int headers = 0;

    apr_table_do(count_header, &headers, r->headers_in, "Authorization", NULL);
    if (headers > 1)
        return -1;
    if (h == NULL || strncasecmp(h, "Bearer", 6) != 0 ||
        (h[6] != ' ' && h[6] != '\0'))
        return 0;
    t = h + 6;
    while (*t == ' ')
        t++;
    end = t;
    while (apr_isalnum(*end) || (*end && strchr("-._~+/", *end)))
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
    if (scope)
        value = apr_psprintf(r->pool,
                             "Bearer realm=\"%s\", error=\"insufficient_scope\""
                             ", scope=\"%s\"",
                             realm(r), scope);
    else if (error)
        value = apr_psprintf(r->pool, "Bearer realm=\"%s\", error=\"%s\"",
                             realm(r), error);
    else
        value = apr_psprintf(r->pool, "Bearer realm=\"%s\"", realm(r));
    apr_table_setn(r->err_headers_out, "WWW-Authenticate", value);
    return OK;
}

void ao2_bearer_error_status(request_rec *r)
{
    if (r->status == HTTP_UNAUTHORIZED &&
        apr_table_get(r->notes, NOTE_INSUFFICIENT)) {
        r->status = HTTP_FORBIDDEN;
        r->status_line = NULL;
    }
}

static int no_controls(const char *s, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    }
    return 1;
}

static void set_identity(request_rec *r, const char *name, const char *env,
                         const char *value)
{
    if (value == NULL || *value == '\0')
        return;
    apr_table_setn(r->headers_in, name, value);
    apr_table_setn(r->subprocess_env, env, value);
}

static int pass_identity(request_rec *r, const ao2_dir_conf_t *dc,
                         const ao2_verdict_t *v)
{
    const char *login, *db, *scope;

    if (!no_controls(v->login, v->login_len) ||
        !no_controls(v->db, v->db_len) ||
        !no_controls(v->scope, v->scope_len) || v->login_len == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "AO2B0002: identity with control characters refused");
        return unauthorized(r, "invalid_token");
    }
    login = apr_pstrmemdup(r->pool, v->login, v->login_len);
    db = v->db_len ? apr_pstrmemdup(r->pool, v->db, v->db_len) : dc->odoo_db;
    scope = apr_pstrmemdup(r->pool, v->scope, v->scope_len);
    r->user = (char *)login;
    r->ap_auth_type = (char *)AO2_AUTH_TYPE;
    apr_table_setn(r->notes, NOTE_SCOPE, scope);
    set_identity(r, "Remote-User", "API_OAUTH2_LOGIN", login);
    apr_table_setn(r->headers_in, "X-Odoo-Login", login);
    set_identity(r, "X-Odoo-Db", "API_OAUTH2_DB", db);
    set_identity(r, "X-OAuth2-Scope", "API_OAUTH2_SCOPE", scope);
    return OK;
}

static const ao2_client_t *introspecting_client(const ao2_dir_conf_t *dc)
{
    int i;

    for (i = 0; dc->clients && i < dc->clients->nelts; i++) {
        const ao2_client_t *c = APR_ARRAY_IDX(dc->clients, i, ao2_client_t *);
        if (c->provider->introspect_url)
            return c;
    }
    return NULL;
}

typedef enum { FOUND, UNKNOWN, TROUBLE } lookup_e;

/* A verdict from strings that may be NULL; no expiry means ApiOAuth2CacheTTL.
 */
static void set_verdict(ao2_verdict_t *v, int valid, apr_int64_t expires_at,
                        apr_int64_t now, const char *login, const char *db,
                        const char *scope)
{
    v->valid = valid;
    v->expires_at = expires_at ? expires_at : now + ao2_global->cache_ttl;
    v->login = login ? login : "";
    v->login_len = strlen(v->login);
    v->db = db ? db : "";
    v->db_len = strlen(v->db);
    v->scope = scope ? scope : "";
    v->scope_len = strlen(v->scope);
}

/* The token store first: tokens issued here, and tombstones of tokens
 * refreshed away or revoked here. */
static lookup_e from_store(request_rec *r, const char *token, apr_int64_t now,
                           ao2_verdict_t *v)
{
    ao2_global_t *g = ao2_global;
    char *val;
    apr_size_t len;
    ao2_index_t ix;
    const char *ikey = ao2_index_key(r->pool, token);
    apr_status_t rv =
        ao2_store_get(g->store, r->server, ikey, r->pool, &val, &len);

    if (APR_STATUS_IS_NOTFOUND(rv))
        return UNKNOWN;
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "AO2B0003: token store lookup failed");
        return TROUBLE;
    }
    /* Not ours to trust (forged, older format, other ApiOAuth2StoreKey): as if
     * absent, so the provider decides. */
    if (ao2_index_decode(r->pool, &g->keys, ikey, val, len, &ix) !=
        APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "AO2B0008: an index entry does not open; ignored");
        return UNKNOWN;
    }
    set_verdict(v, !ix.revoked && (ix.expires_at == 0 || ix.expires_at > now),
                ix.expires_at, now, ix.login, ix.db, ix.scope);
    return FOUND;
}

/* RFC 7662 at the provider, for tokens this module did not issue. */
static lookup_e from_provider(request_rec *r, const ao2_dir_conf_t *dc,
                              const char *token, apr_int64_t now,
                              ao2_verdict_t *v)
{
    const ao2_client_t *c = introspecting_client(dc);
    const ao2_server_conf_t *sc =
        ap_get_module_config(r->server->module_config, &api_oauth2_module);
    const char *form, *auth, *why = "";
    ao2_http_response_t resp;
    ao2_introspection_t in;
    ao2_err_t *err;
    apr_status_t rv;

    if (c == NULL)
        return UNKNOWN;
    form = ao2_form_add(r->pool, NULL, "token", token);
    form = ao2_form_add(r->pool, form, "token_type_hint", "access_token");
    auth = ao2_client_credentials(r->pool, c, &form);
    rv = ao2_http_request(r->pool, &sc->http, "POST",
                          c->provider->introspect_url, auth, form, &resp, &why);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "AO2B0004: introspection at %s: %s", c->provider->name,
                      why);
        return TROUBLE;
    }
    err = ao2_parse_introspection(r->pool, resp.status, resp.body, resp.len,
                                  dc->login_claim ? dc->login_claim : "email",
                                  c->provider->introspect_requires_token_type,
                                  now, &in);
    if (err) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "AO2B0005: introspection at %s: %s", c->provider->name,
                      err->description);
        return TROUBLE;
    }
    if (!in.active)
        return UNKNOWN;
    set_verdict(v, 1, in.expires_at, now, in.login, NULL, in.scope);
    return FOUND;
}

/* prefix + base64url SHA-256 of the token: never the token itself. */
static void cache_key(char *out, const char *prefix, const char *hash)
{
    memcpy(out, prefix, KEY_LEN - AO2_SHA256_B64URL_LEN);
    memcpy(out + KEY_LEN - AO2_SHA256_B64URL_LEN, hash,
           AO2_SHA256_B64URL_LEN + 1);
}

/* A cache that other machines can write (memcached) could hand back any
 * bytes: there a verdict carries a truncated HMAC over the cache key and
 * the verdict, so that a forged or moved one is a miss. The node-local shm
 * cache is as trusted as this process and does without. */
static int authenticated(const ao2_cache_t *cache)
{
    return strcmp(cache->type->name, "shm") != 0;
}

static void remember(ao2_cache_t *cache, const char *key,
                     const ao2_verdict_t *v, apr_int64_t now, int max_ttl)
{
    char buf[AO2_VERDICT_MAX];
    int mac = authenticated(cache);
    apr_size_t len =
        ao2_verdict_encode(v, buf, sizeof(buf) - (mac ? AO2_MAC_TAG_LEN : 0));
    apr_int64_t ttl =
        v->valid ? ao2_global->cache_ttl : ao2_global->cache_neg_ttl;

    if (max_ttl > 0 && ttl > max_ttl)
        ttl = max_ttl;
    /* Never beyond the token's own expiry. */
    if (v->expires_at - now < ttl)
        ttl = v->expires_at - now;
    if (len == 0 || ttl <= 0)
        return;
    if (mac) {
        if (ao2_mac(&ao2_global->keys, key, KEY_LEN, buf, len,
                    (unsigned char *)buf + len) != APR_SUCCESS)
            return;
        len += AO2_MAC_TAG_LEN;
    }
    cache->type->set(cache, key, KEY_LEN, buf, len, (int)ttl);
}

static lookup_e resolve(request_rec *r, const ao2_dir_conf_t *dc,
                        const char *token, apr_int64_t now, ao2_verdict_t *v)
{
    lookup_e found = from_store(r, token, now, v);

    if (found == UNKNOWN)
        found = from_provider(r, dc, token, now, v);
    if (found == UNKNOWN) {
        set_verdict(v, 0, now + ao2_global->cache_neg_ttl, now, NULL, NULL,
                    NULL);
        found = FOUND;
    }
    return found;
}

static int cached(request_rec *r, ao2_cache_t *cache, const char *key,
                  char *buf, apr_int64_t now, ao2_verdict_t *v)
{
    apr_size_t len = AO2_VERDICT_MAX;

    if (cache->type->get(cache, key, KEY_LEN, buf, &len) != APR_SUCCESS ||
        len > AO2_VERDICT_MAX)
        return 0;
    if (authenticated(cache)) {
        if (len < AO2_MAC_TAG_LEN ||
            !ao2_mac_verify(&ao2_global->keys, key, KEY_LEN, buf,
                            len - AO2_MAC_TAG_LEN,
                            (unsigned char *)buf + len - AO2_MAC_TAG_LEN)) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "AO2B0007: cached verdict without a valid MAC "
                          "ignored");
            return 0;
        }
        len -= AO2_MAC_TAG_LEN;
    }
    return ao2_verdict_decode(buf, len, v) && v->expires_at > now;
}

/* Concurrent first requests for one token make one lookup: the first takes
 * a short lock entry in the cache (shared by all processes, and by all
 * servers with memcache), the others wait for its verdict to appear. */
static lookup_e validate(request_rec *r, const ao2_dir_conf_t *dc,
                         const char *token, char *buf, ao2_verdict_t *v)
{
    ao2_cache_t *cache = ao2_global->cache;
    ao2_cache_t *local = ao2_global->local_cache;
    const ao2_server_conf_t *sc =
        ap_get_module_config(r->server->module_config, &api_oauth2_module);
    apr_int64_t now = (apr_int64_t)apr_time_sec(apr_time_now());
    char hash[AO2_SHA256_B64URL_LEN + 1], key[KEY_LEN + 1], lock[KEY_LEN + 1];
    apr_time_t deadline;
    lookup_e found;
    int lock_ttl = (int)(sc->http.total_timeout_ms / 1000) + 2;

    if (cache == NULL)
        return resolve(r, dc, token, now, v);
    ao2_sha256_b64url_into(token, strlen(token), hash);
    cache_key(key, KEY_VERDICT, hash);
    if (local && cached(r, local, key, buf, now, v))
        return FOUND;
    if (cached(r, cache, key, buf, now, v)) {
        if (local)
            remember(local, key, v, now, ao2_global->cache_local_ttl);
        return FOUND;
    }
    cache_key(lock, KEY_LOCK, hash);
    deadline = apr_time_now() + apr_time_from_msec(sc->http.total_timeout_ms) +
               apr_time_from_sec(1);
    while (cache->type->add(cache, lock, KEY_LEN, "1", 1, lock_ttl) ==
           APR_EEXIST) {
        if (apr_time_now() > deadline)
            break; /* the lock holder is stuck: look it up ourselves */
        apr_sleep(apr_time_from_msec(2));
        if (cached(r, cache, key, buf, now, v))
            return FOUND;
    }
    /* The previous holder may have stored its verdict just before we took
     * the lock. */
    if (cached(r, cache, key, buf, now, v))
        found = FOUND;
    else if ((found = resolve(r, dc, token, now, v)) == FOUND)
        remember(cache, key, v, now, 0);
    if (found == FOUND && local)
        remember(local, key, v, now, ao2_global->cache_local_ttl);
    cache->type->remove(cache, lock, KEY_LEN);
    return found;
}

int ao2_bearer_check(request_rec *r)
{
    const ao2_dir_conf_t *dc;
    const char *token;
    char buf[AO2_VERDICT_MAX];
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
    if (rc == 0)
        return unauthorized(r, NULL);
    if (rc < 0)
        return unauthorized(r, "invalid_token");
    switch (validate(r, dc, token, buf, &v)) {
        case TROUBLE:
            return HTTP_SERVICE_UNAVAILABLE;
        case UNKNOWN:
        case FOUND:
            break;
    }
    if (!v.valid)
        return unauthorized(r, "invalid_token");
    return pass_identity(r, dc, &v);
}

void ao2_bearer_forget(const char *access_token)
{
    char hash[AO2_SHA256_B64URL_LEN + 1], key[KEY_LEN + 1];

    if (ao2_global == NULL || ao2_global->cache == NULL || !access_token)
        return;
    ao2_sha256_b64url_into(access_token, strlen(access_token), hash);
    cache_key(key, KEY_VERDICT, hash);
    ao2_global->cache->type->remove(ao2_global->cache, key, KEY_LEN);
    if (ao2_global->local_cache)
        ao2_global->local_cache->type->remove(ao2_global->local_cache, key,
                                              KEY_LEN);
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
