/* The only cjose user: a provider's JSON Web Key Set (RFC 7517) and
 * compact JWS signatures (RFC 7515) checked against it. No httpd, no I/O:
 * what is signed and what the claims mean is the callers' business. */
#ifndef AO2_JOSE_H
#define AO2_JOSE_H

#include <apr_pools.h>

/* A JWKS document larger than this is refused, and so are keys past
 * AO2_JWKS_MAX_KEYS (providers publish a handful). */
#define AO2_JWKS_MAX_LEN  (64 * 1024)
#define AO2_JWKS_MAX_KEYS 32
/* A compact JWS larger than this is refused before any parsing. */
#define AO2_JWS_MAX_LEN (16 * 1024)

typedef struct ao2_jwks ao2_jwks_t;

/* The signature keys of a JWKS document: kty RSA or EC (P-256, P-384,
 * P-521), use "sig" or absent; encryption keys, symmetric keys and kinds
 * cjose cannot read (OKP) are skipped. The keys are released when p is.
 * NULL with *why (static text) when the document is not a JWKS, too large,
 * or has no usable key. */
ao2_jwks_t *ao2_jwks_parse(apr_pool_t *p, const char *doc, apr_size_t len,
                           const char **why);
/* Number of usable keys. */
int ao2_jwks_count(const ao2_jwks_t *keys);
/* 1 when a usable key has this kid. */
int ao2_jwks_has_kid(const ao2_jwks_t *keys, const char *kid);

typedef enum {
    AO2_JWS_OK = 0,
    AO2_JWS_MALFORMED,   /* not a compact JWS, too large, bad base64/JSON */
    AO2_JWS_BAD_ALG,     /* none, HS*, unknown, or a key of another kind */
    AO2_JWS_UNKNOWN_KID, /* the kid names no key of the set */
    AO2_JWS_NO_KEY,      /* no kid, and no key of that kind verifies */
    AO2_JWS_BAD_SIGNATURE,
    AO2_JWS_UNKNOWN_CRIT /* a "crit" header (RFC 7515 §4.1.11): we know none */
} ao2_jws_result_e;

/* What a checked JWS said about itself. */
typedef struct ao2_jws_info {
    const char *alg; /* from the protected header, NULL when unreadable */
    const char *kid; /* NULL when the header has none */
    const char *typ; /* NULL when the header has none */
} ao2_jws_info_t;

/* Verifies the compact JWS of len bytes against keys. The header's alg
 * must be one of RS256/384/512, PS256/384/512, ES256/384/512 and fit the
 * key: RSA keys only for RS/PS, EC keys only for ES with the curve the alg
 * names. A header with "crit" is refused: no extension is understood.
 * With a kid only that key is tried; without one, every key of the
 * fitting kind. On AO2_JWS_OK, *payload (NUL-terminated, in p) and
 * *payload_len are the verified payload. info may be NULL. */
ao2_jws_result_e ao2_jws_verify(apr_pool_t *p, const ao2_jwks_t *keys,
                                const char *compact, apr_size_t len,
                                char **payload, apr_size_t *payload_len,
                                ao2_jws_info_t *info);

/* A short text for a result, for logs. */
const char *ao2_jws_result_text(ao2_jws_result_e r);

/* 1 when text is shaped like a compact JWS (three base64url parts, two
 * dots): a cheap test before choosing JWT validation over introspection. */
int ao2_jws_looks_like(const char *text, apr_size_t len);

#endif
