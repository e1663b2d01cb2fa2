/* The whole Bearer decision, without httpd: cache, token store index,
 * local JWT verification (a callback), RFC 7662 introspection, userinfo,
 * verdicts, single flight and negative caching. ao2_bearer.c only reads the
 * header and passes the identity on; t/unit/test_validate.c drives this
 * file with a fake cache, store and provider. */
#ifndef AO2_VALIDATE_H
#define AO2_VALIDATE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "ao2_cache.h"
#include "ao2_crypto.h"
#include "ao2_gate.h"
#include "ao2_http.h"
#include "ao2_json.h"
#include "ao2_oauth2.h"
#include "ao2_revlog.h"
#include "ao2_store.h"
#include "ao2_verdict.h"

/* Log levels, the same numbers as httpd's APLOG_* (and syslog's). */
#define AO2_LOG_ERR     3
#define AO2_LOG_WARNING 4
#define AO2_LOG_INFO    6
#define AO2_LOG_DEBUG   7

/* What one protected location accepts. A token counts there only when it
 * was issued to one of its clients (same provider, same client id) or, for
 * a token this module did not issue, when its aud, azp or client_id names
 * one of them or one of the audiences. Made once per location
 * configuration, never per request. */
typedef struct ao2_binding {
    /* base64url SHA-256 over everything below that decides a verdict:
     * stored in each cached verdict, so that a verdict reached under one
     * binding is a miss under any other. */
    char id[AO2_SHA256_B64URL_LEN + 1];
    const apr_array_header_t *clients;   /* ao2_client_t *; may be NULL */
    const apr_array_header_t *audiences; /* const char *; may be NULL */
    /* Whom an opaque token is sent to for introspection: the first client
     * of the one provider of the location that introspects (introspect=,
     * or an issuer whose discovery may name the endpoint), or of the
     * provider ApiOAuth2IntrospectWith names. NULL when none does, or when
     * several do and none is named: nobody learns another provider's
     * tokens. */
    const ao2_client_t *introspector;
    /* Several providers introspect and none is named (start-up warning). */
    int introspectors_ambiguous;
    const char *introspect_with; /* ApiOAuth2IntrospectWith; may be NULL */
    const char *login_claim;     /* never NULL */
    /* 1: with login claim "email", only an email the provider calls
     * verified (email_verified true) is a login. */
    int email_verified;
    /* ApiOAuth2OdooDatabase; NULL: none. A token issued here counts only
     * where the database is the one it was issued for. */
    const char *db;
} ao2_binding_t;

/* introspect_with: ApiOAuth2IntrospectWith, a provider name; NULL: none.
 * login_claim is never NULL: the configuration has applied its default
 * (AO2_DEFAULT_LOGIN_CLAIM). Strings and arrays must outlive the binding
 * (configuration pool). */
ao2_binding_t *ao2_binding_make(apr_pool_t *p,
                                const apr_array_header_t *clients,
                                const apr_array_header_t *audiences,
                                const char *login_claim, int email_verified,
                                const char *db, const char *introspect_with);
/* 1 when a token of the provider named provider, for the party value
 * (client id or audience), counts under b. provider_id is the provider's
 * identity when the token was issued (ao2_provider_identity): it must be
 * the provider's identity now; NULL (entries written before it was kept):
 * the name alone decides. */
int ao2_binding_accepts(const ao2_binding_t *b, const char *provider,
                        const char *provider_id, const char *value);

/* The provider calls, swappable (tests): ao2_http_request's contract. */
typedef apr_status_t (*ao2_http_fn)(void *baton, apr_pool_t *p,
                                    const char *method, const char *url,
                                    const char *authorization, const char *form,
                                    ao2_http_response_t *out, const char **why);

/* A local verifier of tokens the module did not issue (JWT access tokens,
 * RFC 9068), tried before introspection. It checks signature, iss, exp,
 * nbf and that the JWT is an access token (typ at+jwt: an ID token is not
 * one); whom it is for, the login and email_verified are checked here, as
 * for introspection. */
typedef enum {
    AO2_JWT_PASS,    /* not a token for it (not a JWT): introspection next */
    AO2_JWT_VALID,   /* *claims, *expires_at (0: no exp) and *issuer (the
                        location's provider that signed it) are set */
    AO2_JWT_INVALID, /* a JWT that fails: refused */
    AO2_JWT_TROUBLE, /* could not decide (keys unreachable): 503 */
    /* could not decide now: the keys' first fetch is under way and no
     * call slot or waiting place was free (env->cap). 503 like TROUBLE,
     * but nothing failed, so nothing is remembered for the token. */
    AO2_JWT_BUSY
} ao2_jwt_e;
typedef ao2_jwt_e (*ao2_jwt_fn)(void *baton, apr_pool_t *p,
                                const ao2_binding_t *b, const char *token,
                                apr_int64_t now, const ao2_json_t **claims,
                                apr_int64_t *expires_at,
                                const ao2_provider_t **issuer);

/* msg is formatted already; it never contains a token or a secret. */
typedef void (*ao2_log_fn)(void *baton, int level, apr_status_t rv,
                           const char *msg);

/* What the decision works with: one per request, on the stack. */
typedef struct ao2_validate_env {
    ao2_store_t *store;
    struct server_rec *server; /* handed to the store only */
    const ao2_keys_t *keys;
    ao2_cache_t *cache;       /* NULL: no cache, no single flight */
    ao2_cache_t *local_cache; /* NULL: none */
    /* The cluster revocation log with a memcache cache; NULL: none. */
    ao2_revlog_t *revlog;
    apr_time_t now_us;             /* now, on apr_time_now()'s clock; 0: now */
    int cache_ttl;                 /* seconds a verdict is kept at most */
    int neg_ttl;                   /* seconds a rejection is kept */
    int local_ttl;                 /* seconds in local_cache */
    int lock_ttl;                  /* seconds a crashed lock holder blocks */
    apr_interval_time_t lock_wait; /* how long a waiter waits for it */
    int fail_ttl; /* seconds a failed lookup answers 503 without retrying */
    /* The gate on this process's provider calls (ao2_gate.h): its cap,
     * waiting room and wait; all zero: no cap. */
    ao2_gate_t calls;
    ao2_http_fn http;
    void *http_baton;
    ao2_jwt_fn jwt; /* NULL: no local JWT verification */
    void *jwt_baton;
    /* The provider with its discovered endpoints (configured ones win), NULL
     * when its metadata cannot be had now. NULL fn: as configured. */
    const ao2_provider_t *(*resolve)(void *baton, apr_pool_t *p,
                                     const ao2_provider_t *pv);
    void *resolve_baton;
    ao2_log_fn log;
    void *log_baton;
    /* Messages above this level are not even formatted (a flood of made-up
     * tokens makes one per request); 0: all. */
    int log_level;
    /* The connection's last good verdict (ao2_memo.h); NULL: none. */
    struct ao2_memo *memo;
} ao2_validate_env_t;

typedef enum {
    AO2_TOKEN_VALID,   /* *v holds the identity */
    AO2_TOKEN_INVALID, /* 401 invalid_token */
    AO2_TOKEN_TROUBLE  /* the store or the provider cannot say: 503 */
} ao2_outcome_e;

/* Decides on token (already syntax-checked, at most 4 KiB) at the location
 * bound by b. buf (AO2_VERDICT_MAX bytes) holds a cached verdict the
 * strings of *v may point into; otherwise they live in p. now: Unix
 * seconds. */
ao2_outcome_e ao2_validate(const ao2_validate_env_t *env,
                           const ao2_binding_t *b, apr_pool_t *p,
                           const char *token, apr_int64_t now, char *buf,
                           ao2_verdict_t *v);

/* Drops every cached verdict of token at once (revoke, refresh) and, with
 * cluster set and a revocation log, buries it there until until (Unix
 * seconds) for every server. Only env's caches, revlog, keys, now_us and
 * log are used. cluster 0: a token that never was a Bearer credential
 * (refresh and ID tokens, tombstoned at issue): nothing to tell. */
void ao2_validate_forget(const ao2_validate_env_t *env, const char *token,
                         apr_int64_t until, int cluster);

#endif
