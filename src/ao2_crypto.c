/* Everything that touches libcrypto lives here, so the OpenSSL surface the
 * module depends on can be read (and audited) in one file. */
#include "ao2_crypto.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN   16
#define SEAL_OVERHEAD  (SEAL_NONCE_LEN + SEAL_TAG_LEN)

/* Sealed values are store records (AO2_STORE_MAX_VALUE is 16 KiB): a much
 * larger bound still keeps every length inside an int for the EVP calls and
 * stops a corrupted store from making us decode megabytes. */
#define SEAL_MAX_PLAIN (1024 * 1024)
#define SEAL_MAX_AAD   4096
#define SEAL_MAX_TEXT  (((SEAL_MAX_PLAIN + SEAL_OVERHEAD) + 2) / 3 * 4)

/* Changing this string changes every derived key: sealed data written under
 * the old one would no longer open. */
#define SEAL_KEY_INFO "mod_api_oauth2 seal v1"
/* The same for the key that authenticated every MACed value before each
 * kind had its own: still derived, to read what it made. */
#define MAC_V1_KEY_INFO "mod_api_oauth2 verdict mac v1"
/* One per ao2_mac_kind_e, in its order. */
static const char *const mac_key_info[AO2_MAC_KINDS] = {
    "mod_api_oauth2 verdict mac v2",
    "mod_api_oauth2 lock mac v2",
    "mod_api_oauth2 revocation log mac v2",
    "mod_api_oauth2 revocation journal mac v2",
};

/* --- Branch-free character classes ---------------------------------------
 *
 * Base64 encoding here carries client secrets and random secrets (PKCE
 * verifiers, states). A lookup table indexed by those bytes leaks them
 * through the cache, so their characters are mapped with masks instead (the
 * technique of libsodium's codecs). Decoding and the hashes of tokens carry
 * nothing secret and use tables (below). Each macro yields 0xFF for true and
 * 0 for false, for arguments in 0..255. */
#define CT_EQ(x, y)                                                            \
    ((((0U - ((unsigned int)(x) ^ (unsigned int)(y))) >> 8) & 0xFF) ^ 0xFF)
#define CT_GT(x, y) ((((unsigned int)(y) - (unsigned int)(x)) >> 8) & 0xFF)
#define CT_GE(x, y) (CT_GT(y, x) ^ 0xFF)
#define CT_LT(x, y) CT_GT(y, x)
#define CT_LE(x, y) CT_GE(y, x)

#define B64_INVALID 0xFF

typedef struct b64_alphabet {
    unsigned char c62, c63;
    int pad;
} b64_alphabet_t;

static const b64_alphabet_t b64url = {'-', '_', 0};
static const b64_alphabet_t b64std = {'+', '/', 1};

/* 'A' + x, shifted once x is past the capitals and again past the small
 * letters (into the digits); the last two come from the alphabet. Half the
 * work of a mask per range, on the path of every Bearer check (the cache
 * key is the token's hash in base64url). */
static unsigned char b64_char(const b64_alphabet_t *a, unsigned int x)
{
    unsigned int c = x + 'A';

    c += CT_GT(x, 25) & ('a' - 26 - 'A');
    c -= CT_GT(x, 51) & (('a' - 26) - ('0' - 52));
    return (unsigned char)((CT_LT(x, 62) & c) | (CT_EQ(x, 62) & a->c62) |
                           (CT_EQ(x, 63) & a->c63));
}

/* What is decoded is never secret: the nonce, ciphertext and tag of a
 * sealed value, the parts of a JWS (ao2_jose.c, ao2_oauth2.c). A table
 * serves them: the masks cost ~40 instructions a character, and a
 * first-seen Bearer token decodes its whole index entry. B64_INVALID for a
 * byte outside the alphabet (including '='). */
#define X B64_INVALID
static const unsigned char b64url_values[256] = {
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  62, X,  X,  52, 53, 54, 55, 56, 57, 58, 59, 60,
    61, X,  X,  X,  X,  X,  X,  X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
    11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,
    63, X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
    43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,
};
#undef X

static unsigned int b64url_value(unsigned int c)
{
    return b64url_values[c];
}

static apr_size_t b64_encoded_len(const b64_alphabet_t *a, apr_size_t len)
{
    apr_size_t rest = len % 3;

    return len / 3 * 4 + (rest ? (a->pad ? 4 : rest + 1) : 0);
}

/* Writes b64_encoded_len() characters and a NUL at out. */
static void b64_encode_into(const b64_alphabet_t *a, const unsigned char *in,
                            apr_size_t len, char *out)
{
    apr_size_t groups = len / 3, rest = len % 3, i;
    char *o = out;

    for (i = 0; i < groups * 3; i += 3) {
        unsigned int v = ((unsigned int)in[i] << 16) |
                         ((unsigned int)in[i + 1] << 8) | in[i + 2];
        *o++ = (char)b64_char(a, (v >> 18) & 63);
        *o++ = (char)b64_char(a, (v >> 12) & 63);
        *o++ = (char)b64_char(a, (v >> 6) & 63);
        *o++ = (char)b64_char(a, v & 63);
    }
    if (rest) {
        unsigned int v = (unsigned int)in[i] << 16;
        if (rest == 2) {
            v |= (unsigned int)in[i + 1] << 8;
        }
        *o++ = (char)b64_char(a, (v >> 18) & 63);
        *o++ = (char)b64_char(a, (v >> 12) & 63);
        if (rest == 2) {
            *o++ = (char)b64_char(a, (v >> 6) & 63);
        }
        if (a->pad) {
            *o++ = '=';
            if (rest == 1) {
                *o++ = '=';
            }
        }
    }
    *o = '\0';
}

/* The hash of a token (a cache, lock or store key, which memcached shows
 * anyway) is not secret: it is written from one cache line of characters,
 * in a tenth of the instructions of b64_char, on every Bearer check. */
static const char b64url_public[64] __attribute__((aligned(64))) =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void ao2_digest_b64url_into(const unsigned char md[AO2_SHA256_LEN],
                            char out[AO2_SHA256_B64URL_LEN + 1])
{
    int i;
    char *o = out;

    /* 32 bytes: ten groups of three, then two bytes (three characters). */
    for (i = 0; i < 30; i += 3) {
        unsigned int v = ((unsigned int)md[i] << 16) |
                         ((unsigned int)md[i + 1] << 8) | md[i + 2];
        *o++ = b64url_public[(v >> 18) & 63];
        *o++ = b64url_public[(v >> 12) & 63];
        *o++ = b64url_public[(v >> 6) & 63];
        *o++ = b64url_public[v & 63];
    }
    {
        unsigned int v =
            ((unsigned int)md[30] << 16) | ((unsigned int)md[31] << 8);
        *o++ = b64url_public[(v >> 18) & 63];
        *o++ = b64url_public[(v >> 12) & 63];
        *o++ = b64url_public[(v >> 6) & 63];
    }
    *o = '\0';
}

static char *b64_encode(apr_pool_t *p, const b64_alphabet_t *a,
                        const unsigned char *in, apr_size_t len)
{
    char *out;

    if (len / 3 > (APR_SIZE_MAX - 5) / 4) {
        return NULL;
    }
    out = apr_palloc(p, b64_encoded_len(a, len) + 1);
    b64_encode_into(a, in, len, out);
    return out;
}

char *ao2_b64url_encode(apr_pool_t *p, const unsigned char *in, apr_size_t len)
{
    return b64_encode(p, &b64url, in, len);
}

char *ao2_b64_encode(apr_pool_t *p, const unsigned char *in, apr_size_t len)
{
    return b64_encode(p, &b64std, in, len);
}

apr_status_t ao2_b64url_decode(apr_pool_t *p, const char *in, apr_size_t inlen,
                               unsigned char **out, apr_size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    apr_size_t pad = 0, n, rest, len, i;
    unsigned char *buf, *o;
    unsigned int bad = 0;

    *out = NULL;
    *outlen = 0;
    if (!in && inlen) {
        return APR_EINVAL;
    }
    while (pad < inlen && pad < 3 && s[inlen - 1 - pad] == '=') {
        pad++;
    }
    n = inlen - pad;
    rest = n % 4;
    /* Padding, when present, must be exactly what completes the last group:
     * one accepted spelling per value keeps decoded values comparable. */
    if (pad && (inlen % 4 != 0 || pad != 4 - rest)) {
        return APR_EINVAL;
    }
    if (rest == 1) {
        return APR_EINVAL;
    }
    len = n / 4 * 3 + (rest ? rest - 1 : 0);
    o = buf = apr_palloc(p, len + 1);

    for (i = 0; i + 4 <= n; i += 4) {
        unsigned int a = b64url_value(s[i]), b = b64url_value(s[i + 1]),
                     c = b64url_value(s[i + 2]), d = b64url_value(s[i + 3]);
        unsigned int v = (a << 18) | (b << 12) | (c << 6) | d;
        bad |= (a | b | c | d) & 0x80;
        *o++ = (unsigned char)(v >> 16);
        *o++ = (unsigned char)(v >> 8);
        *o++ = (unsigned char)v;
    }
    if (rest) {
        unsigned int a = b64url_value(s[i]), b = b64url_value(s[i + 1]);
        unsigned int c = rest == 3 ? b64url_value(s[i + 2]) : 0;
        unsigned int v = (a << 18) | (b << 12) | (c << 6);
        bad |= (a | b | c) & 0x80;
        /* Bits below the last whole byte must be zero, or several strings
         * would decode to the same bytes. */
        bad |= v & (rest == 2 ? 0xFFFF : 0xFF);
        *o++ = (unsigned char)(v >> 16);
        if (rest == 3) {
            *o++ = (unsigned char)(v >> 8);
        }
    }
    *o = '\0';
    if (bad) {
        OPENSSL_cleanse(buf, len);
        return APR_EINVAL;
    }
    *out = buf;
    *outlen = len;
    return APR_SUCCESS;
}

/* Set by ao2_crypto_init, only read afterwards; NULL: fetched per call. */
static EVP_MD *fetched_sha256;
static EVP_MAC *fetched_hmac;
static EVP_CIPHER *fetched_gcm;

/* Each thread's own digest and HMAC contexts, made at its first use and
 * reused: a new context per call allocates and frees libcrypto's state
 * (for HMAC three digest contexts), about as much work as hashing a token.
 * The HMAC context keeps the last key it was given, so that a MAC under the
 * same key (nearly always the verdict key, on the hit path) starts from the
 * key's precomputed pads. libcrypto's allocator, not a pool: the contexts
 * live as long as the thread, and go with it (thread_contexts_free). */
typedef struct thread_contexts {
    EVP_MD_CTX *md;
    EVP_MAC_CTX *mac;
    unsigned char mac_key[64];
    apr_size_t mac_keylen;
    int mac_keyed;
} thread_contexts_t;

static apr_threadkey_t *contexts_key;

static void thread_contexts_free(void *data)
{
    thread_contexts_t *tc = data;

    if (tc == NULL)
        return;
    EVP_MD_CTX_free(tc->md);
    EVP_MAC_CTX_free(tc->mac);
    OPENSSL_clear_free(tc, sizeof(*tc));
}

/* This thread's contexts; NULL without ao2_crypto_init (unit tests,
 * fuzzers) or when libcrypto cannot allocate: the caller then makes its
 * own for the call. */
static thread_contexts_t *thread_contexts(void)
{
    thread_contexts_t *tc = NULL;

    if (contexts_key == NULL ||
        apr_threadkey_private_get((void **)&tc, contexts_key) != APR_SUCCESS)
        return NULL;
    if (tc)
        return tc;
    tc = OPENSSL_zalloc(sizeof(*tc));
    if (tc == NULL)
        return NULL;
    tc->md = EVP_MD_CTX_new();
    tc->mac = fetched_hmac ? EVP_MAC_CTX_new(fetched_hmac) : NULL;
    if (tc->md == NULL || tc->mac == NULL ||
        apr_threadkey_private_set(tc, contexts_key) != APR_SUCCESS) {
        thread_contexts_free(tc);
        return NULL;
    }
    return tc;
}

/* With the pool: the module's DSO may be unloaded after it (restart). The
 * calling thread's contexts go too; other threads' (none in the parent,
 * which runs this) would go when they end. */
static apr_status_t crypto_cleanup(void *data)
{
    thread_contexts_t *tc = NULL;

    if (contexts_key) {
        if (apr_threadkey_private_get((void **)&tc, contexts_key) ==
                APR_SUCCESS &&
            tc) {
            apr_threadkey_private_set(NULL, contexts_key);
            thread_contexts_free(tc);
        }
        apr_threadkey_private_delete(contexts_key);
        contexts_key = NULL;
    }
    EVP_MD_free(fetched_sha256);
    EVP_MAC_free(fetched_hmac);
    EVP_CIPHER_free(fetched_gcm);
    fetched_sha256 = NULL;
    fetched_hmac = NULL;
    fetched_gcm = NULL;
    return APR_SUCCESS;
}

void ao2_crypto_init(apr_pool_t *p)
{
    if (fetched_sha256 || fetched_hmac || fetched_gcm)
        return;
    fetched_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    fetched_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    fetched_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (fetched_sha256 && fetched_hmac &&
        apr_threadkey_private_create(&contexts_key, thread_contexts_free, p) !=
            APR_SUCCESS)
        contexts_key = NULL;
    apr_pool_cleanup_register(p, NULL, crypto_cleanup, apr_pool_cleanup_null);
}

/* Returns 0 on failure so the callers decide how to fail. */
static int sha256(const void *data, apr_size_t len,
                  unsigned char out[AO2_SHA256_LEN])
{
    thread_contexts_t *tc = thread_contexts();
    unsigned int outlen = 0;

    if (tc == NULL)
        return EVP_Digest(data, len, out, &outlen,
                          fetched_sha256 ? fetched_sha256 : EVP_sha256(),
                          NULL) == 1 &&
               outlen == AO2_SHA256_LEN;
    /* Init on a context that already has SHA-256 keeps its state buffer. */
    return EVP_DigestInit_ex2(tc->md, fetched_sha256, NULL) == 1 &&
           EVP_DigestUpdate(tc->md, data, len) == 1 &&
           EVP_DigestFinal_ex(tc->md, out, &outlen) == 1 &&
           outlen == AO2_SHA256_LEN;
}

/* Eight bytes a step: CRYPTO_memcmp goes a byte at a time, and a
 * connection's memo compares a JWT of a kilobyte on every request. No
 * branch depends on the contents until the one on the sum of differences. */
int ao2_ct_same(const void *a, const void *b, apr_size_t n)
{
    const unsigned char *x = a, *y = b;
    apr_uint64_t diff = 0, wx, wy;
    apr_size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&wx, x + i, 8);
        memcpy(&wy, y + i, 8);
        diff |= wx ^ wy;
    }
    for (; i < n; i++)
        diff |= (apr_uint64_t)(x[i] ^ y[i]);
    return diff == 0;
}

/* The digests of both sides are compared, not the sides: the comparison is
 * always 32 bytes, so neither the contents nor the length of a configured
 * secret shows in its time, and an unequal length answers no sooner. Hashing
 * one side costs a SHA-256 block per 64 bytes of it: any secret of up to 55
 * bytes costs the same one block. */
int ao2_ct_equal(const void *a, apr_size_t alen, const void *b, apr_size_t blen)
{
    unsigned char da[AO2_SHA256_LEN], db[AO2_SHA256_LEN];
    int hashed =
        sha256(alen ? a : "", alen, da) & sha256(blen ? b : "", blen, db);
    int same = CRYPTO_memcmp(da, db, AO2_SHA256_LEN) == 0;

    return hashed & same & (alen == blen);
}

void ao2_sha256(const void *data, apr_size_t len,
                unsigned char out[AO2_SHA256_LEN])
{
    /* The interface has no way to report a failure, and any fixed output
     * would make different inputs (token hashes used as store keys, PKCE
     * challenges) compare equal. EVP_Digest fails only when it cannot
     * allocate or libcrypto is misconfigured; httpd aborts on allocation
     * failure as well. */
    if (!sha256(data, len, out)) {
        abort();
    }
}

void ao2_sha256_b64url_into(const void *data, apr_size_t len,
                            char out[AO2_SHA256_B64URL_LEN + 1])
{
    unsigned char md[AO2_SHA256_LEN];

    ao2_sha256(data, len, md);
    ao2_digest_b64url_into(md, out);
}

char *ao2_sha256_b64url(apr_pool_t *p, const void *data, apr_size_t len)
{
    char *out = apr_palloc(p, AO2_SHA256_B64URL_LEN + 1);

    ao2_sha256_b64url_into(data, len, out);
    return out;
}

apr_status_t ao2_random_bytes(void *buf, apr_size_t len)
{
    unsigned char *b = buf;

    /* RAND_bytes takes an int length. */
    while (len > 0) {
        int chunk = len > 1024 * 1024 ? 1024 * 1024 : (int)len;
        if (RAND_bytes(b, chunk) != 1) {
            return APR_EGENERAL;
        }
        b += chunk;
        len -= (apr_size_t)chunk;
    }
    return APR_SUCCESS;
}

char *ao2_random_b64url(apr_pool_t *p, apr_size_t nbytes)
{
    unsigned char *raw = apr_palloc(p, nbytes ? nbytes : 1);
    char *text = NULL;

    if (ao2_random_bytes(raw, nbytes) == APR_SUCCESS) {
        text = ao2_b64url_encode(p, raw, nbytes);
    }
    /* The raw bytes are the secret (a PKCE verifier, say) and would
     * otherwise stay in the pool until it is cleared. */
    OPENSSL_cleanse(raw, nbytes);
    return text;
}

/* HKDF-SHA256 of the master key with info, into len bytes at out. No salt:
 * the master key is already uniformly random (operators generate it), which
 * is the case RFC 5869 §3.1 allows. 1 on success. */
static int hkdf(EVP_KDF_CTX *kctx, const unsigned char *master,
                apr_size_t masterlen, const char *info, unsigned char *out,
                apr_size_t len)
{
    OSSL_PARAM params[4];
    char digest[] = "SHA256";

    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  (void *)master, masterlen);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  (void *)info, strlen(info));
    params[3] = OSSL_PARAM_construct_end();
    return EVP_KDF_derive(kctx, out, len, params) == 1;
}

apr_status_t ao2_keys_derive(ao2_keys_t *out, const unsigned char *master,
                             apr_size_t len)
{
    EVP_KDF *kdf;
    EVP_KDF_CTX *kctx = NULL;
    int ok = 0, i;

    if (!out || !master || len < AO2_MASTER_KEY_MIN) {
        return APR_EINVAL;
    }
    kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (kdf) {
        kctx = EVP_KDF_CTX_new(kdf);
        EVP_KDF_free(kdf);
    }
    if (kctx) {
        ok = hkdf(kctx, master, len, SEAL_KEY_INFO, out->seal,
                  sizeof(out->seal)) &&
             hkdf(kctx, master, len, MAC_V1_KEY_INFO, out->mac_v1,
                  sizeof(out->mac_v1));
        for (i = 0; ok && i < AO2_MAC_KINDS; i++)
            ok = hkdf(kctx, master, len, mac_key_info[i], out->mac[i],
                      sizeof(out->mac[i]));
        EVP_KDF_CTX_free(kctx);
    }
    if (!ok) {
        OPENSSL_cleanse(out, sizeof(*out));
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* The copy of the last key is a secret too: not left behind once it no
 * longer stands for the context's key. */
static void hmac_unkey(thread_contexts_t *tc)
{
    OPENSSL_cleanse(tc->mac_key, sizeof(tc->mac_key));
    tc->mac_keylen = 0;
    tc->mac_keyed = 0;
}

/* Keys the thread's HMAC context, or finds it keyed with the same key
 * already (compared in constant time: both sides are secrets). 1 on
 * success. */
static int hmac_key(thread_contexts_t *tc, const void *key, apr_size_t keylen)
{
    OSSL_PARAM params[2];
    char digest[] = "SHA256";

    if (tc->mac_keyed && keylen == tc->mac_keylen &&
        CRYPTO_memcmp(tc->mac_key, key, keylen) == 0)
        /* NULL key: the one set before, from its saved pads. */
        return EVP_MAC_init(tc->mac, NULL, 0, NULL) == 1;
    hmac_unkey(tc);
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(tc->mac, key, keylen, params) != 1)
        return 0;
    /* Only keys that fit are remembered; a longer one is keyed each time. */
    if (keylen <= sizeof(tc->mac_key)) {
        memcpy(tc->mac_key, key, keylen);
        tc->mac_keylen = keylen;
        tc->mac_keyed = 1;
    }
    return 1;
}

static int hmac_compute(EVP_MAC_CTX *ctx, const void *a, apr_size_t alen,
                        const void *b, apr_size_t blen,
                        unsigned char out[AO2_SHA256_LEN])
{
    size_t outlen = 0;

    return (alen == 0 || EVP_MAC_update(ctx, a, alen) == 1) &&
           (blen == 0 || EVP_MAC_update(ctx, b, blen) == 1) &&
           EVP_MAC_final(ctx, out, &outlen, AO2_SHA256_LEN) == 1 &&
           outlen == AO2_SHA256_LEN;
}

apr_status_t ao2_hmac_sha256(const void *key, apr_size_t keylen, const void *a,
                             apr_size_t alen, const void *b, apr_size_t blen,
                             unsigned char out[AO2_SHA256_LEN])
{
    /* A NULL key would mean "the key set before" to EVP_MAC_init. */
    const void *keybytes = key ? key : "";
    thread_contexts_t *tc;
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    char digest[] = "SHA256";
    int ok = 0;

    if (!out || (!key && keylen) || (!a && alen) || (!b && blen)) {
        return APR_EINVAL;
    }
    if ((tc = thread_contexts()) != NULL) {
        ok = hmac_key(tc, keybytes, keylen) &&
             hmac_compute(tc->mac, a, alen, b, blen, out);
        if (!ok)
            hmac_unkey(tc);
    } else {
        /* Fetched once (ao2_crypto_init), else per call. */
        mac = fetched_hmac ? fetched_hmac : EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (mac) {
            ctx = EVP_MAC_CTX_new(mac);
            if (mac != fetched_hmac)
                EVP_MAC_free(mac);
        }
        if (ctx) {
            params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                         digest, 0);
            params[1] = OSSL_PARAM_construct_end();
            ok = EVP_MAC_init(ctx, keybytes, keylen, params) == 1 &&
                 hmac_compute(ctx, a, alen, b, blen, out);
            /* Frees the keyed state with OPENSSL_clear_free. */
            EVP_MAC_CTX_free(ctx);
        }
    }
    if (!ok) {
        OPENSSL_cleanse(out, AO2_SHA256_LEN);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static apr_status_t mac_under(const unsigned char key[32], const void *a,
                              apr_size_t alen, const void *b, apr_size_t blen,
                              unsigned char tag[AO2_MAC_TAG_LEN])
{
    unsigned char full[AO2_SHA256_LEN];
    apr_status_t rv = ao2_hmac_sha256(key, 32, a, alen, b, blen, full);

    memcpy(tag, full, AO2_MAC_TAG_LEN);
    OPENSSL_cleanse(full, sizeof(full));
    return rv;
}

apr_status_t ao2_mac(const ao2_keys_t *k, ao2_mac_kind_e kind, const void *a,
                     apr_size_t alen, const void *b, apr_size_t blen,
                     unsigned char tag[AO2_MAC_TAG_LEN])
{
    if (!k || !tag || (unsigned int)kind >= AO2_MAC_KINDS) {
        return APR_EINVAL;
    }
    return mac_under(k->mac[kind], a, alen, b, blen, tag);
}

static int tag_is(const unsigned char key[32], const void *a, apr_size_t alen,
                  const void *b, apr_size_t blen,
                  const unsigned char tag[AO2_MAC_TAG_LEN])
{
    unsigned char want[AO2_MAC_TAG_LEN];
    int good = mac_under(key, a, alen, b, blen, want) == APR_SUCCESS &&
               CRYPTO_memcmp(want, tag, AO2_MAC_TAG_LEN) == 0;

    OPENSSL_cleanse(want, sizeof(want));
    return good;
}

/* A verdict is made again when it does not verify: only what would forget
 * a revoke is still read under the key of before. */
int ao2_mac_verify(const ao2_keys_t *k, ao2_mac_kind_e kind, const void *a,
                   apr_size_t alen, const void *b, apr_size_t blen,
                   const unsigned char tag[AO2_MAC_TAG_LEN])
{
    if (!k || !tag || (unsigned int)kind >= AO2_MAC_KINDS) {
        return 0;
    }
    if (tag_is(k->mac[kind], a, alen, b, blen, tag))
        return 1;
    return (kind == AO2_MAC_REVLOG || kind == AO2_MAC_JOURNAL) &&
           tag_is(k->mac_v1, a, alen, b, blen, tag);
}

void ao2_cleanse(void *buf, apr_size_t len)
{
    if (buf && len) {
        OPENSSL_cleanse(buf, len);
    }
}

/* Sets up AES-256-GCM in either direction with our nonce length and feeds the
 * aad; 1 on success. */
static int gcm_start(EVP_CIPHER_CTX *ctx, int encrypt, const ao2_keys_t *k,
                     const unsigned char *nonce, const char *aad,
                     apr_size_t aadlen)
{
    int outl;

    if (EVP_CipherInit_ex(ctx, fetched_gcm ? fetched_gcm : EVP_aes_256_gcm(),
                          NULL, NULL, NULL, encrypt) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, SEAL_NONCE_LEN,
                            NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, k->seal, nonce, encrypt) != 1) {
        return 0;
    }
    if (aadlen > 0 &&
        EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *)aad,
                         (int)aadlen) != 1) {
        return 0;
    }
    return 1;
}

char *ao2_seal(apr_pool_t *p, const ao2_keys_t *k, const char *aad,
               const void *plain, apr_size_t len)
{
    EVP_CIPHER_CTX *ctx;
    unsigned char *raw, *ct;
    apr_size_t aadlen;
    int outl = 0, finl = 0, ok = 0;
    char *text = NULL;

    if (!k || (!plain && len) || len > SEAL_MAX_PLAIN) {
        return NULL;
    }
    aad = aad ? aad : "";
    aadlen = strlen(aad);
    if (aadlen > SEAL_MAX_AAD) {
        return NULL;
    }
    raw = apr_palloc(p, SEAL_OVERHEAD + len);
    ct = raw + SEAL_NONCE_LEN;
    /* A random 96-bit nonce per seal: with one key, collisions become likely
     * only after about 2^32 seals (NIST SP 800-38D §8.3), far beyond the
     * number of records a store holds between key changes. */
    if (ao2_random_bytes(raw, SEAL_NONCE_LEN) != APR_SUCCESS) {
        return NULL;
    }
    ctx = EVP_CIPHER_CTX_new();
    if (ctx) {
        ok = gcm_start(ctx, 1, k, raw, aad, aadlen) &&
             (len == 0 ||
              EVP_EncryptUpdate(ctx, ct, &outl, plain, (int)len) == 1) &&
             EVP_EncryptFinal_ex(ctx, ct + outl, &finl) == 1 &&
             (apr_size_t)outl + (apr_size_t)finl == len &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SEAL_TAG_LEN,
                                 ct + len) == 1;
        EVP_CIPHER_CTX_free(ctx);
    }
    if (ok) {
        text = ao2_b64url_encode(p, raw, SEAL_OVERHEAD + len);
    }
    return text;
}

apr_status_t ao2_unseal(apr_pool_t *p, const ao2_keys_t *k, const char *aad,
                        const char *sealed, char **plain, apr_size_t *len)
{
    EVP_CIPHER_CTX *ctx;
    unsigned char *raw, *out;
    apr_size_t rawlen, textlen, aadlen, ctlen;
    int outl = 0, finl = 0, ok = 0;

    *plain = NULL;
    if (len) {
        *len = 0;
    }
    if (!k || !sealed) {
        return APR_EINVAL;
    }
    aad = aad ? aad : "";
    aadlen = strlen(aad);
    if (aadlen > SEAL_MAX_AAD) {
        return APR_EINVAL;
    }
    textlen = strnlen(sealed, SEAL_MAX_TEXT + 1);
    if (textlen > SEAL_MAX_TEXT ||
        ao2_b64url_decode(p, sealed, textlen, &raw, &rawlen) != APR_SUCCESS ||
        rawlen < SEAL_OVERHEAD) {
        return APR_EINVAL;
    }
    ctlen = rawlen - SEAL_OVERHEAD;
    out = apr_palloc(p, ctlen + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx) {
        ok = gcm_start(ctx, 0, k, raw, aad, aadlen) &&
             (ctlen == 0 ||
              EVP_DecryptUpdate(ctx, out, &outl, raw + SEAL_NONCE_LEN,
                                (int)ctlen) == 1) &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG_LEN,
                                 raw + SEAL_NONCE_LEN + ctlen) == 1 &&
             EVP_DecryptFinal_ex(ctx, out + outl, &finl) == 1 &&
             (apr_size_t)outl + (apr_size_t)finl == ctlen;
        EVP_CIPHER_CTX_free(ctx);
    }
    if (!ok) {
        /* GCM decrypts before it verifies: never leave unauthenticated
         * plaintext behind in the pool. */
        OPENSSL_cleanse(out, ctlen);
        return APR_EGENERAL;
    }
    out[ctlen] = '\0';
    *plain = (char *)out;
    if (len) {
        *len = ctlen;
    }
    return APR_SUCCESS;
}
