/* The only libcrypto user: hashing, randomness, sealing values at rest,
 * authenticating values in shared caches. */
#ifndef AO2_CRYPTO_H
#define AO2_CRYPTO_H

#include <apr_pools.h>

#define AO2_SHA256_LEN     32
#define AO2_MASTER_KEY_MIN 32
#define AO2_MAC_TAG_LEN    16 /* truncated HMAC-SHA256 (RFC 2104 §5) */

/* What a MAC is made for. Each kind has a key of its own: a MAC made for
 * one kind never passes for another, whatever bytes the two share (their
 * prefixes alone kept them apart before). */
typedef enum {
    AO2_MAC_VERDICT = 0, /* verdicts in memcached */
    AO2_MAC_LOCK,        /* lock names (the whole HMAC, ao2_lock.c) */
    AO2_MAC_REVLOG,      /* revocation log entries in memcached */
    AO2_MAC_JOURNAL,     /* revocation journal records */
    AO2_MAC_KINDS
} ao2_mac_kind_e;

/* Keys derived from the operator's master key (HKDF-SHA256), one per use. */
typedef struct ao2_keys {
    unsigned char seal[32]; /* AES-256-GCM for values in the store */
    /* HMAC-SHA256, one per ao2_mac_kind_e */
    unsigned char mac[AO2_MAC_KINDS][32];
    /* The one MAC key of every kind before: revocation log entries and
     * journal records made under it still verify (ao2_mac_verify), so
     * that an upgrade forgets no tombstone. */
    unsigned char mac_v1[32];
} ao2_keys_t;

/* Fetches SHA-256, HMAC and AES-256-GCM once for the life of pool p (the
 * configuration pool: children inherit them), before any thread runs.
 * Without it every hash and MAC fetches its algorithm again (OpenSSL 3: a
 * locked lookup, more than the hash of a token costs). */
void ao2_crypto_init(apr_pool_t *p);

void ao2_sha256(const void *data, apr_size_t len,
                unsigned char out[AO2_SHA256_LEN]);

/* base64url (RFC 4648 §5) without padding of SHA-256(s). */
char *ao2_sha256_b64url(apr_pool_t *p, const void *data, apr_size_t len);
/* The same into a caller's buffer: for the per-request path, no pool. */
#define AO2_SHA256_B64URL_LEN 43
void ao2_sha256_b64url_into(const void *data, apr_size_t len,
                            char out[AO2_SHA256_B64URL_LEN + 1]);
/* base64url of a digest that is not secret (the hash or MAC of a token). */
void ao2_digest_b64url_into(const unsigned char md[AO2_SHA256_LEN],
                            char out[AO2_SHA256_B64URL_LEN + 1]);

/* Cryptographically strong random bytes; APR_EGENERAL when the CSPRNG fails. */
apr_status_t ao2_random_bytes(void *buf, apr_size_t len);

/* base64url of nbytes random bytes: state, nonce, PKCE verifier. NULL on
 * CSPRNG failure. */
char *ao2_random_b64url(apr_pool_t *p, apr_size_t nbytes);

char *ao2_b64url_encode(apr_pool_t *p, const unsigned char *in, apr_size_t len);
/* Accepts input with or without '=' padding; NUL-terminates *out (not
 * counted in *outlen). APR_EINVAL on any character outside the alphabet. */
apr_status_t ao2_b64url_decode(apr_pool_t *p, const char *in, apr_size_t inlen,
                               unsigned char **out, apr_size_t *outlen);
/* Standard base64 with padding (HTTP Basic). */
char *ao2_b64_encode(apr_pool_t *p, const unsigned char *in, apr_size_t len);

/* Constant-time equality of two buffers of one length n: for values whose
 * length is no secret. */
int ao2_ct_same(const void *a, const void *b, apr_size_t n);

/* Constant-time equality: compares SHA-256 digests, so the time depends
 * neither on the contents nor (up to 55 bytes a side) on the lengths. */
int ao2_ct_equal(const void *a, apr_size_t alen, const void *b,
                 apr_size_t blen);

apr_status_t ao2_keys_derive(ao2_keys_t *out, const unsigned char *master,
                             apr_size_t len);

/* HMAC-SHA256 (RFC 2104) under key of the concatenation a || b; either part
 * may be empty (NULL with length 0). APR_EINVAL for a NULL pointer with a
 * length, APR_EGENERAL (and out zeroed) when libcrypto fails. */
apr_status_t ao2_hmac_sha256(const void *key, apr_size_t keylen, const void *a,
                             apr_size_t alen, const void *b, apr_size_t blen,
                             unsigned char out[AO2_SHA256_LEN]);

/* The first AO2_MAC_TAG_LEN bytes of HMAC-SHA256 under kind's key over
 * a || b. The caller keeps the split unambiguous (a of a fixed length,
 * say). APR_EINVAL for a kind out of range. */
apr_status_t ao2_mac(const ao2_keys_t *k, ao2_mac_kind_e kind, const void *a,
                     apr_size_t alen, const void *b, apr_size_t blen,
                     unsigned char tag[AO2_MAC_TAG_LEN]);
/* 1 when tag is ao2_mac of a || b, compared in constant time (for the
 * revocation log and journal kinds also under k->mac_v1); 0 when it is
 * not, and when the MAC cannot be computed. */
int ao2_mac_verify(const ao2_keys_t *k, ao2_mac_kind_e kind, const void *a,
                   apr_size_t alen, const void *b, apr_size_t blen,
                   const unsigned char tag[AO2_MAC_TAG_LEN]);

/* Overwrites len bytes at buf with zeros in a way the compiler keeps: for
 * plaintext that held secrets. */
void ao2_cleanse(void *buf, apr_size_t len);

/* AES-256-GCM with a random 96-bit nonce; aad binds the ciphertext to its
 * record. Returns base64url(nonce | ciphertext | tag), NULL on failure. */
char *ao2_seal(apr_pool_t *p, const ao2_keys_t *k, const char *aad,
               const void *plain, apr_size_t len);
/* APR_EINVAL when the text is not a sealed value, APR_EGENERAL when the tag
 * does not verify (wrong key, tampered, other aad). *plain NUL-terminated. */
apr_status_t ao2_unseal(apr_pool_t *p, const ao2_keys_t *k, const char *aad,
                        const char *sealed, char **plain, apr_size_t *len);

#endif
