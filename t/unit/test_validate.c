/* ao2_validate: the whole Bearer decision with a fake cache, a fake token
 * store and a fake provider that count what they are asked. Every finding
 * of issue 7 on the Bearer side is a row here. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "ao2_lock.h"
#include "ao2_memo.h"
#include "ao2_record.h"
#include "ao2_validate.h"
#include "tap.h"

#define NOW  ((apr_int64_t)1700000000)
#define TOK  "foreign-token-1"
#define ITOK "issued-token-1"
/* ApiOAuth2OdooDatabase of the bindings, and of the tokens issued at A. */
#define DB "testdb"
/* The identity of provider op (no issuer): its token endpoint. */
#define OP_ID "https://op/token"

/* ---- fake cache: a hash in a pool, with counters ------------------------ */

typedef struct fake_cache {
    ao2_cache_t base;
    apr_pool_t *p;
    apr_hash_t *h;
    int gets, sets, removes, last_ttl, incrs, down;
    /* put_new (a log entry) fails as with memcached timing out. */
    int put_new_fails;
    /* The forget count; another process's forget during a lookup: it moves
     * on the get numbered forget_at_get. */
    int forgets, forget_at_get;
    /* Another process's verdict: appears under pending_key on a get once
     * gets reaches pending_at (a lock holder finishing). */
    const char *pending_key, *pending_val;
    apr_size_t pending_len;
    int pending_at;
} fake_cache_t;

typedef struct {
    apr_size_t len;
    char bytes[AO2_CACHE_MAX_VALUE];
} entry_t;

static void put(fake_cache_t *fc, const char *key, apr_size_t klen,
                const char *val, apr_size_t len)
{
    entry_t *e = apr_pcalloc(fc->p, sizeof(*e));

    e->len = len;
    memcpy(e->bytes, val, len);
    apr_hash_set(fc->h, apr_pstrmemdup(fc->p, key, klen), klen, e);
}

static apr_status_t fc_get(ao2_cache_t *c, const char *key, apr_size_t klen,
                           char *buf, apr_size_t *len)
{
    fake_cache_t *fc = (fake_cache_t *)c;
    entry_t *e;

    fc->gets++;
    if (fc->forget_at_get && fc->gets == fc->forget_at_get)
        fc->forgets++;
    if (fc->down)
        return APR_NOTFOUND;
    if (fc->pending_key && fc->gets >= fc->pending_at &&
        strlen(fc->pending_key) == klen && !memcmp(fc->pending_key, key, klen))
        put(fc, key, klen, fc->pending_val, fc->pending_len);
    e = apr_hash_get(fc->h, key, klen);
    if (e == NULL || e->len > *len)
        return APR_NOTFOUND;
    memcpy(buf, e->bytes, e->len);
    *len = e->len;
    return APR_SUCCESS;
}

static apr_status_t fc_set(ao2_cache_t *c, const char *key, apr_size_t klen,
                           const char *val, apr_size_t len, int ttl)
{
    fake_cache_t *fc = (fake_cache_t *)c;

    fc->sets++;
    fc->last_ttl = ttl;
    put(fc, key, klen, val, len);
    return APR_SUCCESS;
}

static apr_status_t fc_remove(ao2_cache_t *c, const char *key, apr_size_t klen)
{
    fake_cache_t *fc = (fake_cache_t *)c;

    fc->removes++;
    apr_hash_set(fc->h, key, klen, NULL);
    return APR_SUCCESS;
}

static apr_status_t fc_add(ao2_cache_t *c, const char *key, apr_size_t klen,
                           const char *val, apr_size_t len, int ttl)
{
    fake_cache_t *fc = (fake_cache_t *)c;

    if (apr_hash_get(fc->h, key, klen))
        return APR_EEXIST;
    put(fc, key, klen, val, len);
    return APR_SUCCESS;
}

/* memcached's incr with an initial value: decimal text under key, 64 bits
 * that wrap past 2^64 - 1 as memcached's do. */
static apr_status_t fc_incr(ao2_cache_t *c, const char *key, apr_size_t klen,
                            apr_uint64_t delta, apr_uint64_t initial,
                            apr_uint64_t *value)
{
    fake_cache_t *fc = (fake_cache_t *)c;
    entry_t *e = apr_hash_get(fc->h, key, klen);
    char num[32];
    apr_uint64_t v = initial;

    fc->incrs++;
    if (fc->down)
        return APR_EGENERAL;
    if (e) {
        memcpy(num, e->bytes, e->len < 31 ? e->len : 31);
        num[e->len < 31 ? e->len : 31] = '\0';
        v = (apr_uint64_t)strtoull(num, NULL, 10) + delta;
    }
    apr_snprintf(num, sizeof(num), "%" APR_UINT64_T_FMT, v);
    put(fc, key, klen, num, strlen(num));
    *value = v;
    return APR_SUCCESS;
}

static apr_status_t fc_put_new(ao2_cache_t *c, const char *key, apr_size_t klen,
                               const char *val, apr_size_t len, int ttl)
{
    if (((fake_cache_t *)c)->put_new_fails)
        return APR_EGENERAL;
    return fc_add(c, key, klen, val, len, ttl);
}

static const ao2_cache_type_t fake_shared = {
    "fake",  NULL,       NULL,   NULL, fc_get,
    fc_set,  fc_remove,  fc_add, 1,    AO2_MT_MEMCACHE,
    fc_incr, fc_put_new, NULL};
static apr_uint32_t fc_forgets(ao2_cache_t *c, int advance)
{
    fake_cache_t *fc = (fake_cache_t *)c;

    return (apr_uint32_t)(advance ? ++fc->forgets : fc->forgets);
}

/* A node-local cache (shm): no MAC, no log, a forget count. */
static const ao2_cache_type_t fake_local = {
    "fake-local", NULL, NULL,       NULL, fc_get, fc_set,    fc_remove,
    fc_add,       0,    AO2_MT_SHM, NULL, NULL,   fc_forgets};

static int has_key(fake_cache_t *fc, const char *key)
{
    return apr_hash_get(fc->h, key, APR_HASH_KEY_STRING) != NULL;
}

/* ---- fake store: index entries sealed with the test keys ---------------- */

typedef struct fake_store {
    ao2_store_t base;
    apr_pool_t *p;
    apr_hash_t *h;
    int gets, down;
    /* Runs once a get has read its value: another process's revoke while
     * a check holds the entry it read before. */
    void (*after_get)(void *baton);
    void *after_get_baton;
} fake_store_t;

static apr_status_t fs_get(ao2_store_t *st, struct server_rec *s,
                           const char *key, apr_pool_t *p, char **val,
                           apr_size_t *len)
{
    fake_store_t *fs = (fake_store_t *)st;
    const char *v;

    fs->gets++;
    if (fs->down)
        return APR_EGENERAL;
    v = apr_hash_get(fs->h, key, APR_HASH_KEY_STRING);
    if (v == NULL)
        return APR_NOTFOUND;
    *val = apr_pstrdup(p, v);
    *len = strlen(v);
    if (fs->after_get) {
        void (*once)(void *) = fs->after_get;
        fs->after_get = NULL;
        once(fs->after_get_baton);
    }
    return APR_SUCCESS;
}

static const ao2_store_type_t fake_store_type = {
    "fake", NULL, NULL, NULL, fs_get, NULL, NULL, NULL, NULL, NULL, NULL};

/* ---- fake provider ------------------------------------------------------ */

typedef struct fake_provider {
    int introspections, userinfos;
    apr_status_t fail; /* returned for every call when set */
    int introspect_status, userinfo_status;
    const char *introspect_body, *userinfo_body;
    const char *last_auth, *last_url;
} fake_provider_t;

static apr_status_t fake_http(void *baton, apr_pool_t *p, const char *method,
                              const char *url, const char *authorization,
                              const char *form, ao2_http_response_t *out,
                              const char **why)
{
    fake_provider_t *fp = baton;
    int introspect = strstr(url, "/introspect") != NULL;
    const char *body = introspect ? fp->introspect_body : fp->userinfo_body;

    if (introspect)
        fp->introspections++;
    else
        fp->userinfos++;
    fp->last_auth = authorization;
    fp->last_url = url;
    memset(out, 0, sizeof(*out));
    if (fp->fail) {
        *why = "fake failure";
        return fp->fail;
    }
    out->status = introspect ? fp->introspect_status : fp->userinfo_status;
    out->body = apr_pstrdup(p, body ? body : "");
    out->len = strlen(out->body);
    return APR_SUCCESS;
}

/* ---- the world each case runs in ---------------------------------------- */

typedef struct world {
    apr_pool_t *p;
    ao2_keys_t keys;
    fake_cache_t cache;
    fake_store_t store;
    fake_provider_t prov;
    ao2_validate_env_t env;
    ao2_provider_t op, other;
    ao2_client_t c1, c2, c3;
    /* A: op/api-client; B: op/other-client; C: other/api-client; AUD: A
     * plus ApiOAuth2Audience urn:odoo; SUB: A with login claim sub; OPT: A
     * with ApiOAuth2EmailVerified optional; all with ApiOAuth2OdooDatabase
     * testdb. OTHERDB: A with otherdb; NODB: A without a database. */
    const ao2_binding_t *a, *b, *c, *aud, *sub, *opt, *otherdb, *nodb;
    char last_log[256];
    int logs;
} world_t;

static void capture_log(void *baton, int level, apr_status_t rv,
                        const char *msg)
{
    world_t *w = baton;

    apr_cpystrn(w->last_log, msg, sizeof(w->last_log));
    w->logs++;
}

static const apr_array_header_t *clients(apr_pool_t *p, ao2_client_t *c)
{
    apr_array_header_t *a = apr_array_make(p, 1, sizeof(ao2_client_t *));

    APR_ARRAY_PUSH(a, ao2_client_t *) = c;
    return a;
}

static void provider(ao2_provider_t *pv, const char *name, const char *base,
                     apr_pool_t *p)
{
    memset(pv, 0, sizeof(*pv));
    pv->name = name;
    pv->introspect_url = apr_pstrcat(p, base, "/introspect", NULL);
    pv->userinfo_url = apr_pstrcat(p, base, "/userinfo", NULL);
    pv->token_url = apr_pstrcat(p, base, "/token", NULL);
}

static world_t *world(apr_pool_t *p)
{
    world_t *w = apr_pcalloc(p, sizeof(*w));
    unsigned char master[32];
    apr_array_header_t *auds = apr_array_make(p, 1, sizeof(const char *));

    w->p = p;
    memset(master, 0x42, sizeof(master));
    ao2_keys_derive(&w->keys, master, sizeof(master));
    w->cache.base.type = &fake_shared;
    w->cache.p = p;
    w->cache.h = apr_hash_make(p);
    w->store.base.type = &fake_store_type;
    w->store.p = p;
    w->store.h = apr_hash_make(p);
    w->prov.introspect_status = 200;
    w->prov.userinfo_status = 200;
    w->prov.introspect_body = "{\"active\":false}";
    w->prov.userinfo_body = "{}";
    provider(&w->op, "op", "https://op", p);
    provider(&w->other, "other", "https://other", p);
    w->c1 = (ao2_client_t){&w->op, "api-client", "s1", NULL, NULL};
    w->c2 = (ao2_client_t){&w->op, "other-client", "s2", NULL, NULL};
    w->c3 = (ao2_client_t){&w->other, "api-client", "s3", NULL, NULL};
    APR_ARRAY_PUSH(auds, const char *) = "urn:odoo";
    w->a = ao2_binding_make(p, clients(p, &w->c1), NULL, "email", 1, DB, NULL);
    w->b = ao2_binding_make(p, clients(p, &w->c2), NULL, "email", 1, DB, NULL);
    w->c = ao2_binding_make(p, clients(p, &w->c3), NULL, "email", 1, DB, NULL);
    w->aud =
        ao2_binding_make(p, clients(p, &w->c1), auds, "email", 1, DB, NULL);
    w->sub = ao2_binding_make(p, clients(p, &w->c1), NULL, "sub", 1, DB, NULL);
    w->opt =
        ao2_binding_make(p, clients(p, &w->c1), NULL, "email", 0, DB, NULL);
    w->otherdb = ao2_binding_make(p, clients(p, &w->c1), NULL, "email", 1,
                                  "otherdb", NULL);
    w->nodb =
        ao2_binding_make(p, clients(p, &w->c1), NULL, "email", 1, NULL, NULL);

    w->env.store = &w->store.base;
    w->env.keys = &w->keys;
    w->env.cache = &w->cache.base;
    w->env.cache_ttl = 300;
    w->env.neg_ttl = 60;
    w->env.lock_ttl = 5;
    w->env.lock_wait = apr_time_from_msec(30);
    w->env.fail_ttl = 2;
    w->env.http = fake_http;
    w->env.http_baton = &w->prov;
    w->env.log = capture_log;
    w->env.log_baton = w;
    return w;
}

static void put_index(world_t *w, const char *token, const ao2_index_t *ix)
{
    const char *ikey = ao2_index_key(w->p, token);
    apr_size_t len;
    char *val = ao2_index_encode(w->p, &w->keys, ikey, ix, &len);

    apr_hash_set(w->store.h, ikey, APR_HASH_KEY_STRING, val);
}

static ao2_index_t issued(void)
{
    ao2_index_t ix = {
        "t:rec", "kate@example.com", DB,    "openid email", NOW + 600, 0,
        "op",    "api-client",       OP_ID, "email",        1};
    return ix;
}

/* A world where ITOK was issued at A (op/api-client). */
static world_t *issued_world(apr_pool_t *p)
{
    world_t *w = world(p);
    ao2_index_t ix = issued();

    put_index(w, ITOK, &ix);
    return w;
}

typedef struct result {
    ao2_outcome_e outcome;
    ao2_verdict_t v;
    char buf[AO2_VERDICT_MAX];
} result_t;

static ao2_outcome_e check_at(world_t *w, const ao2_binding_t *b,
                              const char *token, apr_int64_t now, result_t *r)
{
    r->outcome = ao2_validate(&w->env, b, w->p, token, now, r->buf, &r->v);
    return r->outcome;
}

static ao2_outcome_e check(world_t *w, const ao2_binding_t *b,
                           const char *token, result_t *r)
{
    return check_at(w, b, token, NOW, r);
}

static const char *login(apr_pool_t *p, const result_t *r)
{
    return r->outcome == AO2_TOKEN_VALID
               ? apr_pstrmemdup(p, r->v.login, r->v.login_len)
               : NULL;
}

/* ---- foreign tokens: introspection and userinfo, one row each ----------- */

#define ACTIVE "{\"active\":true,\"token_type\":\"Bearer\","
#define EXP    "\"exp\":1700000600"

static void foreign_rows(apr_pool_t *p)
{
    static const struct {
        const char *name;
        int binding; /* 0 A, 1 B, 2 AUD, 3 SUB, 4 OPT */
        const char *introspect, *userinfo;
        int userinfo_status;
        ao2_outcome_e want;
        const char *want_login;
        int want_userinfo; /* calls */
    } rows[] = {
        {"valid, login from the answer", 0,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"k\","
                    "\"email\":\"kate@x\",\"email_verified\":true}",
         NULL, 200, AO2_TOKEN_VALID, "kate@x", 0},
        {"inactive", 0, "{\"active\":false}", NULL, 200, AO2_TOKEN_INVALID,
         NULL, 0},
        {"expired", 0,
         ACTIVE "\"exp\":1699999999,\"client_id\":\"api-client\","
                "\"email\":\"k@x\",\"email_verified\":true}",
         NULL, 200, AO2_TOKEN_INVALID, NULL, 0},
        {"a refresh token is no Bearer credential", 0,
         "{\"active\":true,\"token_type\":\"refresh_token\"," EXP
         ",\"client_id\":\"api-client\",\"email\":\"k@x\","
         "\"email_verified\":true}",
         NULL, 200, AO2_TOKEN_INVALID, NULL, 0},
        {"an ID token is no Bearer credential", 0,
         "{\"active\":true,\"token_type\":\"id_token\"," EXP
         ",\"aud\":\"api-client\",\"email\":\"k@x\",\"email_verified\":true}",
         NULL, 200, AO2_TOKEN_INVALID, NULL, 0},
        /* Finding: foreign tokens were not checked for audience. */
        {"issued to another client of the provider", 0,
         ACTIVE EXP ",\"client_id\":\"rs-client\",\"email\":\"k@x\","
                    "\"email_verified\":true}",
         NULL, 200, AO2_TOKEN_INVALID, NULL, 0},
        {"no client_id, aud or azp at all", 0,
         ACTIVE EXP ",\"email\":\"k@x\",\"email_verified\":true}", NULL, 200,
         AO2_TOKEN_INVALID, NULL, 0},
        {"aud lists us", 0,
         ACTIVE EXP
         ",\"client_id\":\"rs-client\",\"aud\":[\"x\","
         "\"api-client\"],\"email\":\"k@x\",\"email_verified\":true}",
         NULL, 200, AO2_TOKEN_VALID, "k@x", 0},
        {"azp names us", 0,
         ACTIVE EXP ",\"azp\":\"api-client\",\"aud\":\"x\",\"email\":\"k@x\","
                    "\"email_verified\":true}",
         NULL, 200, AO2_TOKEN_VALID, "k@x", 0},
        {"ApiOAuth2Audience value", 2,
         ACTIVE EXP ",\"aud\":\"urn:odoo\",\"email\":\"k@x\","
                    "\"email_verified\":true}",
         NULL, 200, AO2_TOKEN_VALID, "k@x", 0},
        {"that value elsewhere", 0,
         ACTIVE EXP ",\"aud\":\"urn:odoo\",\"email\":\"k@x\","
                    "\"email_verified\":true}",
         NULL, 200, AO2_TOKEN_INVALID, NULL, 0},
        /* Finding: the login fell back to username, then sub. */
        {"no login claim anywhere: no fallback to username or sub", 0,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"bob\","
                    "\"username\":\"bob\"}",
         "{\"sub\":\"bob\"}", 200, AO2_TOKEN_INVALID, NULL, 1},
        {"login from userinfo", 0,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"bob\"}",
         "{\"sub\":\"bob\",\"email\":\"bob@x\",\"email_verified\":true}", 200,
         AO2_TOKEN_VALID, "bob@x", 1},
        {"userinfo of another subject", 0,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"bob\"}",
         "{\"sub\":\"eve\",\"email\":\"eve@x\",\"email_verified\":true}", 200,
         AO2_TOKEN_INVALID, NULL, 1},
        {"userinfo refuses the token", 0,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"bob\"}",
         "{\"error\":\"insufficient_scope\"}", 403, AO2_TOKEN_INVALID, NULL, 1},
        {"userinfo down", 0,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"bob\"}", "", 503,
         AO2_TOKEN_TROUBLE, NULL, 1},
        /* Finding: email_verified was not looked at. */
        {"email_verified false", 0,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"u\","
                    "\"email\":\"u@x\",\"email_verified\":false}",
         "{\"sub\":\"u\",\"email\":\"u@x\",\"email_verified\":false}", 200,
         AO2_TOKEN_INVALID, NULL, 1},
        {"email_verified absent", 0,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"u\","
                    "\"email\":\"u@x\"}",
         "{\"sub\":\"u\",\"email\":\"u@x\"}", 200, AO2_TOKEN_INVALID, NULL, 1},
        {"email_verified false, ApiOAuth2EmailVerified optional", 4,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"u\","
                    "\"email\":\"u@x\",\"email_verified\":false}",
         NULL, 200, AO2_TOKEN_VALID, "u@x", 0},
        {"email_verified false, login claim sub", 3,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"u\","
                    "\"email\":\"u@x\",\"email_verified\":false}",
         NULL, 200, AO2_TOKEN_VALID, "u", 0},
        /* Finding: a login with trailing spaces passed. */
        {"login with a trailing space", 0,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"t\","
                    "\"email\":\"t@x \",\"email_verified\":true}",
         "{\"sub\":\"t\",\"email\":\"t@x \",\"email_verified\":true}", 200,
         AO2_TOKEN_INVALID, NULL, 1},
        {"login with a leading space", 0,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"t\","
                    "\"email\":\" t@x\",\"email_verified\":true}",
         "{\"sub\":\"t\"}", 200, AO2_TOKEN_INVALID, NULL, 1},
        {"login with a C1 control", 0,
         ACTIVE EXP ",\"client_id\":\"api-client\",\"sub\":\"t\","
                    "\"email\":\"t@x\\u0085\",\"email_verified\":true}",
         "{\"sub\":\"t\"}", 200, AO2_TOKEN_INVALID, NULL, 1},
        {"introspection answers garbage", 0, "<html>", NULL, 200,
         AO2_TOKEN_TROUBLE, NULL, 0},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(rows); i++) {
        world_t *w = world(p);
        const ao2_binding_t *bs[] = {w->a, w->b, w->aud, w->sub, w->opt};
        result_t r;

        w->prov.introspect_body = rows[i].introspect;
        w->prov.userinfo_body = rows[i].userinfo;
        w->prov.userinfo_status = rows[i].userinfo_status;
        is_int(check(w, bs[rows[i].binding], TOK, &r), rows[i].want,
               "foreign: %s", rows[i].name);
        is_str(login(p, &r), rows[i].want_login, "foreign: %s: login",
               rows[i].name);
        is_int(w->prov.introspections, 1, "foreign: %s: one introspection",
               rows[i].name);
        is_int(w->prov.userinfos, rows[i].want_userinfo,
               "foreign: %s: userinfo calls", rows[i].name);
    }
}

/* The verdict carries the scopes from scope, else from scp (Entra ID's
 * string, Okta's array): what Require api-oauth2-scope checks. */
static void foreign_scopes(apr_pool_t *p)
{
    static const struct {
        const char *introspect, *want;
    } rows[] = {
        {ACTIVE EXP ",\"client_id\":\"api-client\",\"email\":\"k@x\","
                    "\"email_verified\":true,\"scope\":\"read write\"}",
         "read write"},
        {ACTIVE EXP ",\"client_id\":\"api-client\",\"email\":\"k@x\","
                    "\"email_verified\":true,\"scp\":\"read write\"}",
         "read write"},
        {ACTIVE EXP ",\"client_id\":\"api-client\",\"email\":\"k@x\","
                    "\"email_verified\":true,\"scp\":[\"read\",\"write\"]}",
         "read write"},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(rows); i++) {
        world_t *w = world(p);
        result_t r;

        w->prov.introspect_body = rows[i].introspect;
        is_int(check(w, w->a, TOK, &r), AO2_TOKEN_VALID, "scopes row %d: valid",
               (int)i);
        is_str(r.v.scope ? apr_pstrmemdup(p, r.v.scope, r.v.scope_len) : NULL,
               rows[i].want, "scopes row %d: the verdict's scope", (int)i);
    }
}

static void introspection_request(apr_pool_t *p)
{
    world_t *w = world(p);
    result_t r;

    w->prov.fail = APR_TIMEUP;
    is_int(check(w, w->a, TOK, &r), AO2_TOKEN_TROUBLE,
           "provider timeout: trouble (503), not a refusal");
    ok(strstr(w->last_log, "AO2B0004") && !strstr(w->last_log, TOK),
       "logged with its tag, without the token");
    w->prov.fail = 0;
    w->prov.introspect_status = 401;
    w->prov.introspect_body =
        "{\"error\":\"invalid_client\",\"error_description\":\"" ITOK "\"}";
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_TROUBLE,
           "our credentials refused: trouble");
    ok(strstr(w->last_log, "invalid_client") && !strstr(w->last_log, ITOK),
       "the provider's description (here: the token) is not logged");
    ok(w->prov.last_auth && !strncmp(w->prov.last_auth, "Basic ", 6),
       "the introspecting client authenticates");
}

/* Finding: a token with no expires_in / exp lived for ever. */
static void undated_foreign_token(apr_pool_t *p)
{
    world_t *w = world(p);
    result_t r;

    w->prov.introspect_body =
        ACTIVE "\"client_id\":\"api-client\","
               "\"email\":\"k@x\",\"email_verified\":true}";
    is_int(check(w, w->a, TOK, &r), AO2_TOKEN_VALID, "no exp: accepted");
    is_int(r.v.expires_at, NOW + 300, "verdict lives ApiOAuth2CacheTTL");
    is_int(w->cache.last_ttl, 300, "and is cached that long");
}

/* ---- tokens issued here: the store index -------------------------------- */

static void issued_rows(apr_pool_t *p)
{
    static const struct {
        const char *name;
        /* 0 A, 1 B (other client), 2 C (other provider), 3 OPT, 4 SUB, 5
         * OTHERDB, 6 NODB */
        int binding;
        int edit; /* what to change in the index entry */
        ao2_outcome_e want;
        int want_introspections;
    } rows[] = {
        {"store hit", 0, 0, AO2_TOKEN_VALID, 0},
        /* Finding: a token crossed API locations. */
        {"issued at A, presented where another client is", 1, 0,
         AO2_TOKEN_INVALID, 0},
        {"issued at A, presented where another provider is", 2, 0,
         AO2_TOKEN_INVALID, 0},
        /* Refreshed away, revoked, and refresh/ID tokens: tombstones win
         * over a provider that still calls them active. */
        {"tombstone", 0, 1, AO2_TOKEN_INVALID, 0},
        {"entry without a binding (older version)", 0, 2, AO2_TOKEN_INVALID, 0},
        {"entry without expiry", 0, 3, AO2_TOKEN_INVALID, 0},
        {"expired entry", 0, 4, AO2_TOKEN_INVALID, 0},
        {"login with a trailing space", 0, 5, AO2_TOKEN_INVALID, 0},
        {"login with a control character", 0, 6, AO2_TOKEN_INVALID, 0},
        {"entry sealed with another key: the provider decides", 0, 7,
         AO2_TOKEN_VALID, 1},
        /* Issue 7: the record's provider against the client's current one. */
        {"entry from the provider as it was configured before (another "
         "issuer or token endpoint, the same name)",
         0, 8, AO2_TOKEN_INVALID, 0},
        {"entry written before identities were kept: by the name", 0, 9,
         AO2_TOKEN_VALID, 0},
        /* Issue 19 L4: the checking location's own database and login
         * policy, not the issuing one's. */
        {"issued for testdb, presented where the database is otherdb", 5, 0,
         AO2_TOKEN_INVALID, 0},
        {"issued for testdb, presented where no database is set", 6, 0,
         AO2_TOKEN_INVALID, 0},
        {"an unverified email (issued where optional), presented where a "
         "verified one is required",
         0, 10, AO2_TOKEN_INVALID, 0},
        {"an unverified email where optional", 3, 10, AO2_TOKEN_VALID, 0},
        {"a verified email where optional", 3, 0, AO2_TOKEN_VALID, 0},
        {"a login from claim email, presented where the login is sub", 4, 0,
         AO2_TOKEN_INVALID, 0},
        {"entry written before login claims were kept: as before", 0, 11,
         AO2_TOKEN_VALID, 0},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(rows); i++) {
        world_t *w = world(p);
        const ao2_binding_t *bs[] = {w->a,   w->b,       w->c,   w->opt,
                                     w->sub, w->otherdb, w->nodb};
        ao2_index_t ix = issued();
        ao2_keys_t keys = w->keys;
        result_t r;

        switch (rows[i].edit) {
            case 1:
                ix = (ao2_index_t){"-",  NULL, NULL, NULL, NOW + 600, 1,
                                   NULL, NULL, NULL, NULL, 0};
                break;
            case 2:
                ix.provider = ix.client_id = NULL;
                break;
            case 3:
                ix.expires_at = 0;
                break;
            case 4:
                ix.expires_at = NOW;
                break;
            case 5:
                ix.login = "kate@example.com ";
                break;
            case 6:
                ix.login = "kate\r\nX-Odoo-Login: admin";
                break;
            case 7:
                memset(w->keys.seal, 0x01, sizeof(w->keys.seal));
                break;
            case 8:
                ix.provider_id = "https://old-op/token";
                break;
            case 9:
                ix.provider_id = NULL;
                break;
            case 10:
                ix.email_verified = 0;
                break;
            case 11:
                ix.login_claim = NULL;
                ix.email_verified = 0;
                break;
        }
        put_index(w, ITOK, &ix);
        w->keys = keys;
        /* The provider would vouch for every one of them. */
        w->prov.introspect_body = ACTIVE EXP ",\"client_id\":\"api-client\","
                                             "\"email\":\"p@x\","
                                             "\"email_verified\":true}";
        is_int(check(w, bs[rows[i].binding], ITOK, &r), rows[i].want,
               "issued: %s", rows[i].name);
        is_int(w->prov.introspections, rows[i].want_introspections,
               "issued: %s: introspections", rows[i].name);
        if (rows[i].edit == 8)
            ok(strstr(w->last_log, "AO2B0016") != NULL,
               "issued: %s: logged as such", rows[i].name);
    }
}

static void issued_identity(apr_pool_t *p)
{
    world_t *w = issued_world(p);
    result_t r;

    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "issued token valid");
    is_str(login(p, &r), "kate@example.com", "login from the index");
    ok(r.v.db_len == 6 && !memcmp(r.v.db, "testdb", 6), "db from the index");
    is_int(r.v.expires_at, NOW + 600, "its own expiry");
    /* The store calls no provider: no lock to take (issue 9 item 3: the
     * MAC, add and removal of a lock were a third of a first-seen check). */
    is_int(w->cache.removes, 0, "no lock taken and released for it");
    w->store.down = 1;
    is_int(check(w, w->a, "another-token", &r), AO2_TOKEN_TROUBLE,
           "store down: trouble (503), never open");
}

/* ---- the cache ---------------------------------------------------------- */

static void cache_hits(apr_pool_t *p)
{
    world_t *w = issued_world(p);
    result_t r;
    int i;

    for (i = 0; i < 3; i++)
        is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "use %d valid", i);
    is_int(w->store.gets, 1, "the store asked once, then the cache");
    apr_hash_clear(w->store.h);
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID,
           "a cache hit needs no store");
    is_str(login(p, &r), "kate@example.com", "login from the cached verdict");
    ok(r.v.login >= r.buf && r.v.login < r.buf + AO2_VERDICT_MAX,
       "and it points into the caller's buffer");
}

/* Finding: a cached validation crossed locations. */
static void cache_never_crosses(apr_pool_t *p)
{
    world_t *w = issued_world(p);
    result_t r;

    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "valid at A, cached");
    apr_hash_clear(w->store.h);
    is_int(check(w, w->b, ITOK, &r), AO2_TOKEN_INVALID,
           "A's cached verdict is not read at B");
    is_int(w->prov.introspections, 1, "B asked the provider itself");
    is_int(check(w, w->c, ITOK, &r), AO2_TOKEN_INVALID,
           "nor where another provider is");
    ok(strcmp(w->a->id, w->b->id) && strcmp(w->a->id, w->c->id) &&
           strcmp(w->a->id, w->aud->id) && strcmp(w->a->id, w->sub->id) &&
           strcmp(w->a->id, w->opt->id) && strcmp(w->a->id, w->otherdb->id) &&
           strcmp(w->a->id, w->nodb->id),
       "every binding has its own id");
    ok(!strcmp(w->a->id, ao2_binding_make(p, clients(p, &w->c1), NULL, "email",
                                          1, DB, NULL)
                             ->id),
       "the same configuration, the same id");
}

/* Issue 7 item 6, in part: a verdict put back after a revoke. */
static void replayed_verdict(apr_pool_t *p)
{
    world_t *w = issued_world(p);
    const char *key =
        apr_pstrcat(p, "ao2v:", ao2_sha256_b64url(p, ITOK, strlen(ITOK)), NULL);
    entry_t *e, saved;
    result_t r;

    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "valid, cached");
    e = apr_hash_get(w->cache.h, key, APR_HASH_KEY_STRING);
    ok(e != NULL, "the cached verdict");
    if (e == NULL)
        return;
    saved = *e;
    /* Revoked: the tombstone, the verdict dropped, then the old verdict
     * written back by someone with memcached access. */
    {
        ao2_index_t tomb = {"-",  NULL, NULL, NULL, NOW + 600, 1,
                            NULL, NULL, NULL, NULL, 0};
        put_index(w, ITOK, &tomb);
    }
    ao2_validate_forget(&w->env, ITOK, NOW + 600, 1);
    put(&w->cache, key, strlen(key), saved.bytes, saved.len);
    r.outcome = ao2_validate(&w->env, w->a, w->p, ITOK, NOW + 299, r.buf, &r.v);
    is_int(r.outcome, AO2_TOKEN_VALID,
           "within ApiOAuth2CacheTTL the replayed verdict still counts");
    r.outcome = ao2_validate(&w->env, w->a, w->p, ITOK, NOW + 300, r.buf, &r.v);
    is_int(r.outcome, AO2_TOKEN_INVALID,
           "after it, although the token lives 600 s: the tombstone answers");
}

static void negative_cache(apr_pool_t *p)
{
    world_t *w = world(p);
    result_t r;

    is_int(check(w, w->a, "junk", &r), AO2_TOKEN_INVALID, "unknown: refused");
    is_int(check(w, w->a, "junk", &r), AO2_TOKEN_INVALID, "again");
    is_int(w->prov.introspections, 1, "one provider call");
    is_int(w->cache.last_ttl, 60, "kept ApiOAuth2CacheNegativeTTL");
}

static void forged_and_forgotten(apr_pool_t *p)
{
    world_t *w = world(p);
    ao2_index_t ix = issued();
    const char *key =
        apr_pstrcat(p, "ao2v:", ao2_sha256_b64url(p, ITOK, 14), NULL);
    entry_t *e;
    result_t r;

    put_index(w, ITOK, &ix);
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "valid, cached");
    e = apr_hash_get(w->cache.h, key, APR_HASH_KEY_STRING);
    ok(e != NULL, "under the token's hash, never the token");
    if (e)
        e->bytes[3] ^= 1; /* someone on the memcached network */
    apr_hash_clear(w->store.h);
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_INVALID,
           "a verdict whose MAC fails is a miss");
    put_index(w, ITOK, &ix);
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_INVALID,
           "(the rejection was cached meanwhile)");
    ao2_validate_forget(&w->env, ITOK, NOW + 600, 1);
    ok(!has_key(&w->cache, key), "forget drops it");
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "asked again: valid");
}

static void no_cache(apr_pool_t *p)
{
    world_t *w = world(p);
    ao2_index_t ix = issued();
    result_t r;

    w->env.cache = NULL;
    put_index(w, ITOK, &ix);
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "without a cache");
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "twice");
    is_int(w->store.gets, 2, "each asks the store");
}

/* ---- single flight ------------------------------------------------------ */

/* The key of the token's single-flight lock, as ao2_validate makes it. */
static const char *lock_key(world_t *w, const char *token)
{
    ao2_lock_t lk;

    ao2_lock_key(&lk, &w->keys, "ao2l", token, strlen(token));
    return apr_pstrdup(w->p, lk.key);
}

/* Finding: provider failures were not cached. */
static void failure_cached(apr_pool_t *p)
{
    world_t *w = world(p);
    result_t r;

    w->prov.fail = APR_TIMEUP;
    is_int(check(w, w->a, TOK, &r), AO2_TOKEN_TROUBLE, "provider timeout");
    ok(has_key(&w->cache, lock_key(w, TOK)),
       "the failure stays in the token's lock for a moment");
    w->prov.fail = 0;
    is_int(check(w, w->a, TOK, &r), AO2_TOKEN_TROUBLE,
           "the next caller gets 503 at once");
    is_int(w->prov.introspections, 1, "without asking the provider again");
    ok(strstr(w->last_log, "AO2B0014") != NULL, "and says so");
    is_int(check(w, w->a, "another-token", &r), AO2_TOKEN_INVALID,
           "other tokens are asked about as usual");
}

/* Finding: every unknown token could hold a thread for a provider call. */
static void provider_cap(apr_pool_t *p)
{
    world_t *w = world(p);
    volatile apr_uint32_t calls = 3;
    result_t r;

    w->env.calls.in = &calls;
    w->env.calls.max = 4;
    is_int(check(w, w->a, "t-1", &r), AO2_TOKEN_INVALID,
           "under the cap: asked");
    is_int(calls, 3, "the count is back after the call");
    calls = 4;
    is_int(check(w, w->a, "t-2", &r), AO2_TOKEN_TROUBLE,
           "at the cap: 503 at once");
    is_int(w->prov.introspections, 1, "without a provider call");
    is_int(calls, 4, "the count is unchanged");
    ok(strstr(w->last_log, "AO2B0015") != NULL, "logged with its tag");
    /* A full cap is this process being busy, not the provider failing: a
     * failure remembered for t-2 would answer 503 to it for fail_ttl on
     * every process, long after a slot is free. */
    ok(!has_key(&w->cache, lock_key(w, "t-2")),
       "no failure remembered for the token");
    calls = 3;
    is_int(check(w, w->a, "t-2", &r), AO2_TOKEN_INVALID,
           "a slot free: the same token is asked about at once");
    is_int(w->prov.introspections, 2, "with a provider call");
}

/* Frees one call slot after a moment, as a call in flight ending. */
static void *APR_THREAD_FUNC free_slot_later(apr_thread_t *t, void *data)
{
    volatile apr_uint32_t *calls = data;

    apr_sleep(apr_time_from_msec(30));
    apr_atomic_dec32(calls);
    return NULL;
}

/* Finding (make bench's 1,000 rotating bad tokens): 32 new tokens at once
 * against 8 call slots got 503 while the provider answered in
 * milliseconds. Now a bounded number wait a bounded time for a slot. */
static void provider_cap_waiters(apr_pool_t *p)
{
    world_t *w = world(p);
    volatile apr_uint32_t calls = 4, waiters = 0;
    volatile apr_uint64_t ended = (apr_uint64_t)apr_time_now();
    apr_thread_t *t;
    apr_status_t trv;
    apr_time_t start;
    result_t r;

    w->env.calls.in = &calls;
    w->env.calls.max = 4;
    w->env.calls.waiting = &waiters;
    w->env.calls.max_waiting = 1;
    w->env.calls.wait = apr_time_from_sec(5);
    w->env.calls.ended = &ended;
    apr_thread_create(&t, NULL, free_slot_later, (void *)&calls, p);
    is_int(check(w, w->a, "t-1", &r), AO2_TOKEN_INVALID,
           "at the cap, a slot freed while waiting: asked");
    apr_thread_join(&trv, t);
    is_int(w->prov.introspections, 1, "with a provider call");
    is_int(calls, 3, "its slot given back after the call");
    is_int(waiters, 0, "no waiter left counted");

    calls = 4;
    waiters = 1;
    start = apr_time_now();
    is_int(check(w, w->a, "t-2", &r), AO2_TOKEN_TROUBLE,
           "at the cap with every waiter place taken: 503");
    ok(apr_time_now() - start < apr_time_from_sec(2),
       "at once, not after the 5 s wait");
    is_int(waiters, 1, "the waiter count unchanged");

    waiters = 0;
    w->env.calls.wait = apr_time_from_msec(40);
    start = apr_time_now();
    is_int(check(w, w->a, "t-3", &r), AO2_TOKEN_TROUBLE,
           "no slot freed within the wait: 503");
    ok(apr_time_now() - start >= apr_time_from_msec(40),
       "after the whole wait");
    is_int(w->prov.introspections, 1, "no provider call for either");
    is_int(calls, 4, "the call count unchanged");
    is_int(waiters, 0, "the waiter gone");

    /* A provider that hangs: no call ended for longer than the wait. */
    w->env.calls.wait = apr_time_from_sec(5);
    ended = (apr_uint64_t)(apr_time_now() - apr_time_from_sec(6));
    start = apr_time_now();
    is_int(check(w, w->a, "t-4", &r), AO2_TOKEN_TROUBLE,
           "no call ended lately: 503");
    ok(apr_time_now() - start < apr_time_from_sec(2),
       "at once: a waiter would only hold a thread");
    is_int(waiters, 0, "nobody waited");
}

/* An info message (AO2B0015) with the log at warn: not passed on, not
 * formatted; at info it is. */
static void log_level_respected(apr_pool_t *p)
{
    world_t *w = world(p);
    volatile apr_uint32_t calls = 4;
    result_t r;

    w->env.calls.in = &calls;
    w->env.calls.max = 4;
    w->env.log_level = AO2_LOG_WARNING;
    w->logs = 0;
    is_int(check(w, w->a, "t-1", &r), AO2_TOKEN_TROUBLE, "at the cap: 503");
    is_int(w->logs, 0, "log at warn: the info line is not written");
    w->env.log_level = AO2_LOG_INFO;
    is_int(check(w, w->a, "t-2", &r), AO2_TOKEN_TROUBLE, "again");
    is_int(w->logs, 1, "log at info: it is");
}

/* The lock primitive itself (ao2_lock.c), also the refresh lock. */
static void lock_primitive(apr_pool_t *p)
{
    world_t *w = world(p);
    ao2_cache_t *c = &w->cache.base;
    ao2_keys_t other;
    ao2_lock_t a, b, k;

    ao2_lock_key(&a, &w->keys, "ao2r", "t:record", 8);
    b = a;
    memcpy(&other, &w->keys, sizeof(other));
    other.mac[AO2_MAC_LOCK][0] ^= 1;
    ao2_lock_key(&k, &other, "ao2r", "t:record", 8);
    ok(strncmp(a.key, "ao2r:", 5) == 0 && strlen(a.key) == AO2_LOCK_KEY_LEN,
       "prefix and a 43-character MAC");
    ok(strcmp(a.key, k.key) != 0, "another store key, another lock key");
    is_int(ao2_lock_take(c, &a, 5, 0, NULL, NULL), APR_SUCCESS, "taken");
    is_int(ao2_lock_take(c, &b, 5, apr_time_from_msec(10), NULL, NULL),
           APR_EEXIST, "a second taker waits, then gives up");
    ao2_lock_release(c, &b, 0, 2);
    ok(has_key(&w->cache, a.key), "the one that gave up removes nothing");
    ao2_lock_release(c, &a, 502, 2);
    is_int(ao2_lock_take(c, &b, 5, apr_time_from_sec(5), NULL, NULL),
           APR_EEXIST, "a holder's failure stays in the lock");
    is_int(b.failed, 502, "and the next taker sees it at once");
    apr_hash_clear(w->cache.h);
    is_int(ao2_lock_take(c, &a, 5, 0, NULL, NULL), APR_SUCCESS, "taken again");
    put(&w->cache, a.key, AO2_LOCK_KEY_LEN, "Lsomeone-else-000", 17);
    ao2_lock_release(c, &a, 0, 2);
    ok(has_key(&w->cache, a.key),
       "a lock that expired and was taken by another is not released");
}

static void sequential_misses(apr_pool_t *p)
{
    world_t *w = world(p);
    result_t r;
    int i;

    w->prov.introspect_body = ACTIVE EXP ",\"client_id\":\"api-client\","
                                         "\"email\":\"k@x\","
                                         "\"email_verified\":true}";
    for (i = 0; i < 8; i++)
        check(w, w->a, TOK, &r);
    is_int(r.outcome, AO2_TOKEN_VALID, "valid");
    is_int(w->prov.introspections, 1, "8 uses, one introspection");
    ok(!has_key(&w->cache, lock_key(w, TOK)), "the lock is gone");
}

static void waiter(apr_pool_t *p, int holder_finishes)
{
    world_t *w = world(p), *h = world(p);
    const char *hash = ao2_sha256_b64url(p, TOK, strlen(TOK));
    const char *key = apr_pstrcat(p, "ao2v:", hash, NULL);
    const char *lock = lock_key(w, TOK);
    entry_t *e;
    result_t r;

    /* The holder, another process, reaches its verdict with its own cache. */
    h->prov.introspect_body = ACTIVE EXP ",\"client_id\":\"api-client\","
                                         "\"email\":\"k@x\","
                                         "\"email_verified\":true}";
    check(h, h->a, TOK, &r);
    e = apr_hash_get(h->cache.h, key, APR_HASH_KEY_STRING);
    ok(e != NULL, "the holder's verdict");
    put(&w->cache, lock, strlen(lock), "1", 1); /* it holds the lock */
    if (holder_finishes && e) {
        w->cache.pending_key = key;
        w->cache.pending_val = e->bytes;
        w->cache.pending_len = e->len;
        w->cache.pending_at = 3;
    }
    w->prov.introspect_body = h->prov.introspect_body;
    is_int(check(w, w->a, TOK, &r), AO2_TOKEN_VALID, "the waiter: valid");
    is_int(w->prov.introspections, holder_finishes ? 0 : 1,
           holder_finishes ? "it took the holder's verdict"
                           : "after the wait it asked itself");
    ok(has_key(&w->cache, lock),
       "and it left the holder's lock alone (it never held it)");
}

static void waiter_gets_verdict(apr_pool_t *p)
{
    waiter(p, 1);
}

static void waiter_gives_up(apr_pool_t *p)
{
    waiter(p, 0);
}

/* ---- the JWT verifier slot ---------------------------------------------- */

typedef struct fake_jwt {
    ao2_jwt_e answer;
    const char *claims;
    const ao2_provider_t *issuer;
    int calls;
} fake_jwt_t;

static ao2_jwt_e jwt_verify(void *baton, apr_pool_t *p, const ao2_binding_t *b,
                            const char *token, apr_int64_t now,
                            const ao2_json_t **claims, apr_int64_t *exp,
                            const ao2_provider_t **issuer)
{
    fake_jwt_t *j = baton;
    const char *why;

    j->calls++;
    if (j->answer == AO2_JWT_VALID) {
        *claims = ao2_json_parse_object(p, j->claims, strlen(j->claims), &why);
        *exp = NOW + 60;
        *issuer = j->issuer;
    }
    return j->answer;
}

static void jwt_slot(apr_pool_t *p)
{
    static const struct {
        const char *name;
        ao2_jwt_e answer;
        const char *claims;
        ao2_outcome_e want;
        int want_introspections;
    } rows[] = {
        {"valid JWT for us", AO2_JWT_VALID,
         "{\"aud\":\"api-client\",\"sub\":\"j\",\"email\":\"j@x\","
         "\"email_verified\":true}",
         AO2_TOKEN_VALID, 0},
        {"valid JWT for another client", AO2_JWT_VALID,
         "{\"aud\":\"rs-client\",\"sub\":\"j\",\"email\":\"j@x\","
         "\"email_verified\":true}",
         AO2_TOKEN_INVALID, 0},
        {"bad JWT", AO2_JWT_INVALID, NULL, AO2_TOKEN_INVALID, 0},
        {"keys unreachable", AO2_JWT_TROUBLE, NULL, AO2_TOKEN_TROUBLE, 0},
        {"not a JWT: introspection", AO2_JWT_PASS, NULL, AO2_TOKEN_INVALID, 1},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(rows); i++) {
        world_t *w = world(p);
        fake_jwt_t j = {rows[i].answer, rows[i].claims, &w->op, 0};
        result_t r;

        w->env.jwt = jwt_verify;
        w->env.jwt_baton = &j;
        is_int(check(w, w->a, TOK, &r), rows[i].want, "jwt: %s", rows[i].name);
        is_int(j.calls, 1, "jwt: %s: verifier asked", rows[i].name);
        is_int(w->prov.introspections, rows[i].want_introspections,
               "jwt: %s: introspections", rows[i].name);
    }
}

/* Issue 19 L7: the keys' first fetch under way and no call slot or
 * waiting place free (the metadata fetch takes them under the cap too):
 * 503 at once, and like the cap on introspection nothing is remembered
 * for the token; keys that cannot be had are a failure, remembered. */
static void jwt_busy(apr_pool_t *p)
{
    world_t *w = world(p);
    fake_jwt_t j = {AO2_JWT_BUSY, NULL, &w->op, 0};
    result_t r;

    w->env.jwt = jwt_verify;
    w->env.jwt_baton = &j;
    is_int(check(w, w->a, TOK, &r), AO2_TOKEN_TROUBLE, "busy: 503");
    is_int(w->prov.introspections, 0, "no introspection instead");
    ok(!has_key(&w->cache, lock_key(w, TOK)),
       "no failure remembered for the token");
    j.answer = AO2_JWT_TROUBLE;
    is_int(check(w, w->a, TOK, &r), AO2_TOKEN_TROUBLE, "keys unreachable");
    ok(has_key(&w->cache, lock_key(w, TOK)), "that failure is remembered");
}

static void binding_accepts(apr_pool_t *p)
{
    world_t *w = world(p);

    ao2_provider_t moved = w->op;
    ao2_client_t c = w->c1;
    const ao2_binding_t *m;

    ok(ao2_binding_accepts(w->a, "op", OP_ID, "api-client"), "own client");
    ok(ao2_binding_accepts(w->a, "op", NULL, "api-client"),
       "own client, no identity kept: by the name");
    ok(!ao2_binding_accepts(w->a, "op", "https://old-op", "api-client"),
       "own client, from the provider as it was configured before");
    ok(!ao2_binding_accepts(w->a, "op", OP_ID, "other-client"),
       "another client");
    ok(!ao2_binding_accepts(w->a, "other", OP_ID, "api-client"),
       "the same id at another provider");
    ok(ao2_binding_accepts(w->aud, "op", OP_ID, "urn:odoo"), "an audience");
    ok(!ao2_binding_accepts(w->aud, "op", "https://old-op", "urn:odoo"),
       "an audience, from the provider as it was before");
    ok(!ao2_binding_accepts(w->aud, "other", NULL, "urn:odoo"),
       "an audience counts for the location's providers only");
    ok(!ao2_binding_accepts(w->a, NULL, NULL, "api-client") &&
           !ao2_binding_accepts(w->a, "op", NULL, NULL),
       "NULL never");
    ok(w->a->introspector == &w->c1, "the introspecting client");

    /* The provider's identity: its issuer, else its token endpoint. */
    is_str(ao2_provider_identity(&w->op), OP_ID, "identity: token endpoint");
    moved.issuer = "https://issuer.example";
    is_str(ao2_provider_identity(&moved), "https://issuer.example",
           "identity: the issuer when there is one");
    c.provider = &moved;
    m = ao2_binding_make(p, clients(p, &c), NULL, "email", 1, DB, NULL);
    ok(strcmp(m->id, w->a->id) != 0,
       "another issuer under the same name: another binding id");
    ok(!ao2_binding_accepts(m, "op", OP_ID, "api-client"),
       "and a token recorded before the change does not count");
}

/* Issue 19 L8: an opaque token names no issuer; with clients of two
 * providers that introspect, sending it to the first one would disclose
 * the other's tokens to it. */
static void introspector_choice(apr_pool_t *p)
{
    world_t *w = world(p);
    apr_array_header_t *two = apr_array_make(p, 2, sizeof(ao2_client_t *));
    apr_array_header_t *same = apr_array_make(p, 2, sizeof(ao2_client_t *));
    const ao2_binding_t *both, *named, *one;
    result_t r;

    APR_ARRAY_PUSH(two, ao2_client_t *) = &w->c1;
    APR_ARRAY_PUSH(two, ao2_client_t *) = &w->c3;
    APR_ARRAY_PUSH(same, ao2_client_t *) = &w->c1;
    APR_ARRAY_PUSH(same, ao2_client_t *) = &w->c2;
    both = ao2_binding_make(p, two, NULL, "email", 1, DB, NULL);
    named = ao2_binding_make(p, two, NULL, "email", 1, DB, "other");
    one = ao2_binding_make(p, same, NULL, "email", 1, DB, NULL);
    w->prov.introspect_body = ACTIVE EXP ",\"client_id\":\"api-client\","
                                         "\"email\":\"k@x\","
                                         "\"email_verified\":true}";
    ok(both->introspector == NULL && both->introspectors_ambiguous,
       "two providers introspect, none named: nobody is asked");
    is_int(check(w, both, TOK, &r), AO2_TOKEN_INVALID,
           "an opaque token there: refused");
    is_int(w->prov.introspections, 0, "no provider saw it");
    ok(strstr(w->last_log, "AO2B0018") != NULL, "logged as such");
    ok(named->introspector == &w->c3, "ApiOAuth2IntrospectWith other: other");
    is_int(check(w, named, TOK, &r), AO2_TOKEN_VALID,
           "the named provider vouches for it");
    ok(w->prov.last_url &&
           !strcmp(w->prov.last_url, "https://other/introspect"),
       "and only it was asked");
    is_int(w->prov.introspections, 1, "once");
    ok(one->introspector == &w->c1 && !one->introspectors_ambiguous,
       "two clients of one provider: that provider");
    ok(strcmp(both->id, named->id) != 0,
       "the named provider is part of the binding id");
}

/* ---- the revocation log: two nodes, one memcached ----------------------- */

#define T0       apr_time_from_sec(NOW)
#define INTERVAL apr_time_from_msec(250)
#define TOMBS    256

/* A second node of w's cluster: its own revocation log memory and local
 * copies, the same memcached (w->cache) and store. */
typedef struct node {
    ao2_validate_env_t env;
    fake_cache_t local;
    ao2_revlog_t *rl;
} node_t;

static void node_init(world_t *w, node_t *n)
{
    apr_size_t size = ao2_revlog_size(TOMBS);
    void *mem = apr_palloc(w->p, size);

    memset(n, 0, sizeof(*n));
    n->env = w->env;
    n->local.base.type = &fake_local;
    n->local.p = w->p;
    n->local.h = apr_hash_make(w->p);
    ok(ao2_revlog_init(&n->rl, w->p, mem, size, TOMBS, 7, &w->cache.base,
                       &w->keys, INTERVAL) == APR_SUCCESS,
       "a node's revocation log");
    n->env.local_cache = &n->local.base;
    n->env.local_ttl = 300;
    n->env.revlog = n->rl;
}

static ao2_outcome_e check_on(world_t *w, node_t *n, const char *token,
                              apr_time_t at, result_t *r)
{
    n->env.now_us = at;
    r->outcome = ao2_validate(&n->env, w->a, w->p, token, apr_time_sec(at),
                              r->buf, &r->v);
    return r->outcome;
}

/* Every key and value of the fake memcached, to write back later. */
static apr_hash_t *snapshot(world_t *w)
{
    apr_hash_t *h = apr_hash_make(w->p);
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(w->p, w->cache.h); hi; hi = apr_hash_next(hi)) {
        const void *k;
        apr_ssize_t klen;
        void *v;
        entry_t *copy = apr_palloc(w->p, sizeof(*copy));

        apr_hash_this(hi, &k, &klen, &v);
        *copy = *(entry_t *)v;
        apr_hash_set(h, k, klen, copy);
    }
    return h;
}

static void write_back(world_t *w, apr_hash_t *snap)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(w->p, snap); hi; hi = apr_hash_next(hi)) {
        const void *k;
        apr_ssize_t klen;
        void *v;

        apr_hash_this(hi, &k, &klen, &v);
        put(&w->cache, k, (apr_size_t)klen, ((entry_t *)v)->bytes,
            ((entry_t *)v)->len);
    }
}

/* Someone with memcached access puts the snapshot back, and ITOK's live
 * index entry over its tombstone (a socache:memcache store). */
static void replay(world_t *w, apr_hash_t *snap)
{
    ao2_index_t live = issued();

    write_back(w, snap);
    put_index(w, ITOK, &live);
}

static void revoke_on(world_t *w, node_t *n, const char *token, apr_time_t at)
{
    ao2_index_t tomb = {"-",  NULL, NULL, NULL, NOW + 600, 1,
                        NULL, NULL, NULL, NULL, 0};

    put_index(w, token, &tomb);
    n->env.now_us = at;
    ao2_validate_forget(&n->env, token, NOW + 600, 1);
}

/* Issue 9 item 1: a hit answered from the node-local copy. */
static void revlog_local_hit(apr_pool_t *p)
{
    world_t *w = issued_world(p);
    node_t a;
    result_t r;
    int gets, incrs;

    node_init(w, &a);
    is_int(check_on(w, &a, ITOK, T0, &r), AO2_TOKEN_VALID, "valid, cached");
    gets = w->cache.gets;
    incrs = w->cache.incrs;
    is_int(check_on(w, &a, ITOK, T0 + apr_time_from_msec(100), &r),
           AO2_TOKEN_VALID, "again within the interval");
    is_int(w->cache.gets, gets, "answered without a memcached get");
    is_int(w->cache.incrs, incrs, "nor a log read");
    is_str(login(p, &r), "kate@example.com", "from the local copy");
    is_int(check_on(w, &a, ITOK, T0 + apr_time_from_msec(300), &r),
           AO2_TOKEN_VALID, "after the interval");
    is_int(w->cache.incrs, incrs + 1, "one log read, nothing new");
    w->cache.down = 1;
    is_int(check_on(w, &a, ITOK, T0 + apr_time_from_msec(900), &r),
           AO2_TOKEN_VALID, "memcached down: still valid (from the store)");
    ok(w->store.gets >= 2, "the local copy did not answer: the log was "
                           "not read lately");
}

/* Issue 7 item 6 and issue 9 item 1: a revoke on A, every memcached value
 * put back, and B, which had a local copy, refuses within the bound. */
static void revlog_replay(apr_pool_t *p)
{
    world_t *w = issued_world(p);
    node_t a, b;
    apr_hash_t *snap;
    apr_time_t t = T0;
    result_t r;

    node_init(w, &a);
    node_init(w, &b);
    is_int(check_on(w, &a, ITOK, t, &r), AO2_TOKEN_VALID, "valid on A");
    is_int(check_on(w, &b, ITOK, t, &r), AO2_TOKEN_VALID, "and on B");
    snap = snapshot(w);
    t += apr_time_from_msec(10);
    revoke_on(w, &a, ITOK, t);
    is_int(check_on(w, &a, ITOK, t, &r), AO2_TOKEN_INVALID,
           "refused on A at once");
    replay(w, snap);
    is_int(check_on(w, &a, ITOK, t + 1000, &r), AO2_TOKEN_INVALID,
           "A: the replayed verdict and index entry are not believed");
    t += ao2_revlog_bound(b.rl);
    is_int(check_on(w, &b, ITOK, t, &r), AO2_TOKEN_INVALID,
           "B refuses within the bound, the counter put back notwithstanding");
    is_int(check_on(w, &b, ITOK, t + apr_time_from_sec(200), &r),
           AO2_TOKEN_INVALID, "and for ever after (not just a TTL)");
    write_back(w, snap);
    is_int(check_on(w, &b, ITOK, t + apr_time_from_sec(201), &r),
           AO2_TOKEN_INVALID, "a second replay changes nothing");
}

/* A valid on node a, every memcached value snapshot, then ITOK revoked
 * on a at t + 10 µs: the snapshot is what a replay puts back. */
static apr_hash_t *revoked_after_snapshot(world_t *w, node_t *a, apr_time_t t)
{
    result_t r;
    apr_hash_t *snap;

    node_init(w, a);
    is_int(check_on(w, a, ITOK, t, &r), AO2_TOKEN_VALID, "valid on A");
    snap = snapshot(w);
    revoke_on(w, a, ITOK, t + 10);
    return snap;
}

/* SECURITY.md's gap: a node started after the revoke learned nothing of
 * it, so an index entry written back into a socache:memcache store was
 * believed there. Now its first read of the log reads back the entries. */
static void revlog_new_node(apr_pool_t *p)
{
    world_t *w = issued_world(p);
    node_t a, c;
    apr_hash_t *snap;
    apr_time_t t = T0;
    result_t r;
    int i;

    snap = revoked_after_snapshot(w, &a, t);
    /* More revokes after it: C reads back past them. */
    for (i = 0; i < 20; i++)
        revoke_on(w, &a, apr_psprintf(p, "later-token-%d", i), t + 20 + i);
    /* Not the counter: put back, it would have C read the entries after
     * it as new ones (revlog_replay). */
    apr_hash_set(snap, "ao2g:generation", APR_HASH_KEY_STRING, NULL);
    replay(w, snap);
    node_init(w, &c);
    is_int(check_on(w, &c, ITOK, t + apr_time_from_sec(1), &r),
           AO2_TOKEN_INVALID,
           "C, started after the revoke: the replayed entry is refused");
    is_int(check_on(w, &c, ITOK, t + apr_time_from_sec(100), &r),
           AO2_TOKEN_INVALID, "and later");
}

/* A counter put back below an entry: the next writer does not write over
 * it, and the nodes read past the counter. */
static void revlog_old_generation(apr_pool_t *p)
{
    world_t *w = world(p);
    const char *t2 = "issued-token-2";
    ao2_index_t ix = issued();
    node_t a, b;
    apr_hash_t *snap;
    apr_time_t t = T0;
    result_t r;

    put_index(w, ITOK, &ix);
    put_index(w, t2, &ix);
    node_init(w, &a);
    node_init(w, &b);
    is_int(check_on(w, &b, ITOK, t, &r), AO2_TOKEN_VALID, "B: token 1");
    is_int(check_on(w, &b, t2, t, &r), AO2_TOKEN_VALID, "B: token 2");
    is_int(check_on(w, &a, ITOK, t, &r), AO2_TOKEN_VALID, "A: token 1");
    snap = snapshot(w);
    revoke_on(w, &a, ITOK, t);
    t += ao2_revlog_bound(b.rl);
    is_int(check_on(w, &b, ITOK, t, &r), AO2_TOKEN_INVALID,
           "B learned the first revoke");
    write_back(w, snap); /* the counter goes back one */
    put_index(w, t2, &ix);
    /* A writer that has not read the log since: it must not take the
     * generation of the first revoke. */
    revoke_on(w, &a, t2, t);
    t += ao2_revlog_bound(b.rl);
    is_int(check_on(w, &b, t2, t, &r), AO2_TOKEN_INVALID,
           "B learned the second revoke too");
    is_int(check_on(w, &b, ITOK, t, &r), AO2_TOKEN_INVALID,
           "and still refuses the first");
}

static void drop_log_entries(world_t *w)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(w->p, w->cache.h); hi; hi = apr_hash_next(hi)) {
        const void *k;
        apr_hash_this(hi, &k, NULL, NULL);
        if (!strncmp(k, "ao2r:", 5))
            apr_hash_set(w->cache.h, k, APR_HASH_KEY_STRING, NULL);
    }
}

/* A lost log (memcached restarted) or a gap drops the local copies. */
static void revlog_reset(apr_pool_t *p)
{
    world_t *w = issued_world(p);
    node_t a, b;
    apr_time_t t = T0;
    result_t r;
    int gets;

    node_init(w, &a);
    node_init(w, &b);
    is_int(check_on(w, &b, ITOK, t, &r), AO2_TOKEN_VALID, "B: valid, copied");
    /* A revokes while memcached is away, then it restarts empty. */
    w->cache.down = 1;
    revoke_on(w, &a, ITOK, t);
    is_int(check_on(w, &a, ITOK, t, &r), AO2_TOKEN_INVALID,
           "A refuses at once, memcached down or not");
    w->cache.down = 0;
    apr_hash_clear(w->cache.h);
    t += ao2_revlog_bound(b.rl);
    gets = w->store.gets;
    is_int(check_on(w, &b, ITOK, t, &r), AO2_TOKEN_INVALID,
           "B: the counter came back anew: local copies dropped, the store "
           "tombstone answers");
    is_int(w->store.gets, gets + 1, "B asked the store");

    /* A gap: entries gone while the counter moved on. */
    {
        ao2_index_t ix = issued();
        const char *t2 = "issued-token-2";

        put_index(w, t2, &ix);
        is_int(check_on(w, &b, t2, t, &r), AO2_TOKEN_VALID, "B: token 2");
        /* Two: a missing last entry may just not be written yet. */
        revoke_on(w, &a, "some-other-token", t);
        revoke_on(w, &a, "a-third-token", t);
        drop_log_entries(w);
        gets = w->store.gets;
        t += ao2_revlog_bound(b.rl);
        is_int(check_on(w, &b, t2, t, &r), AO2_TOKEN_VALID,
               "B: token 2, the entries missing for less than a second");
        is_int(w->store.gets, gets,
               "a hole (a writer not done yet): the local copy answers");
        t += apr_time_from_sec(1) + INTERVAL;
        /* The memcached verdict of token 2 was made before the gap. */
        is_int(check_on(w, &b, t2, t, &r), AO2_TOKEN_VALID,
               "B: token 2 still valid");
        is_int(w->store.gets, gets + 1,
               "but from the store: the local copy and the older memcached "
               "verdict no longer count");
    }
}

/* A node that starts after a revoke, with the counter and the verdict put
 * back and the log's entries deleted: the counter's value cannot be
 * trusted, so its first read moves the generation on and the verdict (made
 * below it) is a miss; the store's tombstone (kept in Redis) answers. */
static void revlog_start_mark(apr_pool_t *p)
{
    node_t a, c;
    world_t *w = issued_world(p);
    const apr_time_t t = T0;
    apr_hash_t *snap = revoked_after_snapshot(w, &a, t);
    result_t r;
    int gets;

    drop_log_entries(w);
    write_back(w, snap);
    node_init(w, &c);
    gets = w->store.gets;
    is_int(check_on(w, &c, ITOK, t + apr_time_from_sec(1), &r),
           AO2_TOKEN_INVALID,
           "C: the verdict put back with its counter is not believed");
    is_int(w->store.gets, gets + 1, "C asked the store");
    is_int(check_on(w, &c, ITOK, t + apr_time_from_sec(2), &r),
           AO2_TOKEN_INVALID, "and refuses after");
    /* C's own verdicts still count for C: one store read per token. */
    {
        ao2_index_t ix = issued();

        put_index(w, "issued-token-2", &ix);
        is_int(check_on(w, &c, "issued-token-2", t + apr_time_from_sec(3), &r),
               AO2_TOKEN_VALID, "C: another token, from the store");
        gets = w->store.gets;
        is_int(check_on(w, &c, "issued-token-2", t + apr_time_from_sec(4), &r),
               AO2_TOKEN_VALID, "and again");
        is_int(w->store.gets, gets, "from C's own verdict");
    }
}

/* SECURITY.md's gap: a restarted node knew of a revoke only what the log
 * in memcached still held, so with the log's entries deleted (a neighbour
 * who can delete) it believed a replayed index entry. With the journal it
 * reads back what it learned before the restart. */
static void revlog_journal_restart(apr_pool_t *p)
{
    world_t *w = issued_world(p);
    node_t a, again, bare;
    apr_hash_t *snap;
    apr_time_t t = T0;
    char path[] = "/tmp/ao2-unit-journal-XXXXXX";
    int fd = mkstemp(path);
    result_t r;

    ok(fd >= 0, "a journal file");
    unlink(path);
    node_init(w, &a);
    is_int((int)ao2_revlog_journal(a.rl, fd, NOW), 0, "empty at first");
    is_int(check_on(w, &a, ITOK, t, &r), AO2_TOKEN_VALID, "valid on A");
    snap = snapshot(w);
    apr_hash_set(snap, "ao2g:generation", APR_HASH_KEY_STRING, NULL);
    revoke_on(w, &a, ITOK, t + 10);
    /* Learned a second time (from the log): one record, not two. */
    t += ao2_revlog_bound(a.rl);
    is_int(check_on(w, &a, ITOK, t, &r), AO2_TOKEN_INVALID, "refused on A");
    drop_log_entries(w);
    replay(w, snap);

    /* A restarts: new shared memory, the same file. */
    node_init(w, &again);
    is_int((int)ao2_revlog_journal(again.rl, fd, NOW), 1,
           "restarted: one tombstone read back");
    is_int(check_on(w, &again, ITOK, t + apr_time_from_sec(1), &r),
           AO2_TOKEN_INVALID,
           "the replayed index entry is refused, the log's entries gone");
    is_int(check_on(w, &again, ITOK, t + apr_time_from_sec(100), &r),
           AO2_TOKEN_INVALID, "and later");
    /* What the journal is for: the same restart without it. */
    node_init(w, &bare);
    is_int(check_on(w, &bare, ITOK, t + apr_time_from_sec(1), &r),
           AO2_TOKEN_VALID,
           "control: restarted without the journal, the replay is believed");
    close(fd);
}

/* ---- a connection's memo (ao2_memo.h) ---------------------------------- */

static void local_init(world_t *w, fake_cache_t *fc)
{
    memset(fc, 0, sizeof(*fc));
    fc->base.type = &fake_local;
    fc->p = w->p;
    fc->h = apr_hash_make(w->p);
}

/* ITOK issued at A; the cache is shm (shm, node-local), with a memo. */
static world_t *shm_memo_world(apr_pool_t *p, fake_cache_t *shm)
{
    world_t *w = issued_world(p);

    local_init(w, shm);
    w->env.cache = &shm->base;
    w->env.memo = ao2_memo_make(p);
    return w;
}

/* Issue 9 item 2: a keep-alive client's next request is answered without
 * hashing its token or reading the cache, and never once a verdict was
 * forgotten there (a revoke, a refresh). */
static void memo_shm(apr_pool_t *p)
{
    fake_cache_t shm;
    world_t *w = shm_memo_world(p, &shm);
    result_t r;
    int gets;

    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "valid: memo made");
    gets = shm.gets;
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "again: valid");
    is_int(shm.gets, gets, "answered by the memo, no cache get");
    is_str(login(p, &r), "kate@example.com", "the memo's login");
    ok(r.v.db_len == 6 && !memcmp(r.v.db, "testdb", 6) && r.v.scope_len == 12 &&
           !memcmp(r.v.scope, "openid email", 12),
       "its db and scope");
    is_int(check(w, w->a, "issued-token-2", &r), AO2_TOKEN_INVALID,
           "another token of the same length: not the memo's");
    ok(shm.gets > gets, "it was looked up");
    gets = shm.gets;
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID,
           "a refused token leaves the memo as it was");
    is_int(shm.gets, gets, "(no get)");
    is_int(check(w, w->b, ITOK, &r), AO2_TOKEN_INVALID,
           "another location's binding: not the memo's");
    gets = shm.gets;
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "back at A");
    is_int(shm.gets, gets, "the memo answers again: B's check left it");
    gets = shm.gets;
    is_int(check_at(w, w->a, ITOK, NOW + AO2_MEMO_SECONDS, &r), AO2_TOKEN_VALID,
           "the next second: valid");
    is_int(shm.gets, gets + 1, "from the cache: a memo lasts its second");
    gets = shm.gets;
    is_int(check_at(w, w->a, ITOK, NOW + AO2_MEMO_SECONDS, &r), AO2_TOKEN_VALID,
           "and the memo made again");
    is_int(shm.gets, gets, "(no get)");
    /* Revoked (ao2_endpoints.c): the tombstone, then the verdict forgotten. */
    {
        ao2_index_t tomb = {"-",  NULL, NULL, NULL, NOW + 600, 1,
                            NULL, NULL, NULL, NULL, 0};
        put_index(w, ITOK, &tomb);
    }
    ao2_validate_forget(&w->env, ITOK, NOW + 600, 1);
    is_int(check_at(w, w->a, ITOK, NOW + AO2_MEMO_SECONDS, &r),
           AO2_TOKEN_INVALID,
           "revoked: refused at once, within the memo's "
           "second");
}

/* A forget (a revoke in another process) while a check runs: the memo that
 * check makes must not answer, since its lookup may have read the verdict
 * just before it went. */
static void memo_forget_during_check(apr_pool_t *p)
{
    fake_cache_t shm;
    world_t *w = shm_memo_world(p, &shm);
    result_t r;
    int gets;

    shm.forget_at_get = 1;
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID,
           "valid; a verdict was forgotten during its lookup");
    gets = shm.gets;
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "again");
    ok(shm.gets > gets, "looked up again: that memo was stale");
    gets = shm.gets;
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "and again");
    is_int(shm.gets, gets, "now the memo answers");
}

/* Memcache: the memo stands in for the node-local copy only, on the same
 * conditions (the log read lately, no tombstone learned since). */
static void memo_revlog(apr_pool_t *p)
{
    world_t *w = issued_world(p);
    node_t a, b;
    ao2_index_t other = issued();
    result_t r;
    apr_time_t t = T0;
    int gets;

    put_index(w, "issued-token-2", &other);
    node_init(w, &a);
    node_init(w, &b);
    a.env.memo = ao2_memo_make(p);
    is_int(check_on(w, &a, ITOK, t, &r), AO2_TOKEN_VALID, "valid on A");
    gets = a.local.gets;
    is_int(check_on(w, &a, ITOK, t + apr_time_from_msec(100), &r),
           AO2_TOKEN_VALID, "again");
    is_int(a.local.gets, gets, "the memo answers, no local copy read");
    is_int(check_on(w, &b, "issued-token-2", t, &r), AO2_TOKEN_VALID,
           "another token valid on B");
    revoke_on(w, &b, "issued-token-2", t + apr_time_from_msec(110));
    t += ao2_revlog_bound(a.rl);
    gets = a.local.gets;
    is_int(check_on(w, &a, ITOK, t, &r), AO2_TOKEN_VALID,
           "A learns a tombstone of another token: ITOK still valid");
    ok(a.local.gets > gets, "from the local copy: the epoch moved");
    gets = a.local.gets;
    is_int(check_on(w, &a, ITOK, t + 1000, &r), AO2_TOKEN_VALID, "again");
    is_int(a.local.gets, gets, "the memo made at the new epoch answers");
    revoke_on(w, &b, ITOK, t + 2000);
    t += ao2_revlog_bound(a.rl);
    is_int(check_on(w, &a, ITOK, t, &r), AO2_TOKEN_INVALID,
           "ITOK revoked on B: A refuses within the bound, memo or not");
    is_int(check_on(w, &a, ITOK, t + 1000, &r), AO2_TOKEN_INVALID, "and after");
}

/* Issue 19 L5: a revoke in another process (the tombstone, then the
 * forget) after a check read the live index entry and before it cached its
 * verdict: that check may answer valid, but must not put the verdict back
 * into a cache the forget has just cleared. */
static void revoke_now(void *baton)
{
    world_t *w = baton;
    ao2_index_t tomb = {"-",  NULL, NULL, NULL, NOW + 600, 1,
                        NULL, NULL, NULL, NULL, 0};

    put_index(w, ITOK, &tomb);
    ao2_validate_forget(&w->env, ITOK, NOW + 600, 1);
}

static void forget_during_lookup(apr_pool_t *p)
{
    static const char *const tiers[] = {"shm", "memcached with a local copy"};
    int i;

    for (i = 0; i < 2; i++) {
        world_t *w = issued_world(p);
        fake_cache_t local;
        result_t r;

        local_init(w, &local);
        if (i == 0)
            w->env.cache = &local.base;
        else {
            w->env.local_cache = &local.base;
            w->env.local_ttl = 300;
        }
        w->store.after_get = revoke_now;
        w->store.after_get_baton = w;
        is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID,
               "%s: the check that read the entry before the revoke", tiers[i]);
        is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_INVALID,
               "%s: the next check: refused, no verdict put back", tiers[i]);
    }
}

static void memo_not_for_memcached(apr_pool_t *p)
{
    world_t *w = issued_world(p);
    node_t a;
    result_t r;
    int gets;

    w->env.memo = ao2_memo_make(p);
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "memcache alone: valid");
    gets = w->cache.gets;
    is_int(check(w, w->a, ITOK, &r), AO2_TOKEN_VALID, "again");
    is_int(w->cache.gets, gets + 1,
           "memcached asked: without a node-local copy nothing could tell "
           "the memo of a revoke elsewhere");
    node_init(w, &a);
    a.env.memo = ao2_memo_make(p);
    is_int(check_on(w, &a, ITOK, T0, &r), AO2_TOKEN_VALID, "valid on A");
    w->cache.down = 1;
    gets = w->store.gets;
    is_int(check_on(w, &a, ITOK, T0 + apr_time_from_sec(1), &r),
           AO2_TOKEN_VALID, "memcached down: valid from the store");
    ok(w->store.gets > gets, "the log was not read lately: no memo either");
}

/* The counter's decimal text, as someone with memcached access sets it. */
static void set_counter(world_t *w, const char *value)
{
    put(&w->cache, "ao2g:generation", 15, value, strlen(value));
}

static apr_uint64_t counter(world_t *w)
{
    entry_t *e = apr_hash_get(w->cache.h, "ao2g:generation", 15);
    char num[32];

    if (e == NULL || e->len > 31)
        return 0;
    memcpy(num, e->bytes, e->len);
    num[e->len] = '\0';
    return (apr_uint64_t)strtoull(num, NULL, 10);
}

/* Nodes a and b of w's cluster, each with a local copy of ITOK's verdict
 * made at t. */
static void copies_on_two(world_t *w, node_t *a, node_t *b, apr_time_t t)
{
    result_t r;

    node_init(w, a);
    node_init(w, b);
    is_int(check_on(w, a, ITOK, t, &r), AO2_TOKEN_VALID, "valid on A");
    is_int(check_on(w, b, ITOK, t, &r), AO2_TOKEN_VALID, "and on B");
}

/* Issue 19 M1: the counter set to 2^64 - 1 (or near it) by someone who
 * can write memcached. It wrapped on the next incr, every later revoke
 * failed to log, and the nodes still counted as fresh: B's local copy
 * answered a token revoked on A until ApiOAuth2CacheLocalTTL. */
static void revlog_forged_counter(apr_pool_t *p)
{
    static const char *const forged[] = {
        "18446744073709551615", "18446744073709551610", "9223372036854775808"};
    int i;

    for (i = 0; i < 3; i++) {
        world_t *w = issued_world(p);
        const char *t2 = "issued-token-2";
        ao2_index_t ix = issued();
        apr_time_t t = T0;
        node_t a, b;
        result_t r;
        int gets;

        put_index(w, t2, &ix);
        copies_on_two(w, &a, &b, t);
        is_int(check_on(w, &b, t2, t, &r), AO2_TOKEN_VALID, "B: token 2");
        set_counter(w, forged[i]);
        /* Both read the forged counter before the revoke. */
        t += ao2_revlog_bound(b.rl);
        is_int(check_on(w, &a, ITOK, t, &r), AO2_TOKEN_VALID,
               apr_psprintf(p, "counter %s: A still valid", forged[i]));
        gets = w->store.gets;
        is_int(check_on(w, &b, ITOK, t, &r), AO2_TOKEN_VALID, "B still valid");
        is_int(w->store.gets, gets + 1,
               "from the store: no local copy believed past the forgery");
        revoke_on(w, &a, ITOK, t + 10);
        t += ao2_revlog_bound(b.rl);
        is_int(check_on(w, &b, ITOK, t, &r), AO2_TOKEN_INVALID,
               "B refuses the token revoked on A within the bound");
        ok(counter(w) <= (apr_uint64_t)t + apr_time_from_sec(3600),
           "the counter is back near the clock");
        /* The log works again: a second revoke reaches B by the log. */
        is_int(check_on(w, &b, t2, t, &r), AO2_TOKEN_VALID, "B: token 2");
        revoke_on(w, &a, t2, t + 10);
        t += ao2_revlog_bound(b.rl);
        is_int(check_on(w, &b, t2, t, &r), AO2_TOKEN_INVALID,
               "and refuses a second revoke on A too");
    }
}

/* Issue 19 M1: a revoke that could not be written to the log (the next
 * generations taken by entries that are not ours, or memcached failing the
 * write) must not leave the other nodes answering from their local copies
 * as if nothing happened. */
static void revlog_failed_write(apr_pool_t *p)
{
    int how;

    for (how = 0; how < 2; how++) {
        world_t *w = issued_world(p);
        apr_time_t t = T0;
        node_t a, b;
        result_t r;
        int i;

        copies_on_two(w, &a, &b, t);
        if (how == 0) {
            apr_uint64_t g = counter(w);

            for (i = 1; i <= 16; i++) {
                const char *k = apr_psprintf(p, "ao2r:%" APR_UINT64_T_FMT,
                                             g + (apr_uint64_t)i);
                put(&w->cache, k, strlen(k), "junk", 4);
            }
        } else {
            w->cache.put_new_fails = 1;
        }
        revoke_on(w, &a, ITOK, t + 10);
        w->cache.put_new_fails = 0;
        is_int(check_on(w, &a, ITOK, t + 20, &r), AO2_TOKEN_INVALID,
               "A refuses at once");
        t += ao2_revlog_bound(b.rl);
        is_int(check_on(w, &b, ITOK, t, &r), AO2_TOKEN_INVALID,
               how == 0 ? "generations taken by junk: B refuses within the "
                          "bound"
                        : "the entry's write failed: B refuses within the "
                          "bound");
    }
}

/* Issue 19 M1, as two servers showed it: B reads a counter recreated at
 * the time (after a reset), A has not read since; the counter is then put
 * back below B's generation (wrapped past 2^64 - 1, or set), and A's
 * revoke lands there, below everything B reads after. */
static void revlog_put_back_below(apr_pool_t *p)
{
    world_t *w = issued_world(p);
    apr_time_t t = T0;
    node_t a, b;
    result_t r;

    copies_on_two(w, &a, &b, t);
    apr_hash_set(w->cache.h, "ao2g:generation", 15, NULL);
    t += apr_time_from_sec(1);
    is_int(check_on(w, &b, ITOK, t, &r), AO2_TOKEN_VALID,
           "B reads the counter made anew, a second later");
    set_counter(w, "5");
    revoke_on(w, &a, ITOK, t + 10);
    t += ao2_revlog_bound(b.rl);
    is_int(check_on(w, &b, ITOK, t, &r), AO2_TOKEN_INVALID,
           "B refuses the token A revoked below B's generation");
}

const ao2_test_case_t ao2_suite_validate[] = {
    {"log level respected", log_level_respected},
    {"foreign tokens, row by row", foreign_rows},
    {"foreign token scopes: scope or scp", foreign_scopes},
    {"introspection trouble", introspection_request},
    {"a foreign token without exp", undated_foreign_token},
    {"issued tokens, row by row", issued_rows},
    {"issued token identity, store down", issued_identity},
    {"cache hits", cache_hits},
    {"a cached verdict never crosses bindings", cache_never_crosses},
    {"a replayed verdict ends with its TTL", replayed_verdict},
    {"negative cache", negative_cache},
    {"forged verdicts, forget", forged_and_forgotten},
    {"no cache", no_cache},
    {"single flight: sequential misses", sequential_misses},
    {"single flight: the waiter gets the holder's verdict",
     waiter_gets_verdict},
    {"single flight: a waiter that gives up", waiter_gives_up},
    {"single flight: a failed lookup answers for a moment", failure_cached},
    {"a cap on provider calls", provider_cap},
    {"a JWT check turned away by the cap", jwt_busy},
    {"waiting for a provider call slot", provider_cap_waiters},
    {"the lock primitive", lock_primitive},
    {"the JWT verifier slot", jwt_slot},
    {"bindings", binding_accepts},
    {"the provider that introspects opaque tokens", introspector_choice},
    {"revocation log: a hit from the node-local copy", revlog_local_hit},
    {"revocation log: every memcached value put back after a revoke",
     revlog_replay},
    {"revocation log: a counter put back", revlog_old_generation},
    {"revocation log: a node started after the revoke", revlog_new_node},
    {"revocation log: a restart or a gap drops local copies", revlog_reset},
    {"revocation log: a start moves the generation on", revlog_start_mark},
    {"revocation log: a restart reads the journal back",
     revlog_journal_restart},
    {"revocation log: a forged counter near 2^64", revlog_forged_counter},
    {"revocation log: a revoke the log could not take", revlog_failed_write},
    {"revocation log: a counter put back below a reader",
     revlog_put_back_below},
    {"a connection's memo, shm", memo_shm},
    {"a connection's memo: a forget during the check",
     memo_forget_during_check},
    {"a connection's memo with the revocation log", memo_revlog},
    {"no connection memo without a node-local tier", memo_not_for_memcached},
    {"a revoke between a check's lookup and its cache write",
     forget_during_lookup},
    {NULL, NULL},
};
