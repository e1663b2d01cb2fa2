/* What the store holds: token records, the access-token index and pending
 * authorization states, each a version byte followed by JSON. Secrets are
 * sealed with AES-256-GCM bound to the record's own key, so a value copied
 * under another key does not open. Pure: unit-tested without httpd. */
#ifndef AO2_RECORD_H
#define AO2_RECORD_H

#include <apr_pools.h>
#include "ao2_crypto.h"
#include "ao2_err.h"
#include "ao2_json.h"

#define AO2_RECORD_VERSION 0x01

typedef struct ao2_record {
    const char *api; /* the <Location> that serves the endpoints */
    const char *client_id;
    const char *user_identity;
    const char *provider;
    const char *access_token;  /* sealed at rest */
    const char *refresh_token; /* sealed at rest, may be NULL */
    const char *id_token;      /* sealed at rest, may be NULL */
    const char *token_type;
    const char *scope;
    const char *login;
    const char *db;
    apr_int64_t issued_at;  /* Unix seconds */
    apr_int64_t expires_at; /* Unix seconds; 0 when the provider gave none */
} ao2_record_t;

/* A pending authorization: created by authorize, taken once by callback. */
typedef struct ao2_state {
    const char *api;
    const char *client_id;
    const char *user_identity;
    const char *nonce;
    const char *code_verifier; /* sealed at rest */
    const char *redirect_uri;
    apr_int64_t expires_at;
} ao2_state_t;

/* Store keys: a prefix and base64url SHA-256, so no secret and no
 * client-chosen text of unbounded length is ever a key. */
const char *ao2_record_key(apr_pool_t *p, const char *api,
                           const char *client_id, const char *user_identity);
const char *ao2_index_key(apr_pool_t *p, const char *access_token);
const char *ao2_state_key(apr_pool_t *p, const char *state);

char *ao2_record_encode(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                        const ao2_record_t *rec, apr_size_t *len);
/* APR_EINVAL for a damaged or foreign-version value, APR_EGENERAL when the
 * secrets do not open (other key). */
apr_status_t ao2_record_decode(apr_pool_t *p, const ao2_keys_t *k,
                               const char *key, const char *val,
                               apr_size_t len, ao2_record_t *rec);

/* The index entry for an access token: enough to answer a Bearer check
 * without opening the record. */
typedef struct ao2_index {
    const char *record_key;
    const char *login;
    const char *db;
    const char *scope;
    apr_int64_t expires_at;
    int revoked; /* a tombstone: refreshed away or revoked here */
} ao2_index_t;

char *ao2_index_encode(apr_pool_t *p, const ao2_index_t *ix, apr_size_t *len);
apr_status_t ao2_index_decode(apr_pool_t *p, const char *val, apr_size_t len,
                              ao2_index_t *ix);

char *ao2_state_encode(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                       const ao2_state_t *st, apr_size_t *len);
apr_status_t ao2_state_decode(apr_pool_t *p, const ao2_keys_t *k,
                              const char *key, const char *val, apr_size_t len,
                              ao2_state_t *st);

/* The token information answered to API clients (SPEC "Token information");
 * expires_in counts from now. */
char *ao2_record_token_info(apr_pool_t *p, const ao2_record_t *rec,
                            apr_int64_t now);

#endif
