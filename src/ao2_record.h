/* What the store holds: token records, the access-token index and pending
 * authorization states, each a version byte followed by its whole JSON
 * sealed with AES-256-GCM (ao2_seal) under the store key as aad. The store
 * may be a memcached or redis that others can write: nothing in a value is
 * read unless it was written with our key, under this very store key, so a
 * value cannot be forged, altered or copied under another key (a record
 * read as an index entry, say). Pure: unit-tested without httpd. */
#ifndef AO2_RECORD_H
#define AO2_RECORD_H

#include <apr_pools.h>
#include <apr_time.h>
#include "ao2_crypto.h"
#include "ao2_err.h"
#include "ao2_json.h"

/* 0x01 was plain JSON with only the secrets sealed: no longer read. */
#define AO2_RECORD_VERSION 0x02

typedef struct ao2_record {
    const char *api; /* the <Location> that serves the endpoints */
    const char *client_id;
    const char *user_identity;
    const char *provider;
    /* ao2_provider_identity of the provider then; NULL in records written
     * before it was kept (judged by the provider's name alone). */
    const char *provider_id;
    const char *access_token;
    const char *refresh_token; /* may be NULL */
    const char *id_token;      /* may be NULL */
    const char *token_type;
    const char *scope;
    const char *login;
    const char *db;
    apr_int64_t issued_at;  /* Unix seconds */
    apr_int64_t expires_at; /* Unix seconds; 0 when the provider gave none */
    /* The claim login came from, and whether it is an email the provider
     * called verified; login_claim NULL in records written before. */
    const char *login_claim;
    int email_verified;
    /* Unix milliseconds of the refresh grant that got these tokens; 0 when
     * a callback got them, and in records written before it was kept. */
    apr_int64_t refreshed_ms;
} ao2_record_t;

/* A pending authorization: created by authorize, taken once by callback. */
typedef struct ao2_state {
    const char *api;
    const char *client_id;
    const char *user_identity;
    const char *nonce;
    const char *code_verifier;
    const char *redirect_uri;
    apr_int64_t expires_at;
} ao2_state_t;

/* Store keys: a prefix and base64url SHA-256, so no secret and no
 * client-chosen text of unbounded length is ever a key. */
const char *ao2_record_key(apr_pool_t *p, const char *api,
                           const char *client_id, const char *user_identity);
const char *ao2_index_key(apr_pool_t *p, const char *access_token);
/* The same from the token's ao2_sha256_b64url, when the caller has it. */
const char *ao2_index_key_of_hash(apr_pool_t *p, const char *hash);
const char *ao2_state_key(apr_pool_t *p, const char *state);

/* Encoders: the value to store under key (NUL-terminated too, not counted
 * in *len), NULL when it cannot be sealed. Decoders: APR_EINVAL for what is
 * not a value of ours (other version, truncated, not sealed text) or lacks
 * a required member, APR_EGENERAL when the tag does not verify (another
 * ApiOAuth2StoreKey, tampered, or copied from another key); the output is all
 * NULL and 0 on any failure. Strings live as long as p. */
char *ao2_record_encode(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                        const ao2_record_t *rec, apr_size_t *len);
apr_status_t ao2_record_decode(apr_pool_t *p, const ao2_keys_t *k,
                               const char *key, const char *val, apr_size_t len,
                               ao2_record_t *rec);

/* The index entry for an access token: enough to answer a Bearer check
 * without opening the record. */
typedef struct ao2_index {
    const char *record_key;
    const char *login;
    const char *db;
    const char *scope;
    apr_int64_t expires_at;
    int revoked; /* a tombstone: refreshed away or revoked here */
    /* Whom it was issued to: the Bearer check accepts it only where this
     * provider's client counts (ao2_binding_accepts). NULL in tombstones,
     * and in entries written before bindings (refused). */
    const char *provider;
    const char *client_id;
    /* ao2_provider_identity when it was issued; NULL in tombstones and in
     * entries written before it was kept (judged by the name alone). */
    const char *provider_id;
    /* The record's login_claim and email_verified: the login counts only
     * where the location takes its login from that claim and, with
     * ApiOAuth2EmailVerified required, where it is a verified email. NULL
     * in tombstones and in entries written before they were kept. */
    const char *login_claim;
    int email_verified;
} ao2_index_t;

char *ao2_index_encode(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                       const ao2_index_t *ix, apr_size_t *len);
apr_status_t ao2_index_decode(apr_pool_t *p, const ao2_keys_t *k,
                              const char *key, const char *val, apr_size_t len,
                              ao2_index_t *ix);

char *ao2_state_encode(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                       const ao2_state_t *st, apr_size_t *len);
apr_status_t ao2_state_decode(apr_pool_t *p, const ao2_keys_t *k,
                              const char *key, const char *val, apr_size_t len,
                              ao2_state_t *st);

/* What a /token call does with the record it read: 1 when a refresh
 * grant is due, 0 when the record's tokens are the answer. seen is the
 * access token read before waiting for the refresh lock (NULL before it):
 * another one now means the lock's holder refreshed for this caller.
 * Otherwise tokens that a refresh got less than window seconds before now
 * are the answer while they have not expired: the callers of a burst,
 * arriving before or after that refresh ended, get its tokens, and none of
 * them is ended by another caller's refresh. A refresh time ahead of now
 * (another server's clock) counts as long, not longer. */
int ao2_record_refresh_due(const ao2_record_t *rec, const char *seen,
                           apr_time_t now, int window);

/* Until when (Unix seconds) the tombstone of a token that expires at
 * expires_at (0: not known; then now + fallback) is kept: past its expiry
 * by the largest leeway a provider may have, since a JWT is accepted that
 * long after its exp, and a provider's clock may run behind ours. */
apr_int64_t ao2_tombstone_until(apr_int64_t expires_at, apr_int64_t now,
                                apr_int64_t fallback);

/* The token information answered to API clients (SPEC "Token information");
 * expires_in counts from now. */
char *ao2_record_token_info(apr_pool_t *p, const ao2_record_t *rec,
                            apr_int64_t now);

#endif
