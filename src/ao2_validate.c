#include "ao2_validate.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <stdarg.h>
#include <string.h>

#include "ao2_lock.h"
#include "ao2_memo.h"
#include "ao2_metrics.h"
#include "ao2_record.h"

#define KEY_VERDICT "ao2v:"
#define KEY_LEN     (5 + AO2_SHA256_B64URL_LEN) /* prefix + token hash */
#define LOCK_PREFIX "ao2l"

/* BUSY: this process has as many provider calls in flight as it may, or
 * waiting for them (503 like TROUBLE, but nothing failed: no failure is
 * remembered for the token, so it is asked again as soon as a call slot
 * is free). */
typedef enum { FOUND, UNKNOWN, TROUBLE, BUSY } lookup_e;

/* ---- bindings ----------------------------------------------------------- */

static const char *part(apr_pool_t *p, const char *buf, const char *s)
{
    return apr_psprintf(p, "%s%" APR_SIZE_T_FMT ":%s", buf, strlen(s), s);
}

/* token_validation=jwt: nothing of this provider is introspected. */
static int introspects(const ao2_provider_t *pv)
{
    return (pv->introspect_url || pv->issuer) &&
           pv->token_validation != AO2_TV_JWT;
}

/* An opaque token names no issuer: sent to one provider of several, it
 * discloses the others' tokens to it. */
static void choose_introspector(ao2_binding_t *b, const ao2_client_t *c,
                                const char *introspect_with)
{
    if (!introspects(c->provider) ||
        (introspect_with && strcmp(c->provider->name, introspect_with) != 0))
        return;
    if (b->introspector == NULL)
        b->introspector = c;
    else if (strcmp(b->introspector->provider->name, c->provider->name) != 0)
        b->introspectors_ambiguous = 1;
}

ao2_binding_t *ao2_binding_make(apr_pool_t *p,
                                const apr_array_header_t *clients,
                                const apr_array_header_t *audiences,
                                const char *login_claim, int email_verified,
                                const char *db, const char *introspect_with)
{
    ao2_binding_t *b = apr_pcalloc(p, sizeof(*b));
    const char *buf = "";
    int i;

    b->clients = clients;
    b->audiences = audiences;
    b->login_claim = login_claim;
    b->email_verified = email_verified;
    b->db = db;
    b->introspect_with = introspect_with;
    /* Length-prefixed parts: no two configurations hash alike. */
    for (i = 0; clients && i < clients->nelts; i++) {
        const ao2_client_t *c = APR_ARRAY_IDX(clients, i, ao2_client_t *);
        /* The provider's identity too: a verdict cached (in memcached)
         * before its issuer or token endpoint changed is a miss after. */
        buf = part(p, apr_pstrcat(p, buf, "c", NULL), c->provider->name);
        buf = part(p, part(p, buf, ao2_provider_identity(c->provider)),
                   c->client_id);
        choose_introspector(b, c, introspect_with);
    }
    if (b->introspectors_ambiguous && introspect_with == NULL)
        b->introspector = NULL;
    if (introspect_with)
        buf = part(p, apr_pstrcat(p, buf, "i", NULL), introspect_with);
    for (i = 0; audiences && i < audiences->nelts; i++)
        buf = part(p, apr_pstrcat(p, buf, "a", NULL),
                   APR_ARRAY_IDX(audiences, i, const char *));
    buf = part(p, apr_pstrcat(p, buf, "l", NULL), b->login_claim);
    buf = apr_pstrcat(p, buf, email_verified ? "v1" : "v0", NULL);
    if (db)
        buf = part(p, apr_pstrcat(p, buf, "d", NULL), db);
    ao2_sha256_b64url_into(buf, strlen(buf), b->id);
    return b;
}

/* The provider named provider, as configured now; provider_id NULL: by the
 * name alone. */
static int is_provider(const ao2_provider_t *pv, const char *provider,
                       const char *provider_id)
{
    return !strcmp(pv->name, provider) &&
           (provider_id == NULL ||
            !strcmp(ao2_provider_identity(pv), provider_id));
}

static int has_provider(const ao2_binding_t *b, const char *provider,
                        const char *provider_id)
{
    int i;

    for (i = 0; b->clients && i < b->clients->nelts; i++) {
        if (is_provider(APR_ARRAY_IDX(b->clients, i, ao2_client_t *)->provider,
                        provider, provider_id))
            return 1;
    }
    return 0;
}

int ao2_binding_accepts(const ao2_binding_t *b, const char *provider,
                        const char *provider_id, const char *value)
{
    int i;

    if (provider == NULL || value == NULL)
        return 0;
    for (i = 0; b->clients && i < b->clients->nelts; i++) {
        const ao2_client_t *c = APR_ARRAY_IDX(b->clients, i, ao2_client_t *);
        if (is_provider(c->provider, provider, provider_id) &&
            !strcmp(c->client_id, value))
            return 1;
    }
    /* ApiOAuth2Audience values count for the location's own providers. */
    for (i = 0; b->audiences && i < b->audiences->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(b->audiences, i, const char *), value))
            return has_provider(b, provider, provider_id);
    }
    return 0;
}

/* ---- verdicts ----------------------------------------------------------- */

static void say(const ao2_validate_env_t *env, int level, apr_status_t rv,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void say(const ao2_validate_env_t *env, int level, apr_status_t rv,
                const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    if (env->log == NULL || (env->log_level && level > env->log_level))
        return;
    va_start(ap, fmt);
    apr_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    env->log(env->log_baton, level, rv, msg);
}

static void set_str(const char **s, apr_size_t *n, const char *v)
{
    *s = v ? v : "";
    *n = strlen(*s);
}

/* A verdict from strings that may be NULL; no expiry: ApiOAuth2CacheTTL. */
static lookup_e verdict(const ao2_validate_env_t *env, const ao2_binding_t *b,
                        ao2_verdict_t *v, int valid, apr_int64_t expires_at,
                        apr_int64_t now, const char *login, const char *db,
                        const char *scope)
{
    v->valid = valid;
    v->expires_at = expires_at ? expires_at : now + env->cache_ttl;
    set_str(&v->login, &v->login_len, login);
    set_str(&v->db, &v->db_len, db);
    set_str(&v->scope, &v->scope_len, scope);
    v->binding = b->id;
    v->binding_len = AO2_SHA256_B64URL_LEN;
    return FOUND;
}

static lookup_e refuse(const ao2_validate_env_t *env, const ao2_binding_t *b,
                       ao2_verdict_t *v, apr_int64_t now)
{
    return verdict(env, b, v, 0, now + env->neg_ttl, now, NULL, NULL, NULL);
}

/* ---- tokens issued here: the store index -------------------------------- */

/* The database a token was issued for is the location's own: X-Odoo-Db
 * is never another location's. */
static int same_db(const ao2_binding_t *b, const char *db)
{
    return !strcmp(b->db ? b->db : "", db ? db : "");
}

/* The login was taken as this location takes it: from the same claim and,
 * where a verified email is required, a verified one. Entries written
 * before this was kept are judged as before (SECURITY.md). */
static int login_policy_ok(const ao2_binding_t *b, const ao2_index_t *ix)
{
    if (ix->login_claim == NULL)
        return 1;
    if (strcmp(ix->login_claim, b->login_claim) != 0)
        return 0;
    return !b->email_verified || strcmp(b->login_claim, "email") != 0 ||
           ix->email_verified;
}

/* Tokens issued here and tombstones of tokens refreshed away or revoked
 * here (and of refresh and ID tokens, never Bearer credentials). */
static lookup_e from_store(const ao2_validate_env_t *env,
                           const ao2_binding_t *b, apr_pool_t *p,
                           const char *hash, apr_int64_t now, ao2_verdict_t *v)
{
    const char *ikey = ao2_index_key_of_hash(p, hash);
    char *val;
    apr_size_t len;
    ao2_index_t ix;
    apr_status_t rv =
        ao2_store_get(env->store, env->server, ikey, p, &val, &len);

    if (APR_STATUS_IS_NOTFOUND(rv))
        return UNKNOWN;
    if (rv != APR_SUCCESS) {
        say(env, AO2_LOG_ERR, rv,
            "AO2B0003: token store lookup failed: the Bearer "
            "check answers 503; an AO2S line before says why");
        return TROUBLE;
    }
    /* Not ours to trust (forged, older format, other ApiOAuth2StoreKey): as if
     * absent, so the provider decides. */
    if (ao2_index_decode(p, env->keys, ikey, val, len, &ix) != APR_SUCCESS) {
        say(env, AO2_LOG_WARNING, 0,
            "AO2B0008: an index entry does not open (another "
            "ApiOAuth2StoreKey, an older format, or forged); the token "
            "counts as unknown");
        return UNKNOWN;
    }
    if (ix.revoked || ix.expires_at <= now)
        return refuse(env, b, v, now);
    if (ix.provider == NULL || ix.client_id == NULL) {
        say(env, AO2_LOG_INFO, 0,
            "AO2B0009: a token issued before bindings refused: the client "
            "refreshes it");
        return refuse(env, b, v, now);
    }
    if (!ao2_binding_accepts(b, ix.provider, ix.provider_id, ix.client_id)) {
        if (ao2_binding_accepts(b, ix.provider, NULL, ix.client_id))
            say(env, AO2_LOG_INFO, 0,
                "AO2B0016: a token issued to client %s by provider %s as it "
                "was configured before (issuer or token endpoint %s) refused: "
                "the client authorizes again",
                ix.client_id, ix.provider, ix.provider_id);
        else
            say(env, AO2_LOG_INFO, 0,
                "AO2B0010: a token issued to client %s of provider %s is not "
                "for this location",
                ix.client_id, ix.provider);
        return refuse(env, b, v, now);
    }
    if (!same_db(b, ix.db) || !login_policy_ok(b, &ix)) {
        say(env, AO2_LOG_INFO, 0,
            "AO2B0017: a token issued to client %s of provider %s refused: "
            "it was issued where %s",
            ix.client_id, ix.provider,
            same_db(b, ix.db) ? "the login is taken otherwise "
                                "(ApiOAuth2LoginClaim, ApiOAuth2EmailVerified)"
                              : "the Odoo database is another "
                                "(ApiOAuth2OdooDatabase)");
        return refuse(env, b, v, now);
    }
    return verdict(env, b, v, 1, ix.expires_at, now, ix.login, ix.db, ix.scope);
}

/* ---- tokens issued elsewhere: JWT, introspection, userinfo -------------- */

/* Provider calls go through env->calls (ao2_gate.h): new tokens that come
 * in a burst while the provider answers get their answer, not 503; a flood
 * of made-up tokens against a hanging provider holds the gate's places,
 * never every thread. */
static apr_status_t provider_call(const ao2_validate_env_t *env, apr_pool_t *p,
                                  const ao2_provider_t *prov,
                                  ao2_metric_endpoint_e endpoint,
                                  const char *method, const char *url,
                                  const char *auth, const char *form,
                                  ao2_http_response_t *resp, const char **why)
{
    apr_time_t start;
    apr_status_t rv;

    if (!ao2_gate_enter(&env->calls)) {
        *why = "too many provider calls at once";
        return APR_EBUSY;
    }
    start = apr_time_now();
    rv = env->http(env->http_baton, p, method, url, auth, form, resp, why);
    ao2_metrics_provider_call(prov->index, endpoint, rv,
                              rv == APR_SUCCESS ? resp->status : 0,
                              apr_time_now() - start);
    ao2_gate_leave(&env->calls);
    return rv;
}

static int names(const ao2_json_t *claims, const char *key, const char *value)
{
    return ao2_json_str_or_array_has(claims, key, value);
}

/* Its aud, azp or client_id names one of the location's clients of this
 * provider, or one of its ApiOAuth2Audience values. */
static int for_us(const ao2_binding_t *b, const ao2_provider_t *prov,
                  const ao2_json_t *claims)
{
    int i;

    for (i = 0; b->clients && i < b->clients->nelts; i++) {
        const ao2_client_t *c = APR_ARRAY_IDX(b->clients, i, ao2_client_t *);
        /* By name: prov may be the resolved copy of c->provider. */
        if (!strcmp(c->provider->name, prov->name) &&
            (names(claims, "aud", c->client_id) ||
             names(claims, "azp", c->client_id) ||
             names(claims, "client_id", c->client_id)))
            return 1;
    }
    for (i = 0; b->audiences && i < b->audiences->nelts; i++) {
        const char *a = APR_ARRAY_IDX(b->audiences, i, const char *);
        if (names(claims, "aud", a) || names(claims, "azp", a) ||
            names(claims, "client_id", a))
            return 1;
    }
    return 0;
}

/* The login claim of j, when it is a usable login and, where the location
 * asks for it, a verified email. */
static const char *login_of(apr_pool_t *p, const ao2_binding_t *b,
                            const ao2_json_t *j, int *unverified)
{
    return ao2_claim_login_checked(p, j, b->login_claim, b->email_verified,
                                   unverified);
}

/* OIDC Core §5.3: the login from userinfo, asked with the token itself.
 * FOUND with *login set (or NULL: refused), TROUBLE when it cannot say. */
static lookup_e from_userinfo(const ao2_validate_env_t *env,
                              const ao2_binding_t *b, apr_pool_t *p,
                              const ao2_provider_t *prov, const char *token,
                              const ao2_json_t *claims, const char **login,
                              int *unverified)
{
    ao2_http_response_t resp;
    const char *why = "", *sub, *info_sub;
    ao2_json_t *info;
    apr_status_t rv;

    *login = NULL;
    if (prov->userinfo_url == NULL)
        return FOUND;
    rv = provider_call(env, p, prov, AO2_ME_USERINFO, "GET", prov->userinfo_url,
                       apr_pstrcat(p, "Bearer ", token, NULL), NULL, &resp,
                       &why);
    if (rv == APR_EBUSY) {
        say(env, AO2_LOG_INFO, 0, "AO2B0015: userinfo at %s: %s", prov->name,
            why);
        return BUSY;
    }
    if (rv != APR_SUCCESS || resp.status >= 500) {
        say(env, AO2_LOG_ERR, rv,
            "AO2B0011: userinfo at %s: %s; the Bearer check "
            "answers 503 until the provider answers",
            prov->name, rv != APR_SUCCESS ? why : "HTTP 5xx");
        return TROUBLE;
    }
    if (resp.status != 200)
        return FOUND; /* the token is not good for userinfo: no login */
    info = ao2_json_parse_object(p, resp.body, resp.len, &why);
    if (info == NULL)
        return FOUND;
    /* It must describe the token's own subject (OIDC Core §5.3.2). */
    sub = ao2_json_str(claims, "sub");
    info_sub = ao2_json_str(info, "sub");
    if (sub && (info_sub == NULL || strcmp(sub, info_sub) != 0))
        return FOUND;
    *login = login_of(p, b, info, unverified);
    return FOUND;
}

/* A provider vouched for the token (JWT or introspection): whether it is
 * for this location, and who it names. */
static lookup_e vouched(const ao2_validate_env_t *env, const ao2_binding_t *b,
                        apr_pool_t *p, const ao2_provider_t *prov,
                        const char *token, const ao2_json_t *claims,
                        apr_int64_t exp, apr_int64_t now, ao2_verdict_t *v)
{
    int unverified = 0;
    const char *login;

    if (!for_us(b, prov, claims)) {
        say(env, AO2_LOG_INFO, 0,
            "AO2B0012: a token %s issued to another client refused",
            prov->name);
        return refuse(env, b, v, now);
    }
    login = login_of(p, b, claims, &unverified);
    if (login == NULL) {
        lookup_e asked =
            from_userinfo(env, b, p, prov, token, claims, &login, &unverified);
        if (asked != FOUND)
            return asked;
    }
    if (login == NULL) {
        say(env, AO2_LOG_INFO, 0,
            "AO2B0013: a token from %s refused: no %s\"%s\" claim in the "
            "answer or at userinfo",
            prov->name, unverified ? "verified " : "usable ", b->login_claim);
        return refuse(env, b, v, now);
    }
    /* Never beyond ApiOAuth2CacheTTL without asking again (verdict()). */
    return verdict(env, b, v, 1, exp, now, login, NULL,
                   ao2_claim_scope(p, claims));
}

/* RFC 7662 at the location's provider. */
static lookup_e from_introspection(const ao2_validate_env_t *env,
                                   const ao2_binding_t *b, apr_pool_t *p,
                                   const char *token, apr_int64_t now,
                                   ao2_verdict_t *v)
{
    const ao2_client_t *c = b->introspector;
    const ao2_provider_t *prov;
    const char *form, *auth, *why = "";
    ao2_http_response_t resp;
    ao2_introspection_t in;
    ao2_err_t *err;
    apr_status_t rv;

    if (c == NULL) {
        if (b->introspectors_ambiguous)
            say(env, AO2_LOG_INFO, 0,
                "AO2B0018: an opaque token refused without introspection: "
                "several providers of this location introspect and "
                "ApiOAuth2IntrospectWith names none");
        return UNKNOWN;
    }
    prov = env->resolve ? env->resolve(env->resolve_baton, p, c->provider)
                        : c->provider;
    if (prov == NULL)
        return TROUBLE; /* its discovery document cannot be had now */
    if (prov->introspect_url == NULL)
        return UNKNOWN;
    form = ao2_form_add(p, NULL, "token", token);
    form = ao2_form_add(p, form, "token_type_hint", "access_token");
    auth = ao2_client_credentials(p, c, &form);
    rv = provider_call(env, p, prov, AO2_ME_INTROSPECT, "POST",
                       prov->introspect_url, auth, form, &resp, &why);
    if (rv == APR_EBUSY) {
        say(env, AO2_LOG_INFO, 0, "AO2B0015: introspection at %s: %s",
            c->provider->name, why);
        return BUSY;
    }
    if (rv != APR_SUCCESS) {
        say(env, AO2_LOG_ERR, rv,
            "AO2B0004: introspection at %s: %s; the Bearer "
            "check answers 503 until the provider answers",
            c->provider->name, why);
        return TROUBLE;
    }
    err = ao2_parse_introspection(
        p, resp.status, resp.body, resp.len, b->login_claim,
        c->provider->introspect_requires_token_type, now, &in);
    if (err) {
        /* The code only: some providers echo the token in descriptions. */
        say(env, AO2_LOG_ERR, 0, "AO2B0005: introspection at %s: HTTP %d, %s",
            c->provider->name, resp.status, err->code);
        return TROUBLE;
    }
    if (!in.active)
        return UNKNOWN;
    return vouched(env, b, p, prov, token, in.claims, in.expires_at, now, v);
}

static lookup_e from_provider(const ao2_validate_env_t *env,
                              const ao2_binding_t *b, apr_pool_t *p,
                              const char *token, apr_int64_t now,
                              ao2_verdict_t *v)
{
    const ao2_json_t *claims = NULL;
    const ao2_provider_t *issuer = NULL;
    apr_int64_t exp = 0;

    if (env->jwt) {
        switch (env->jwt(env->jwt_baton, p, b, token, now, &claims, &exp,
                         &issuer)) {
            case AO2_JWT_VALID:
                return vouched(env, b, p, issuer, token, claims, exp, now, v);
            case AO2_JWT_INVALID:
                return refuse(env, b, v, now);
            case AO2_JWT_TROUBLE:
                return TROUBLE;
            case AO2_JWT_BUSY:
                return BUSY;
            case AO2_JWT_PASS:
                break;
        }
    }
    return from_introspection(env, b, p, token, now, v);
}

/* Not issued here: the provider decides, and what it does not vouch for is
 * refused. */
static lookup_e from_elsewhere(const ao2_validate_env_t *env,
                               const ao2_binding_t *b, apr_pool_t *p,
                               const char *token, apr_int64_t now,
                               ao2_verdict_t *v)
{
    lookup_e found = from_provider(env, b, p, token, now, v);

    return found == UNKNOWN ? refuse(env, b, v, now) : found;
}

/* hash: the token's SHA-256 in base64url, made once per check. */
static lookup_e resolve(const ao2_validate_env_t *env, const ao2_binding_t *b,
                        apr_pool_t *p, const char *token, const char *hash,
                        apr_int64_t now, ao2_verdict_t *v)
{
    lookup_e found = from_store(env, b, p, hash, now, v);

    return found == UNKNOWN ? from_elsewhere(env, b, p, token, now, v) : found;
}

/* ---- the cache ---------------------------------------------------------- */

/* prefix + base64url SHA-256 of the token: never the token itself. */
static void cache_key(char *out, const char *prefix, const char *hash)
{
    memcpy(out, prefix, KEY_LEN - AO2_SHA256_B64URL_LEN);
    memcpy(out + KEY_LEN - AO2_SHA256_B64URL_LEN, hash,
           AO2_SHA256_B64URL_LEN + 1);
}

/* Each cached verdict starts with a stamp: in a node-local cache the
 * revocation log's epoch (4 bytes) when it was made, in memcached its
 * generation (8 bytes), so that a copy made before a revoke this node has
 * learned is never trusted unchecked (ao2_revlog.h). */
#define STAMP_LOCAL  4
#define STAMP_SHARED 8

static apr_size_t stamp_len(const ao2_cache_t *cache)
{
    return cache->type->shared ? STAMP_SHARED : STAMP_LOCAL;
}

static void stamp_put(char *buf, apr_size_t n, apr_uint64_t v)
{
    apr_size_t i;

    for (i = 0; i < n; i++)
        buf[i] = (char)((v >> (8 * (n - 1 - i))) & 0xff);
}

static apr_uint64_t stamp_get(const char *buf, apr_size_t n)
{
    apr_uint64_t v = 0;
    apr_size_t i;

    for (i = 0; i < n; i++)
        v = (v << 8) | (unsigned char)buf[i];
    return v;
}

/* The node-local tier that counts forgets (ao2_cache.h): shm, or
 * memcache's node-local copy; NULL when none does. */
static ao2_cache_t *forget_counter(const ao2_validate_env_t *env)
{
    if (env->cache && env->cache->type->forgets)
        return env->cache;
    if (env->local_cache && env->local_cache->type->forgets)
        return env->local_cache;
    return NULL;
}

/* Taken before any lookup, for the memo (ao2_memo.h) and for every cache
 * write of the check: what had been forgotten, and which tombstones
 * learned, when it began. */
static void stamp_take(const ao2_validate_env_t *env, const ao2_binding_t *b,
                       const ao2_revlog_view_t *view, ao2_memo_stamp_t *st)
{
    ao2_cache_t *counter = forget_counter(env);

    st->binding = b->id;
    st->forgets = counter ? counter->type->forgets(counter, 0) : 0;
    st->epoch = view ? view->epoch : 0;
}

/* A revoke or refresh on this node forgot a verdict since st was taken:
 * what the check read before may be what it buried. A tombstone learned
 * from the revocation log is not asked here: learned tombstones come before
 * any memcached verdict, and a node-local copy carries the epoch of st,
 * stale once one was learned. Asking it made every check in flight while
 * the log was read (any tombstone, any gap) skip its write, and the waiters
 * of a single flight look the token up again (t/25: two introspections). */
static int stamp_moved(const ao2_validate_env_t *env,
                       const ao2_memo_stamp_t *st)
{
    ao2_cache_t *counter = forget_counter(env);

    return counter && counter->type->forgets(counter, 0) != st->forgets;
}

/* A cache that other machines can write (memcached) could hand back any
 * bytes: there a verdict carries a truncated HMAC over the cache key and
 * the verdict, so that a forged or moved one is a miss. The node-local shm
 * cache is as trusted as this process and does without.
 *
 * Nothing is written once st moved: a verdict reached from a lookup made
 * before a revoke's forget would otherwise be put back after it, good
 * until the cache TTL. A forget that moves st after the look below may
 * have removed before the set: its count moves before and after its
 * removes (ao2_validate_forget), so the look after the set sees it. */
static void remember(const ao2_validate_env_t *env, ao2_cache_t *cache,
                     const char *key, const ao2_verdict_t *v, apr_int64_t now,
                     int max_ttl, const ao2_revlog_view_t *view,
                     const ao2_memo_stamp_t *st)
{
    char buf[AO2_VERDICT_MAX];
    int mac = cache->type->shared;
    apr_size_t sl = stamp_len(cache);
    ao2_verdict_t kept = *v;
    apr_int64_t ttl = v->valid ? env->cache_ttl : env->neg_ttl;
    apr_size_t len;

    if (max_ttl > 0 && ttl > max_ttl)
        ttl = max_ttl;
    /* Never beyond the token's own expiry. */
    if (v->expires_at - now < ttl)
        ttl = v->expires_at - now;
    if (ttl <= 0)
        return;
    /* The value itself ends with its TTL: written back into memcached
     * after a revoke (a rollback), it is good for what is left of that TTL
     * at most, not until the token's own expiry. */
    kept.expires_at = now + ttl;
    stamp_put(buf, sl, view ? (mac ? view->gen : view->epoch) : 0);
    len = ao2_verdict_encode(&kept, buf + sl,
                             sizeof(buf) - sl - (mac ? AO2_MAC_TAG_LEN : 0));
    if (len == 0)
        return;
    len += sl;
    if (mac) {
        if (ao2_mac(env->keys, AO2_MAC_VERDICT, key, KEY_LEN, buf, len,
                    (unsigned char *)buf + len) != APR_SUCCESS)
            return;
        len += AO2_MAC_TAG_LEN;
    }
    if (stamp_moved(env, st))
        return;
    cache->type->set(cache, key, KEY_LEN, buf, len, (int)ttl);
    if (stamp_moved(env, st))
        cache->type->remove(cache, key, KEY_LEN);
}

/* A verdict of this binding, unexpired, from cache (no allocation), and
 * its stamp. */
static int cached(const ao2_validate_env_t *env, ao2_cache_t *cache,
                  const ao2_binding_t *b, const char *key, char *buf,
                  apr_int64_t now, ao2_verdict_t *v, apr_uint64_t *stamp)
{
    apr_size_t len = AO2_VERDICT_MAX, sl = stamp_len(cache);

    if (cache->type->get(cache, key, KEY_LEN, buf, &len) != APR_SUCCESS ||
        len > AO2_VERDICT_MAX)
        return 0;
    if (cache->type->shared) {
        if (len < AO2_MAC_TAG_LEN ||
            !ao2_mac_verify(env->keys, AO2_MAC_VERDICT, key, KEY_LEN, buf,
                            len - AO2_MAC_TAG_LEN,
                            (unsigned char *)buf + len - AO2_MAC_TAG_LEN)) {
            say(env, AO2_LOG_DEBUG, 0,
                "AO2B0007: cached verdict without a valid MAC ignored");
            return 0;
        }
        len -= AO2_MAC_TAG_LEN;
    }
    if (len < sl)
        return 0;
    *stamp = stamp_get(buf, sl);
    return ao2_verdict_decode(buf + sl, len - sl, v) && v->expires_at > now &&
           v->binding_len == AO2_SHA256_B64URL_LEN &&
           memcmp(v->binding, b->id, AO2_SHA256_B64URL_LEN) == 0;
}

/* From memcached: a valid verdict not when made before something this
 * node could not learn (ao2_revlog.h's floor); a rejection always (an old
 * one refuses, it never lets anything in). The tombstones are checked
 * before. */
static int shared_hit(const ao2_validate_env_t *env, const ao2_binding_t *b,
                      const char *key, char *buf, apr_int64_t now,
                      const ao2_revlog_view_t *view, ao2_verdict_t *v)
{
    apr_uint64_t gen = 0;

    return cached(env, env->cache, b, key, buf, now, v, &gen) &&
           (view == NULL || !v->valid || gen >= view->floor);
}

/* From the node-local copy, when the revocation log was read lately and
 * no tombstone was learned since the copy was made, or none names this
 * token: the hit path of a memcache cache, without a round trip. */
static int local_hit(const ao2_validate_env_t *env, const ao2_binding_t *b,
                     const char *key, const char *hash, char *buf,
                     apr_int64_t now, const ao2_revlog_view_t *view,
                     ao2_verdict_t *v)
{
    apr_uint64_t epoch = 0;

    if (view && !view->fresh)
        return 0;
    if (!cached(env, env->local_cache, b, key, buf, now, v, &epoch))
        return 0;
    return view == NULL || (epoch >= view->flushed &&
                            (epoch == view->epoch ||
                             !ao2_revlog_buried(env->revlog, hash, now)));
}

typedef struct waiting {
    const ao2_validate_env_t *env;
    const ao2_binding_t *b;
    const char *key;
    char *buf;
    apr_int64_t now;
    const ao2_revlog_view_t *view;
    ao2_verdict_t *v;
    int found;
} waiting_t;

static int verdict_appeared(void *baton)
{
    waiting_t *w = baton;

    return w->found =
               shared_hit(w->env, w->b, w->key, w->buf, w->now, w->view, w->v);
}

static void log_revlog(void *baton, int level, apr_status_t rv, const char *msg)
{
    const ao2_validate_env_t *env = baton;

    if (env->log)
        env->log(env->log_baton, level, rv, msg);
}

static apr_time_t now_us(const ao2_validate_env_t *env, apr_int64_t now)
{
    return env->now_us ? env->now_us : apr_time_from_sec(now);
}

/* Concurrent first requests for one token not issued here make one
 * provider lookup: the first takes the token's lock (ao2_lock.c), the
 * others wait for its verdict to appear. A waiter that gives up looks the
 * token up itself. A lookup that failed (provider trouble) is left in the
 * lock for a moment: the callers meanwhile answer 503 at once instead of
 * asking again. The store is read before, without the lock.
 *
 * With a revocation log, a tombstone this node learned comes before
 * anything memcached or the store says: a verdict or an index entry put
 * back there after a revoke is never believed. */
static lookup_e single_flight(const ao2_validate_env_t *env,
                              const ao2_binding_t *b, apr_pool_t *p,
                              const char *token, const char *hash,
                              apr_int64_t now, const ao2_revlog_view_t *view,
                              const ao2_memo_stamp_t *st, char *buf,
                              ao2_verdict_t *v)
{
    ao2_cache_t *cache = env->cache, *local = env->local_cache;
    char key[KEY_LEN + 1];
    waiting_t w = {env, b, key, buf, now, view, v, 0};
    ao2_lock_t lk;
    lookup_e found;

    cache_key(key, KEY_VERDICT, hash);
    /* One hit or miss per tier asked; the look after the lock below is
     * part of this miss. */
    if (local) {
        if (local_hit(env, b, key, hash, buf, now, view, v)) {
            ao2_metrics_cache(local->type->tier, AO2_MC_HIT);
            return FOUND;
        }
        ao2_metrics_cache(local->type->tier, AO2_MC_MISS);
    }
    if (view && ao2_revlog_buried(env->revlog, hash, now))
        return refuse(env, b, v, now);
    if (shared_hit(env, b, key, buf, now, view, v)) {
        ao2_metrics_cache(cache->type->tier, AO2_MC_HIT);
        if (local)
            remember(env, local, key, v, now, env->local_ttl, view, st);
        return FOUND;
    }
    ao2_metrics_cache(cache->type->tier, AO2_MC_MISS);
    /* A token issued here is answered by the store, which calls no
     * provider: concurrent first requests each read it, without the lock
     * (a MAC, a cache write and a removal a first-seen token spent). */
    if ((found = from_store(env, b, p, hash, now, v)) != UNKNOWN) {
        if (found == FOUND) {
            remember(env, cache, key, v, now, 0, view, st);
            if (local)
                remember(env, local, key, v, now, env->local_ttl, view, st);
        }
        return found;
    }
    ao2_lock_key(&lk, env->keys, LOCK_PREFIX, token, strlen(token));
    ao2_lock_take(cache, &lk, env->lock_ttl, env->lock_wait, verdict_appeared,
                  &w);
    if (w.found)
        return FOUND;
    if (lk.failed) {
        say(env, AO2_LOG_INFO, 0,
            "AO2B0014: this token's lookup failed a moment ago: 503");
        return TROUBLE;
    }
    /* The previous holder may have stored its verdict just before we took
     * the lock. */
    if (shared_hit(env, b, key, buf, now, view, v))
        found = FOUND;
    else if ((found = from_elsewhere(env, b, p, token, now, v)) == FOUND)
        remember(env, cache, key, v, now, 0, view, st);
    if (found == FOUND && local)
        remember(env, local, key, v, now, env->local_ttl, view, st);
    ao2_lock_release(cache, &lk, found == TROUBLE ? 503 : 0, env->fail_ttl);
    return found;
}

/* Whatever the source, what reaches Odoo as headers is clean. */
static int no_controls(const char *s, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    }
    return 1;
}

/* The node-local tier a connection's memo may stand in for: the shm
 * cache, or memcache's node-local copy while the revocation log is read;
 * NULL when the answer would come from memcached (only it knows a revoke
 * elsewhere) or the tier cannot count its forgets. */
static ao2_cache_t *memo_tier(const ao2_validate_env_t *env,
                              const ao2_revlog_view_t *view)
{
    ao2_cache_t *tier;

    if (env->memo == NULL || env->cache == NULL)
        return NULL;
    if (view)
        tier = view->fresh && view->epoch >= view->flushed ? env->local_cache
                                                           : NULL;
    else
        tier = env->cache->type->shared ? NULL : env->cache;
    return tier && tier->type->forgets ? tier : NULL;
}

ao2_outcome_e ao2_validate(const ao2_validate_env_t *env,
                           const ao2_binding_t *b, apr_pool_t *p,
                           const char *token, apr_int64_t now, char *buf,
                           ao2_verdict_t *v)
{
    char hash[AO2_SHA256_B64URL_LEN + 1];
    apr_size_t len = strlen(token);
    ao2_revlog_view_t seen, *view = NULL;
    ao2_memo_stamp_t stamp;
    ao2_cache_t *tier;
    lookup_e found;

    if (env->cache && env->revlog) {
        ao2_revlog_view(env->revlog, now_us(env, now), log_revlog, (void *)env,
                        &seen);
        view = &seen;
    }
    /* Read before any lookup: a forget or a tombstone learned while this
     * check runs leaves the memo it makes stale, and its verdict out of
     * the caches. */
    stamp_take(env, b, view, &stamp);
    if ((tier = memo_tier(env, view)) != NULL) {
        if (ao2_memo_get(env->memo, &stamp, token, len, now, v)) {
            ao2_metrics_cache(tier->type->tier, AO2_MC_HIT);
            return AO2_TOKEN_VALID;
        }
    }
    ao2_sha256_b64url_into(token, len, hash);
    found = env->cache ? single_flight(env, b, p, token, hash, now, view,
                                       &stamp, buf, v)
                       : resolve(env, b, p, token, hash, now, v);
    if (found == TROUBLE || found == BUSY)
        return AO2_TOKEN_TROUBLE;
    if (!v->valid)
        return AO2_TOKEN_INVALID;
    if (!ao2_login_ok(v->login, v->login_len) ||
        !no_controls(v->db, v->db_len) ||
        !no_controls(v->scope, v->scope_len)) {
        say(env, AO2_LOG_ERR, 0,
            "AO2B0002: an identity with spaces at the ends or control "
            "characters refused");
        return AO2_TOKEN_INVALID;
    }
    if (tier)
        ao2_memo_put(env->memo, &stamp, token, len, now, v);
    return AO2_TOKEN_VALID;
}

static void forgets_advance(const ao2_validate_env_t *env)
{
    if (env->local_cache && env->local_cache->type->forgets)
        env->local_cache->type->forgets(env->local_cache, 1);
    if (env->cache->type->forgets)
        env->cache->type->forgets(env->cache, 1);
}

void ao2_validate_forget(const ao2_validate_env_t *env, const char *token,
                         apr_int64_t until, int cluster)
{
    char hash[AO2_SHA256_B64URL_LEN + 1], key[KEY_LEN + 1];

    if (env->cache == NULL || token == NULL)
        return;
    ao2_sha256_b64url_into(token, strlen(token), hash);
    cache_key(key, KEY_VERDICT, hash);
    /* Before the removes as well as after: a check that cached its verdict
     * just after a remove sees one of the two moves (remember()). */
    forgets_advance(env);
    if (env->local_cache)
        env->local_cache->type->remove(env->local_cache, key, KEY_LEN);
    env->cache->type->remove(env->cache, key, KEY_LEN);
    /* After the removes: a check that read the count before them makes a
     * memo that is stale at once (ao2_memo.h). */
    forgets_advance(env);
    /* After the delete: a server that reads memcached misses at once; one
     * that answers from its local copy learns it from the log. */
    if (env->revlog && cluster)
        ao2_revlog_bury(env->revlog, hash, until,
                        env->now_us ? env->now_us : apr_time_now(), log_revlog,
                        (void *)env);
}
