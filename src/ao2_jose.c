/* JWKS and JWS on cjose. cjose checks a signature with whatever algorithm
 * the token's header names, so everything that decides *which* algorithm
 * and *which* key may be used is here, before cjose is asked: no "none", no
 * HMAC (whose key would be the public key anybody can read), no key of
 * another kind or curve than the algorithm needs. */
#include "ao2_jose.h"

#include <apr_strings.h>
#include <apr_tables.h>
#include <string.h>

#include <cjose/cjose.h>

#include "ao2_crypto.h"
#include "ao2_json.h"

/* Smaller RSA moduli are factorable today (NIST SP 800-131A). */
#define MIN_RSA_BITS 2048

typedef struct jose_key {
    cjose_jwk_t *jwk;
    cjose_jwk_kty_t kty;
    int curve;       /* cjose_jwk_ec_curve for EC keys, else 0 */
    const char *kid; /* NULL when the key has none */
    const char *alg; /* the key's own "alg" (RFC 7517 §4.4), may be NULL */
} jose_key_t;

struct ao2_jwks {
    apr_array_header_t *keys; /* jose_key_t */
};

/* The algorithms accepted, and the key each needs. */
static const struct {
    const char *name;
    cjose_jwk_kty_t kty;
    int curve; /* for EC */
} algs[] = {
    {"RS256", CJOSE_JWK_KTY_RSA, 0},
    {"RS384", CJOSE_JWK_KTY_RSA, 0},
    {"RS512", CJOSE_JWK_KTY_RSA, 0},
    {"PS256", CJOSE_JWK_KTY_RSA, 0},
    {"PS384", CJOSE_JWK_KTY_RSA, 0},
    {"PS512", CJOSE_JWK_KTY_RSA, 0},
    {"ES256", CJOSE_JWK_KTY_EC, CJOSE_JWK_EC_P_256},
    {"ES384", CJOSE_JWK_KTY_EC, CJOSE_JWK_EC_P_384},
    {"ES512", CJOSE_JWK_KTY_EC, CJOSE_JWK_EC_P_521},
};

static apr_status_t jwk_release(void *data)
{
    cjose_jwk_release(data);
    return APR_SUCCESS;
}

/* The members of a JWK that cjose decodes as base64url (RFC 7518 §6.2,
 * §6.3). cjose asserts on some malformed ones (a '=' inside "y": found by
 * t/fuzz's jws harness), which would abort the httpd child reading the
 * provider's JWKS: each must be the unpadded base64url RFC 7515 §2 asks
 * for, checked here first. */
static const char *const key_members[] = {"n",  "e",  "d", "p", "q", "dp",
                                          "dq", "qi", "x", "y", NULL};

static int key_material_ok(apr_pool_t *p, const ao2_json_t *k)
{
    unsigned char *raw;
    apr_size_t rawlen;
    int i;

    for (i = 0; key_members[i]; i++) {
        const char *v = ao2_json_str(k, key_members[i]);
        if (v == NULL) {
            if (ao2_json_has(k, key_members[i]))
                return 0; /* there, but not a string */
            continue;
        }
        if (*v == '\0' || strchr(v, '=') != NULL ||
            ao2_b64url_decode(p, v, strlen(v), &raw, &rawlen) != APR_SUCCESS)
            return 0;
    }
    return 1;
}

/* One member of "keys": 1 when it became a usable key. */
static int add_key(apr_pool_t *p, ao2_jwks_t *set, const ao2_json_t *k)
{
    const char *kty = ao2_json_str(k, "kty");
    const char *use = ao2_json_str(k, "use");
    const char *text;
    cjose_err err;
    jose_key_t key;

    if (kty == NULL || (strcmp(kty, "RSA") && strcmp(kty, "EC")))
        return 0;
    if (use != NULL && strcmp(use, "sig") != 0)
        return 0;
    if (ao2_json_has(k, "use") && use == NULL)
        return 0;
    if (!key_material_ok(p, k))
        return 0;
    text = ao2_json_dump(p, k);
    if (text == NULL)
        return 0;
    memset(&key, 0, sizeof(key));
    key.jwk = cjose_jwk_import(text, strlen(text), &err);
    if (key.jwk == NULL)
        return 0;
    apr_pool_cleanup_register(p, key.jwk, jwk_release, apr_pool_cleanup_null);
    key.kty = cjose_jwk_get_kty(key.jwk, &err);
    if (key.kty == CJOSE_JWK_KTY_RSA &&
        cjose_jwk_get_keysize(key.jwk, &err) < MIN_RSA_BITS)
        return 0;
    if (key.kty == CJOSE_JWK_KTY_EC)
        key.curve = (int)cjose_jwk_EC_get_curve(key.jwk, &err);
    else if (key.kty != CJOSE_JWK_KTY_RSA)
        return 0;
    key.kid = ao2_json_str(k, "kid");
    key.kid = key.kid ? apr_pstrdup(p, key.kid) : NULL;
    key.alg = ao2_json_str(k, "alg");
    key.alg = key.alg ? apr_pstrdup(p, key.alg) : NULL;
    APR_ARRAY_PUSH(set->keys, jose_key_t) = key;
    return 1;
}

ao2_jwks_t *ao2_jwks_parse(apr_pool_t *p, const char *doc, apr_size_t len,
                           const char **why)
{
    const char *ignored;
    ao2_json_t *j;
    apr_array_header_t *members;
    ao2_jwks_t *set;
    int i;

    if (why == NULL)
        why = &ignored;
    if (len > AO2_JWKS_MAX_LEN) {
        *why = "the JWKS is too large";
        return NULL;
    }
    j = ao2_json_parse_object(p, doc, len, why);
    if (j == NULL)
        return NULL;
    members = ao2_json_array_objects(p, j, "keys");
    if (members == NULL) {
        *why = "the JWKS has no \"keys\" array";
        return NULL;
    }
    set = apr_pcalloc(p, sizeof(*set));
    set->keys = apr_array_make(p, members->nelts + 1, sizeof(jose_key_t));
    for (i = 0; i < members->nelts && set->keys->nelts < AO2_JWKS_MAX_KEYS; i++)
        add_key(p, set, APR_ARRAY_IDX(members, i, const ao2_json_t *));
    if (set->keys->nelts == 0) {
        *why = "the JWKS has no RSA or EC signature key";
        return NULL;
    }
    return set;
}

int ao2_jwks_count(const ao2_jwks_t *keys)
{
    return keys ? keys->keys->nelts : 0;
}

int ao2_jwks_has_kid(const ao2_jwks_t *keys, const char *kid)
{
    int i;

    for (i = 0; keys && kid && i < keys->keys->nelts; i++) {
        const jose_key_t *k = &APR_ARRAY_IDX(keys->keys, i, jose_key_t);
        if (k->kid && strcmp(k->kid, kid) == 0)
            return 1;
    }
    return 0;
}

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Header and payload must not be empty; the signature may be (so that an
 * unsigned token is refused for its alg, which the log then says). */
int ao2_jws_looks_like(const char *text, apr_size_t len)
{
    apr_size_t i, part_len = 0;
    int dots = 0;

    if (text == NULL || len == 0 || len > AO2_JWS_MAX_LEN)
        return 0;
    for (i = 0; i < len; i++) {
        if (text[i] == '.') {
            if (part_len == 0 || ++dots > 2)
                return 0;
            part_len = 0;
        } else if (b64url_char(text[i])) {
            part_len++;
        } else {
            return 0;
        }
    }
    return dots == 2;
}

/* The protected header, read here before cjose sees the token: the alg is
 * judged on our own parse, where a duplicate member is an error (jansson
 * alone would take the last "alg", and a second reader could take the
 * first). AO2_JWS_MALFORMED when the header is not a base64url JSON
 * object. */
static ao2_jws_result_e read_header(apr_pool_t *p, const char *compact,
                                    ao2_jws_info_t *info)
{
    const char *dot = strchr(compact, '.');
    unsigned char *raw;
    apr_size_t raw_len;
    const char *why;
    ao2_json_t *h;

    if (ao2_b64url_decode(p, compact, (apr_size_t)(dot - compact), &raw,
                          &raw_len) != APR_SUCCESS)
        return AO2_JWS_MALFORMED;
    h = ao2_json_parse_object(p, (const char *)raw, raw_len, &why);
    if (h == NULL)
        return AO2_JWS_MALFORMED;
    info->alg = ao2_json_str(h, "alg");
    info->kid = ao2_json_str(h, "kid");
    info->typ = ao2_json_str(h, "typ");
    /* A kid that is there but not a string names no key. */
    if (info->kid == NULL && ao2_json_has(h, "kid"))
        info->kid = "";
    /* RFC 7515 §4.1.11: an extension named in crit must be understood, and
     * this module understands none (cjose would ignore them all). A crit
     * that is not a list of names is invalid all the same. */
    if (ao2_json_has(h, "crit"))
        return AO2_JWS_UNKNOWN_CRIT;
    return AO2_JWS_OK;
}

static int alg_index(const char *alg)
{
    apr_size_t i;

    for (i = 0; alg && i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (strcmp(algs[i].name, alg) == 0)
            return (int)i;
    }
    return -1;
}

static int key_fits(const jose_key_t *k, int a)
{
    if (k->kty != algs[a].kty)
        return 0;
    if (k->kty == CJOSE_JWK_KTY_EC && k->curve != algs[a].curve)
        return 0;
    return k->alg == NULL || strcmp(k->alg, algs[a].name) == 0;
}

/* Tries the keys the header allows; the JWS is imported already. */
static ao2_jws_result_e verify_with(const ao2_jwks_t *keys, cjose_jws_t *jws,
                                    int a, const char *kid)
{
    int i, named = 0, tried = 0;
    cjose_err err;

    for (i = 0; i < keys->keys->nelts; i++) {
        const jose_key_t *k = &APR_ARRAY_IDX(keys->keys, i, jose_key_t);
        if (kid && (k->kid == NULL || strcmp(k->kid, kid) != 0))
            continue;
        named = 1;
        if (!key_fits(k, a))
            continue;
        tried = 1;
        if (cjose_jws_verify(jws, k->jwk, &err))
            return AO2_JWS_OK;
    }
    if (kid && !named)
        return AO2_JWS_UNKNOWN_KID;
    if (!tried)
        return kid ? AO2_JWS_BAD_ALG : AO2_JWS_NO_KEY;
    return AO2_JWS_BAD_SIGNATURE;
}

ao2_jws_result_e ao2_jws_verify(apr_pool_t *p, const ao2_jwks_t *keys,
                                const char *compact, apr_size_t len,
                                char **payload, apr_size_t *payload_len,
                                ao2_jws_info_t *info)
{
    ao2_jws_info_t local;
    cjose_jws_t *jws;
    cjose_err err;
    ao2_jws_result_e rc;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int a;

    if (info == NULL)
        info = &local;
    memset(info, 0, sizeof(*info));
    *payload = NULL;
    *payload_len = 0;
    if (!ao2_jws_looks_like(compact, len))
        return AO2_JWS_MALFORMED;
    if ((rc = read_header(p, compact, info)) != AO2_JWS_OK)
        return rc;
    a = alg_index(info->alg);
    if (a < 0)
        return AO2_JWS_BAD_ALG;
    if (keys == NULL)
        return AO2_JWS_NO_KEY;
    jws = cjose_jws_import(compact, len, &err);
    if (jws == NULL)
        return AO2_JWS_MALFORMED;
    rc = verify_with(keys, jws, a, info->kid);
    if (rc == AO2_JWS_OK &&
        !cjose_jws_get_plaintext(jws, &plain, &plain_len, &err))
        rc = AO2_JWS_MALFORMED;
    if (rc == AO2_JWS_OK) {
        *payload = apr_pstrmemdup(p, (const char *)plain, plain_len);
        *payload_len = plain_len;
    }
    cjose_jws_release(jws);
    return rc;
}

const char *ao2_jws_result_text(ao2_jws_result_e r)
{
    switch (r) {
        case AO2_JWS_OK:
            return "valid signature";
        case AO2_JWS_MALFORMED:
            return "not a well-formed compact JWS";
        case AO2_JWS_BAD_ALG:
            return "an algorithm that is not allowed for its key";
        case AO2_JWS_UNKNOWN_KID:
            return "a kid that is not in the provider's JWKS";
        case AO2_JWS_NO_KEY:
            return "no key of the provider's JWKS for its algorithm";
        case AO2_JWS_BAD_SIGNATURE:
            return "a signature that does not verify";
        case AO2_JWS_UNKNOWN_CRIT:
            return "a crit header naming an extension this module does not "
                   "understand";
    }
    return "an unknown problem";
}
