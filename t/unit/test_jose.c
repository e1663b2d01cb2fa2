/* ao2_jose: JWKS parsing and compact JWS verification. The keys are made
 * at test time (cjose on OpenSSL), so no private key lives in the tree;
 * the signers here are the test's, the checks under test are ao2_jose's.
 * Tokens signed by another implementation (node's, through oidc-provider)
 * are checked by the Apache::Test suite. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <cjose/cjose.h>

#include "ao2_crypto.h"
#include "ao2_jose.h"
#include "ao2_jwt.h"
#include "ao2_oauth2.h"
#include "tap.h"

#define PAYLOAD "{\"iss\":\"https://idp.example\",\"sub\":\"alice\"}"

static apr_status_t release_jwk(void *k)
{
    cjose_jwk_release(k);
    return APR_SUCCESS;
}

static cjose_jwk_t *owned(apr_pool_t *p, cjose_jwk_t *k, const char *kid)
{
    cjose_err err;

    if (k == NULL)
        return NULL;
    apr_pool_cleanup_register(p, k, release_jwk, apr_pool_cleanup_null);
    if (kid)
        cjose_jwk_set_kid(k, kid, strlen(kid), &err);
    return k;
}

static cjose_jwk_t *rsa_key(apr_pool_t *p, size_t bits, const char *kid)
{
    static const uint8_t e[] = {0x01, 0x00, 0x01};
    cjose_err err;

    return owned(p, cjose_jwk_create_RSA_random(bits, e, sizeof(e), &err), kid);
}

static cjose_jwk_t *ec_key(apr_pool_t *p, cjose_jwk_ec_curve crv,
                           const char *kid)
{
    cjose_err err;

    return owned(p, cjose_jwk_create_EC_random(crv, &err), kid);
}

/* The public half as JSON, with extra members (",\"use\":\"enc\"") put in. */
static const char *public_json(apr_pool_t *p, const cjose_jwk_t *k,
                               const char *extra)
{
    cjose_err err;
    char *json = cjose_jwk_to_json(k, false, &err);
    char *out;
    size_t n;

    if (json == NULL)
        return "{}";
    n = strlen(json);
    out = apr_pstrcat(p, apr_pstrmemdup(p, json, n - 1), extra ? extra : "",
                      "}", NULL);
    free(json);
    return out;
}

/* A compact JWS of payload under k with the header {alg[, kid][, typ][,
 * crit]}, crit as raw JSON. */
static const char *sign_full(apr_pool_t *p, const cjose_jwk_t *k,
                             const char *alg, const char *kid, const char *typ,
                             const char *crit, const char *payload)
{
    cjose_err err;
    cjose_header_t *h = cjose_header_new(&err);
    cjose_jws_t *jws;
    const char *ser = NULL, *out = NULL;

    cjose_header_set(h, CJOSE_HDR_ALG, alg, &err);
    if (kid)
        cjose_header_set(h, CJOSE_HDR_KID, kid, &err);
    if (typ)
        cjose_header_set(h, "typ", typ, &err);
    if (crit)
        cjose_header_set_raw(h, "crit", crit, &err);
    jws = cjose_jws_sign(k, h, (const uint8_t *)payload, strlen(payload), &err);
    if (jws && cjose_jws_export(jws, &ser, &err))
        out = apr_pstrdup(p, ser);
    cjose_jws_release(jws);
    cjose_header_release(h);
    return out ? out : "";
}

static const char *sign(apr_pool_t *p, const cjose_jwk_t *k, const char *alg,
                        const char *kid, const char *payload)
{
    return sign_full(p, k, alg, kid, NULL, NULL, payload);
}

/* RS256 under k with kid "rsa1" and a "crit" header of raw JSON. */
static const char *sign_crit(apr_pool_t *p, const cjose_jwk_t *k,
                             const char *crit, const char *payload)
{
    return sign_full(p, k, "RS256", "rsa1", NULL, crit, payload);
}

static const char *b64(apr_pool_t *p, const char *s)
{
    return ao2_b64url_encode(p, (const unsigned char *)s, strlen(s));
}

/* header.payload.signature from parts, the signature as HMAC-SHA256 under
 * key when key is not NULL: how an attacker forges "HS256" with the
 * provider's public key as the secret. */
static const char *forge(apr_pool_t *p, const char *header, const char *payload,
                         const char *hmac_key)
{
    const char *input =
        apr_pstrcat(p, b64(p, header), ".", b64(p, payload), NULL);
    unsigned char mac[AO2_SHA256_LEN];

    if (hmac_key == NULL)
        return apr_pstrcat(p, input, ".", NULL);
    ao2_hmac_sha256(hmac_key, strlen(hmac_key), input, strlen(input), NULL, 0,
                    mac);
    return apr_pstrcat(p, input, ".", ao2_b64url_encode(p, mac, sizeof(mac)),
                       NULL);
}

/* The payload part of a token replaced by another one. */
static const char *swap_payload(apr_pool_t *p, const char *jws,
                                const char *payload)
{
    const char *d1 = strchr(jws, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;

    if (d2 == NULL)
        return "";
    return apr_pstrcat(p, apr_pstrmemdup(p, jws, (apr_size_t)(d1 - jws)), ".",
                       b64(p, payload), d2, NULL);
}

static void verify_cases(apr_pool_t *p)
{
    cjose_jwk_t *rsa = rsa_key(p, 2048, "rsa1");
    cjose_jwk_t *rsa_other = rsa_key(p, 2048, "rsa1");
    cjose_jwk_t *p256 = ec_key(p, CJOSE_JWK_EC_P_256, "ec1");
    cjose_jwk_t *p384 = ec_key(p, CJOSE_JWK_EC_P_384, "ec384");
    cjose_jwk_t *nokid = rsa_key(p, 2048, NULL);
    const char *rsa_pub = public_json(p, rsa, NULL);
    const char *doc =
        apr_pstrcat(p, "{\"keys\":[", rsa_pub, ",", public_json(p, p256, NULL),
                    ",", public_json(p, p384, NULL), "]}", NULL);
    const char *good = sign(p, rsa, "RS256", "rsa1", PAYLOAD);
    char *big = apr_palloc(p, AO2_JWS_MAX_LEN + 2);
    const char *why = NULL;
    ao2_jwks_t *keys = ao2_jwks_parse(p, doc, strlen(doc), &why);
    apr_size_t i;
    const struct {
        const char *name;
        const char *jws;
        ao2_jws_result_e want;
    } cases[] = {
        {"RS256 with kid", good, AO2_JWS_OK},
        {"RS384", sign(p, rsa, "RS384", "rsa1", PAYLOAD), AO2_JWS_OK},
        {"RS512", sign(p, rsa, "RS512", "rsa1", PAYLOAD), AO2_JWS_OK},
        {"PS256", sign(p, rsa, "PS256", "rsa1", PAYLOAD), AO2_JWS_OK},
        {"PS512", sign(p, rsa, "PS512", "rsa1", PAYLOAD), AO2_JWS_OK},
        {"ES256", sign(p, p256, "ES256", "ec1", PAYLOAD), AO2_JWS_OK},
        {"ES384", sign(p, p384, "ES384", "ec384", PAYLOAD), AO2_JWS_OK},
        {"RS256 without kid: each RSA key tried",
         sign(p, rsa, "RS256", NULL, PAYLOAD), AO2_JWS_OK},
        {"ES256 without kid", sign(p, p256, "ES256", NULL, PAYLOAD),
         AO2_JWS_OK},
        {"alg none, empty signature",
         forge(p, "{\"alg\":\"none\"}", PAYLOAD, NULL), AO2_JWS_BAD_ALG},
        {"alg none with kid",
         forge(p, "{\"alg\":\"none\",\"kid\":\"rsa1\"}", PAYLOAD, NULL),
         AO2_JWS_BAD_ALG},
        {"alg None (case)", forge(p, "{\"alg\":\"None\"}", PAYLOAD, NULL),
         AO2_JWS_BAD_ALG},
        {"HS256 keyed with the RSA public JWK",
         forge(p, "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", PAYLOAD, rsa_pub),
         AO2_JWS_BAD_ALG},
        {"HS256 without kid", forge(p, "{\"alg\":\"HS256\"}", PAYLOAD, rsa_pub),
         AO2_JWS_BAD_ALG},
        {"HS512", forge(p, "{\"alg\":\"HS512\"}", PAYLOAD, rsa_pub),
         AO2_JWS_BAD_ALG},
        {"EdDSA (cjose 0.6 has none)",
         forge(p, "{\"alg\":\"EdDSA\"}", PAYLOAD, rsa_pub), AO2_JWS_BAD_ALG},
        {"no alg", forge(p, "{\"kid\":\"rsa1\"}", PAYLOAD, rsa_pub),
         AO2_JWS_BAD_ALG},
        {"alg not a string", forge(p, "{\"alg\":256}", PAYLOAD, rsa_pub),
         AO2_JWS_BAD_ALG},
        {"RS256 naming the EC key", sign(p, rsa, "RS256", "ec1", PAYLOAD),
         AO2_JWS_BAD_ALG},
        {"ES256 naming the P-384 key", sign(p, p256, "ES256", "ec384", PAYLOAD),
         AO2_JWS_BAD_ALG},
        {"ES256 naming the RSA key", sign(p, p256, "ES256", "rsa1", PAYLOAD),
         AO2_JWS_BAD_ALG},
        {"ES512 without kid: no P-521 key",
         sign(p, ec_key(p, CJOSE_JWK_EC_P_521, NULL), "ES512", NULL, PAYLOAD),
         AO2_JWS_NO_KEY},
        {"another key under the same kid",
         sign(p, rsa_other, "RS256", "rsa1", PAYLOAD), AO2_JWS_BAD_SIGNATURE},
        {"another key without kid", sign(p, nokid, "RS256", NULL, PAYLOAD),
         AO2_JWS_BAD_SIGNATURE},
        {"unknown kid", sign(p, rsa, "RS256", "rsa2", PAYLOAD),
         AO2_JWS_UNKNOWN_KID},
        {"tampered payload",
         swap_payload(p, good,
                      "{\"iss\":\"https://idp.example\",\"sub\":"
                      "\"admin\"}"),
         AO2_JWS_BAD_SIGNATURE},
        {"truncated signature", apr_pstrmemdup(p, good, strlen(good) - 4),
         AO2_JWS_BAD_SIGNATURE},
        {"signature cut off",
         apr_pstrmemdup(p, good, strrchr(good, '.') - good + 1),
         AO2_JWS_BAD_SIGNATURE},
        {"two parts only", apr_pstrmemdup(p, good, strrchr(good, '.') - good),
         AO2_JWS_MALFORMED},
        {"four parts", apr_pstrcat(p, good, ".x", NULL), AO2_JWS_MALFORMED},
        {"empty header", strchr(good, '.'), AO2_JWS_MALFORMED},
        {"bad base64 character", apr_pstrcat(p, "*", good + 1, NULL),
         AO2_JWS_MALFORMED},
        {"padding", apr_pstrcat(p, good, "==", NULL), AO2_JWS_MALFORMED},
        {"duplicate alg in the header",
         forge(p, "{\"alg\":\"RS256\",\"alg\":\"none\"}", PAYLOAD, NULL),
         AO2_JWS_MALFORMED},
        {"kid not a string",
         forge(p, "{\"alg\":\"RS256\",\"kid\":1}", PAYLOAD, rsa_pub),
         AO2_JWS_UNKNOWN_KID},
        {"header not JSON", forge(p, "not json", PAYLOAD, rsa_pub),
         AO2_JWS_MALFORMED},
        /* RFC 7515 §4.1.11: we understand no extension, so any crit is
         * one we must refuse, even when the signature is good. */
        {"crit naming an extension", sign_crit(p, rsa, "[\"b64\"]", PAYLOAD),
         AO2_JWS_UNKNOWN_CRIT},
        {"crit naming exp", sign_crit(p, rsa, "[\"exp\"]", PAYLOAD),
         AO2_JWS_UNKNOWN_CRIT},
        {"crit empty (itself forbidden)", sign_crit(p, rsa, "[]", PAYLOAD),
         AO2_JWS_UNKNOWN_CRIT},
        {"crit an object", sign_crit(p, rsa, "{\"b64\":false}", PAYLOAD),
         AO2_JWS_UNKNOWN_CRIT},
        {"crit null (unsigned: refused before the signature)",
         forge(p, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":null}", PAYLOAD,
               NULL),
         AO2_JWS_UNKNOWN_CRIT},
        {"empty", "", AO2_JWS_MALFORMED},
        {"oversized", big, AO2_JWS_MALFORMED},
    };

    ok(rsa && rsa_other && p256 && p384 && nokid, "test keys made");
    ok(keys != NULL, "JWKS of RSA, P-256 and P-384 keys parses (%s)",
       why ? why : "");
    is_int(ao2_jwks_count(keys), 3, "three usable keys");
    ok(ao2_jwks_has_kid(keys, "ec1") && !ao2_jwks_has_kid(keys, "rsa2"),
       "kid lookup");
    memset(big, 'A', AO2_JWS_MAX_LEN + 1);
    big[10] = big[20] = '.';
    big[AO2_JWS_MAX_LEN + 1] = '\0';

    for (i = 0; i < AO2_COUNT(cases); i++) {
        char *payload = NULL;
        apr_size_t plen = 0;
        ao2_jws_info_t info;
        ao2_jws_result_e rc =
            ao2_jws_verify(p, keys, cases[i].jws, strlen(cases[i].jws),
                           &payload, &plen, &info);
        is_int(rc, cases[i].want, "%s: %s", cases[i].name,
               ao2_jws_result_text(rc));
        if (cases[i].want == AO2_JWS_OK)
            is_str(payload, PAYLOAD, "%s: the payload comes back",
                   cases[i].name);
        else
            ok(payload == NULL && plen == 0, "%s: no payload", cases[i].name);
    }
}

static void header_info(apr_pool_t *p)
{
    cjose_jwk_t *k = ec_key(p, CJOSE_JWK_EC_P_256, "k1");
    const char *doc =
        apr_pstrcat(p, "{\"keys\":[", public_json(p, k, NULL), "]}", NULL);
    ao2_jwks_t *keys = ao2_jwks_parse(p, doc, strlen(doc), NULL);
    cjose_err err;
    cjose_header_t *h = cjose_header_new(&err);
    cjose_jws_t *jws;
    const char *ser = "";
    char *payload;
    apr_size_t plen;
    ao2_jws_info_t info;

    cjose_header_set(h, CJOSE_HDR_ALG, "ES256", &err);
    cjose_header_set(h, CJOSE_HDR_KID, "k1", &err);
    cjose_header_set(h, "typ", "at+jwt", &err);
    jws = cjose_jws_sign(k, h, (const uint8_t *)"{}", 2, &err);
    cjose_jws_export(jws, &ser, &err);
    is_int(ao2_jws_verify(p, keys, ser, strlen(ser), &payload, &plen, &info),
           AO2_JWS_OK, "ES256 with typ verifies");
    is_str(info.alg, "ES256", "alg reported");
    is_str(info.kid, "k1", "kid reported");
    is_str(info.typ, "at+jwt", "typ reported");
    is_int(ao2_jws_verify(p, NULL, ser, strlen(ser), &payload, &plen, &info),
           AO2_JWS_NO_KEY, "no key set: refused");
    cjose_jws_release(jws);
    cjose_header_release(h);
}

static void jwks_cases(apr_pool_t *p)
{
    cjose_jwk_t *rsa = rsa_key(p, 2048, "r");
    cjose_jwk_t *weak = rsa_key(p, 1024, "weak");
    cjose_jwk_t *ec = ec_key(p, CJOSE_JWK_EC_P_256, "e");
    const char *r = public_json(p, rsa, NULL);
    char *huge = apr_palloc(p, AO2_JWKS_MAX_LEN + 64);
    const char *oct = "{\"kty\":\"oct\",\"kid\":\"o\",\"k\":\"c2VjcmV0\"}";
    const char *okp = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\","
                      "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
    apr_size_t i;
    const struct {
        const char *name;
        const char *doc;
        int want; /* usable keys; -1: refused */
        const char *kid_in, *kid_out;
    } cases[] = {
        {"one RSA key", apr_pstrcat(p, "{\"keys\":[", r, "]}", NULL), 1, "r",
         NULL},
        {"use=sig kept",
         apr_pstrcat(p, "{\"keys\":[", public_json(p, rsa, ",\"use\":\"sig\""),
                     "]}", NULL),
         1, "r", NULL},
        {"use=enc skipped",
         apr_pstrcat(p, "{\"keys\":[", public_json(p, rsa, ",\"use\":\"enc\""),
                     ",", public_json(p, ec, NULL), "]}", NULL),
         1, "e", "r"},
        {"use not a string skipped",
         apr_pstrcat(p, "{\"keys\":[", public_json(p, rsa, ",\"use\":1"), ",",
                     public_json(p, ec, NULL), "]}", NULL),
         1, "e", "r"},
        {"oct and OKP skipped",
         apr_pstrcat(p, "{\"keys\":[", oct, ",", okp, ",", r, "]}", NULL), 1,
         "r", "o"},
        {"RSA under 2048 bits skipped",
         apr_pstrcat(p, "{\"keys\":[", public_json(p, weak, NULL), ",", r, "]}",
                     NULL),
         1, "r", "weak"},
        {"members that are not objects skipped",
         apr_pstrcat(p, "{\"keys\":[1,\"x\",null,[],", r, "]}", NULL), 1, "r",
         NULL},
        {"broken RSA key skipped",
         apr_pstrcat(p,
                     "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"b\",\"n\":\"!\","
                     "\"e\":\"AQAB\"},",
                     r, "]}", NULL),
         1, "r", "b"},
        /* t/fuzz's jws harness: cjose asserted (abort) on this "y". */
        {"EC key with '=' inside y skipped",
         apr_pstrcat(
             p,
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":"
             "\"bad\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus4uPHvRVEU\","
             "\"y\":\"x_FEzRu9m36HLN_tu=659LNpXW6pCyStikYjKIWI5a0\"},",
             r, "]}", NULL),
         1, "r", "bad"},
        {"RSA key with padded or non-string e skipped",
         apr_pstrcat(
             p,
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"pad\",\"n\":\"AQAB\","
             "\"e\":\"AQA=\"},{\"kty\":\"RSA\",\"kid\":\"num\","
             "\"n\":\"AQAB\",\"e\":65537},",
             r, "]}", NULL),
         1, "r", "pad"},
        {"only an oct key", apr_pstrcat(p, "{\"keys\":[", oct, "]}", NULL), -1,
         NULL, NULL},
        {"empty keys", "{\"keys\":[]}", -1, NULL, NULL},
        {"keys not an array", "{\"keys\":{}}", -1, NULL, NULL},
        {"not JSON", "keys", -1, NULL, NULL},
        {"an array", "[]", -1, NULL, NULL},
        {"too large", huge, -1, NULL, NULL},
    };

    memset(huge, ' ', AO2_JWKS_MAX_LEN + 63);
    memcpy(huge, "{\"keys\":[", 9);
    memcpy(huge + AO2_JWKS_MAX_LEN + 61, "]}", 2);
    huge[AO2_JWKS_MAX_LEN + 63] = '\0';
    ok(rsa && weak && ec, "test keys made");
    for (i = 0; i < AO2_COUNT(cases); i++) {
        const char *why = NULL;
        ao2_jwks_t *keys =
            ao2_jwks_parse(p, cases[i].doc, strlen(cases[i].doc), &why);
        if (cases[i].want < 0) {
            ok(keys == NULL && why != NULL, "%s: refused (%s)", cases[i].name,
               why ? why : "?");
            continue;
        }
        is_int(ao2_jwks_count(keys), cases[i].want, "%s: %d usable",
               cases[i].name, cases[i].want);
        ok(ao2_jwks_has_kid(keys, cases[i].kid_in), "%s: has %s", cases[i].name,
           cases[i].kid_in);
        if (cases[i].kid_out)
            ok(!ao2_jwks_has_kid(keys, cases[i].kid_out), "%s: not %s",
               cases[i].name, cases[i].kid_out);
    }
}

/* A JWKS may cap keys; past the cap they are not read. */
static void jwks_key_cap(apr_pool_t *p)
{
    cjose_jwk_t *ec = ec_key(p, CJOSE_JWK_EC_P_256, NULL);
    const char *one = public_json(p, ec, NULL);
    const char *doc = "{\"keys\":[";
    int i;

    for (i = 0; i < AO2_JWKS_MAX_KEYS + 5; i++)
        doc = apr_pstrcat(p, doc, i ? "," : "", one, NULL);
    doc = apr_pstrcat(p, doc, "]}", NULL);
    is_int(ao2_jwks_count(ao2_jwks_parse(p, doc, strlen(doc), NULL)),
           AO2_JWKS_MAX_KEYS, "at most AO2_JWKS_MAX_KEYS keys are kept");
}

static void looks_like(apr_pool_t *p)
{
    static const struct {
        const char *text;
        int want;
    } cases[] = {
        {"a.b.c", 1},   {"a.b.", 1},   {"eyJ.eyJ.sig-_", 1},
        {"a.b", 0},     {".b.c", 0},   {"a..c", 0},
        {"a.b.c.d", 0}, {"a.b.c=", 0}, {"opaque-token", 0},
        {"a b.c.d", 0}, {"", 0},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++)
        is_int(ao2_jws_looks_like(cases[i].text, strlen(cases[i].text)),
               cases[i].want, "looks_like(\"%s\")", cases[i].text);
}

/* ao2_verify_id_token: the signature first, then the claims; each way an
 * ID token can be wrong is refused with 502 invalid_id_token. */
#define NOW ((apr_int64_t)1700000000)
#define ISS "https://idp.example/realms/erp"
#define CLAIMS                                                                 \
    "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"alice\",\"exp\":"                \
    "%" APR_INT64_T_FMT ",\"iat\":%" APR_INT64_T_FMT ",\"nonce\":\"%s\"}"

static const char *claims(apr_pool_t *p, const char *iss, const char *aud,
                          apr_int64_t exp, apr_int64_t iat, const char *nonce)
{
    return apr_psprintf(p, CLAIMS, iss, aud, exp, iat, nonce);
}

static void id_token_cases(apr_pool_t *p)
{
    cjose_jwk_t *rsa = rsa_key(p, 2048, "k1");
    cjose_jwk_t *ec = ec_key(p, CJOSE_JWK_EC_P_256, "k2");
    cjose_jwk_t *stranger = rsa_key(p, 2048, "k1");
    const char *pub = public_json(p, rsa, NULL);
    const char *doc = apr_pstrcat(p, "{\"keys\":[", pub, ",",
                                  public_json(p, ec, NULL), "]}", NULL);
    ao2_jwks_t *keys = ao2_jwks_parse(p, doc, strlen(doc), NULL);
    const char *good = claims(p, ISS, "rp", NOW + 300, NOW, "n-1");
    ao2_provider_t pv;
    ao2_client_t c;
    apr_size_t i;
    const struct {
        const char *name;
        const char *token;
        int want_ok;
        ao2_jws_result_e jws;
    } cases[] = {
        {"RS256", sign(p, rsa, "RS256", "k1", good), 1, AO2_JWS_OK},
        {"ES256", sign(p, ec, "ES256", "k2", good), 1, AO2_JWS_OK},
        {"PS256 without kid", sign(p, rsa, "PS256", NULL, good), 1, AO2_JWS_OK},
        {"alg none", forge(p, "{\"alg\":\"none\"}", good, NULL), 0,
         AO2_JWS_BAD_ALG},
        {"HS256 keyed with the public key",
         forge(p, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", good, pub), 0,
         AO2_JWS_BAD_ALG},
        {"signed by another key", sign(p, stranger, "RS256", "k1", good), 0,
         AO2_JWS_BAD_SIGNATURE},
        {"unknown kid", sign(p, stranger, "RS256", "k9", good), 0,
         AO2_JWS_UNKNOWN_KID},
        {"forged claims on a good signature",
         swap_payload(p, sign(p, rsa, "RS256", "k1", good),
                      claims(p, ISS, "rp", NOW + 300, NOW, "n-2")),
         0, AO2_JWS_BAD_SIGNATURE},
        {"expired",
         sign(p, rsa, "RS256", "k1",
              claims(p, ISS, "rp", NOW - 61, NOW - 600, "n-1")),
         0, AO2_JWS_OK},
        {"expired within the leeway",
         sign(p, rsa, "RS256", "k1",
              claims(p, ISS, "rp", NOW - 59, NOW - 600, "n-1")),
         1, AO2_JWS_OK},
        {"issued in the future",
         sign(p, rsa, "RS256", "k1",
              claims(p, ISS, "rp", NOW + 900, NOW + 61, "n-1")),
         0, AO2_JWS_OK},
        {"for another client",
         sign(p, rsa, "RS256", "k1",
              claims(p, ISS, "rp2", NOW + 300, NOW, "n-1")),
         0, AO2_JWS_OK},
        {"from another issuer",
         sign(p, rsa, "RS256", "k1",
              claims(p, "https://evil.example", "rp", NOW + 300, NOW, "n-1")),
         0, AO2_JWS_OK},
        {"another nonce",
         sign(p, rsa, "RS256", "k1",
              claims(p, ISS, "rp", NOW + 300, NOW, "n-2")),
         0, AO2_JWS_OK},
        {"not a JWS", "not.a.jws!", 0, AO2_JWS_MALFORMED},
    };

    memset(&pv, 0, sizeof(pv));
    pv.name = "idp";
    pv.issuer = ISS;
    pv.leeway = 60;
    memset(&c, 0, sizeof(c));
    c.provider = &pv;
    c.client_id = "rp";
    c.client_secret = "s";
    ok(keys != NULL, "keys parse");
    for (i = 0; i < AO2_COUNT(cases); i++) {
        ao2_json_t *cl = NULL;
        ao2_jws_result_e jws = AO2_JWS_MALFORMED;
        ao2_err_t *err = ao2_verify_id_token(p, cases[i].token, &c, keys, "n-1",
                                             apr_time_from_sec(NOW), &cl, &jws);
        is_int(jws, cases[i].jws, "id token %s: signature %s", cases[i].name,
               ao2_jws_result_text(jws));
        if (cases[i].want_ok)
            ok(err == NULL && cl != NULL &&
                   strcmp(ao2_json_str(cl, "sub"), "alice") == 0,
               "id token %s: accepted", cases[i].name);
        else
            ok(err && err->status == 502 &&
                   strcmp(err->code, "invalid_id_token") == 0 && cl == NULL,
               "id token %s: 502 invalid_id_token", cases[i].name);
    }
    /* iss: against issuer= (which discovery, the only source of an
     * issuer, must match exactly); without issuer= nothing to hold it to. */
    {
        ao2_json_t *cl = NULL;
        const char *no_iss = apr_psprintf(
            p,
            "{\"aud\":\"rp\",\"sub\":\"alice\",\"exp\":%" APR_INT64_T_FMT
            ",\"nonce\":\"n-1\"}",
            NOW + 300);
        ok(ao2_verify_id_token(p, sign(p, rsa, "RS256", "k1", no_iss), &c, keys,
                               "n-1", apr_time_from_sec(NOW), &cl,
                               NULL) != NULL,
           "id token without iss: refused when issuer= is set");
        pv.issuer = NULL;
        ok(ao2_verify_id_token(p,
                               sign(p, rsa, "RS256", "k1",
                                    claims(p, "https://evil.example", "rp",
                                           NOW + 300, NOW, "n-1")),
                               &c, keys, "n-1", apr_time_from_sec(NOW), &cl,
                               NULL) == NULL,
           "id token of any iss: accepted without issuer= (documented)");
        pv.issuer = ISS;
    }
    is_str(
        ao2_jwt_claim_unverified(p, sign(p, rsa, "RS256", "k1", good), "sub"),
        "alice", "the sub of a stored ID token");
    ok(ao2_jwt_claim_unverified(p, "x.e30.y", "sub") == NULL, "no sub: NULL");
}

/* RS256 under kid k1 with typ (NULL: none). */
static const char *sign_typ(apr_pool_t *p, const cjose_jwk_t *k,
                            const char *typ, const char *payload)
{
    return sign_full(p, k, "RS256", "k1", typ, NULL, payload);
}

/* A current token of ISS for jim, with these claims besides. */
static const char *current(apr_pool_t *p, const char *claims)
{
    return apr_psprintf(p,
                        "{\"iss\":\"" ISS
                        "\",\"sub\":\"jim\",\"exp\":%" APR_INT64_T_FMT
                        ",\"iat\":%" APR_INT64_T_FMT ",%s}",
                        NOW + 300, NOW, claims);
}

/* ID tokens and access tokens of the providers that write typ "JWT" or
 * none: told apart by their claims alone. */
static const struct {
    const char *name, *typ, *claims;
    ao2_jwt_access_e want;
} shapes[] = {
    /* Marks of an ID token issued without a nonce (OIDC Core §3.1.3.6,
     * §3.3.2.11). */
    {"an ID token (at_hash)", "JWT", "\"aud\":\"rp\",\"at_hash\":\"x\"",
     AO2_JWT_ACCESS_NOT_ACCESS},
    {"an ID token (c_hash)", NULL, "\"client_id\":\"rp\",\"c_hash\":\"x\"",
     AO2_JWT_ACCESS_NOT_ACCESS},
    {"an ID token (auth_time, no scope)", NULL,
     "\"client_id\":\"rp\",\"auth_time\":1699999000",
     AO2_JWT_ACCESS_NOT_ACCESS},
    {"an ID token (nonce, no typ, with a scope)", NULL,
     "\"scope\":\"openid\",\"nonce\":\"n\"", AO2_JWT_ACCESS_NOT_ACCESS},
    {"an ID token (typ claim ID, any case)", "JWT",
     "\"client_id\":\"rp\",\"typ\":\"id\"", AO2_JWT_ACCESS_NOT_ACCESS},
    /* oidc-provider's, asked for without a nonce: nothing of its own. */
    {"an ID token with no mark of its own", NULL,
     "\"aud\":\"rp\",\"email\":\"j@x\"", AO2_JWT_ACCESS_NOT_ACCESS},
    {"an Entra ID access token (scp, aud the client)", "JWT",
     "\"aud\":\"rp\",\"azp\":\"rp\",\"scp\":\"erp.read\"", AO2_JWT_ACCESS_OK},
    {"an Okta access token (auth_time with scp)", NULL,
     "\"cid\":\"rp\",\"scp\":[\"openid\"],\"auth_time\":1699999000",
     AO2_JWT_ACCESS_OK},
    {"a Keycloak access token (auth_time with scope)", "JWT",
     "\"azp\":\"rp\",\"auth_time\":1699999000,\"scope\":\"openid\","
     "\"typ\":\"Bearer\"",
     AO2_JWT_ACCESS_OK},
    {"at+jwt with auth_time and no scope (RFC 9068 §2.2.1)", "at+jwt",
     "\"client_id\":\"rp\",\"auth_time\":1699999000", AO2_JWT_ACCESS_OK},
};

#define AT_CLAIMS                                                              \
    "{\"iss\":\"%s\",\"sub\":\"jim\",\"client_id\":\"rp\",\"exp\":"            \
    "%" APR_INT64_T_FMT ",\"iat\":%" APR_INT64_T_FMT "%s}"

static void check_access(apr_pool_t *p, const ao2_provider_t *pv,
                         const ao2_jwks_t *keys, const char *name,
                         const char *token, ao2_jwt_access_e want)
{
    const ao2_json_t *claims = NULL;
    apr_int64_t exp = 0;
    ao2_jws_result_e jws;
    ao2_jwt_access_e rc =
        ao2_jwt_access_verify(p, pv, keys, token, NOW, &claims, &exp, &jws);

    is_int(rc, want, "access token %s: %s", name, ao2_jwt_access_text(rc));
    ok((rc == AO2_JWT_ACCESS_OK) == (claims != NULL),
       "access token %s: claims only when valid", name);
}

/* ao2_jwt_access_verify: RFC 9068 access tokens and the common shapes. */
static void jwt_access_cases(apr_pool_t *p)
{
    cjose_jwk_t *rsa = rsa_key(p, 2048, "k1");
    cjose_jwk_t *stranger = rsa_key(p, 2048, "k1");
    const char *pub = public_json(p, rsa, NULL);
    const char *doc = apr_pstrcat(p, "{\"keys\":[", pub, "]}", NULL);
    ao2_jwks_t *keys = ao2_jwks_parse(p, doc, strlen(doc), NULL);
    const char *good = apr_psprintf(p, AT_CLAIMS, ISS, NOW + 300, NOW, "");
    ao2_provider_t pv;
    apr_size_t i;
    const struct {
        const char *name, *token;
        ao2_jwt_access_e want;
    } cases[] = {
        {"at+jwt", sign_typ(p, rsa, "at+jwt", good), AO2_JWT_ACCESS_OK},
        {"application/at+jwt", sign_typ(p, rsa, "application/at+jwt", good),
         AO2_JWT_ACCESS_OK},
        {"typ JWT (Keycloak, Entra ID)", sign_typ(p, rsa, "JWT", good),
         AO2_JWT_ACCESS_OK},
        {"no typ (Auth0)", sign_typ(p, rsa, NULL, good), AO2_JWT_ACCESS_OK},
        {"an ID token (nonce)",
         sign_typ(p, rsa, "JWT",
                  apr_psprintf(p, AT_CLAIMS, ISS, NOW + 300, NOW,
                               ",\"nonce\":\"n\"")),
         AO2_JWT_ACCESS_NOT_ACCESS},
        {"a Keycloak ID token (typ claim ID)",
         sign_typ(p, rsa, NULL,
                  apr_psprintf(p, AT_CLAIMS, ISS, NOW + 300, NOW,
                               ",\"typ\":\"ID\"")),
         AO2_JWT_ACCESS_NOT_ACCESS},
        {"another kind of JWT (typ dpop+jwt)",
         sign_typ(p, rsa, "dpop+jwt", good), AO2_JWT_ACCESS_NOT_ACCESS},
        {"expired beyond the leeway",
         sign_typ(p, rsa, "at+jwt",
                  apr_psprintf(p, AT_CLAIMS, ISS, NOW - 61, NOW - 600, "")),
         AO2_JWT_ACCESS_EXPIRED},
        {"expired within the leeway",
         sign_typ(p, rsa, "at+jwt",
                  apr_psprintf(p, AT_CLAIMS, ISS, NOW - 59, NOW - 600, "")),
         AO2_JWT_ACCESS_OK},
        {"no exp",
         sign_typ(p, rsa, "at+jwt", "{\"iss\":\"" ISS "\",\"sub\":\"jim\"}"),
         AO2_JWT_ACCESS_EXPIRED},
        {"nbf in the future",
         sign_typ(p, rsa, "at+jwt",
                  apr_psprintf(p, AT_CLAIMS, ISS, NOW + 900, NOW,
                               ",\"nbf\":1700000100")),
         AO2_JWT_ACCESS_NOT_YET},
        {"iat in the future",
         sign_typ(p, rsa, "at+jwt",
                  apr_psprintf(p, AT_CLAIMS, ISS, NOW + 900, NOW + 100, "")),
         AO2_JWT_ACCESS_NOT_YET},
        {"another issuer",
         sign_typ(p, rsa, "at+jwt",
                  apr_psprintf(p, AT_CLAIMS, "https://evil.example", NOW + 300,
                               NOW, "")),
         AO2_JWT_ACCESS_BAD_ISSUER},
        {"another key", sign_typ(p, stranger, "at+jwt", good),
         AO2_JWT_ACCESS_BAD_SIGNATURE},
        {"forged claims",
         swap_payload(p, sign_typ(p, rsa, "at+jwt", good),
                      apr_psprintf(p, AT_CLAIMS, ISS, NOW + 99999, NOW, "")),
         AO2_JWT_ACCESS_BAD_SIGNATURE},
        {"alg none",
         forge(p, "{\"alg\":\"none\",\"typ\":\"at+jwt\"}", good, NULL),
         AO2_JWT_ACCESS_BAD_SIGNATURE},
        {"HS256 keyed with the public key",
         forge(p, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", good, pub),
         AO2_JWT_ACCESS_BAD_SIGNATURE},
    };

    memset(&pv, 0, sizeof(pv));
    pv.name = "idp";
    pv.issuer = ISS;
    pv.leeway = 60;
    for (i = 0; i < AO2_COUNT(cases); i++)
        check_access(p, &pv, keys, cases[i].name, cases[i].token,
                     cases[i].want);
    for (i = 0; i < AO2_COUNT(shapes); i++)
        check_access(
            p, &pv, keys, shapes[i].name,
            sign_typ(p, rsa, shapes[i].typ, current(p, shapes[i].claims)),
            shapes[i].want);
    is_str(ao2_jwt_claim_unverified(p, sign_typ(p, rsa, NULL, good), "iss"),
           ISS, "the unverified iss");
    ok(ao2_jwt_claim_unverified(p, "opaque", "iss") == NULL,
       "no iss in an opaque token");
}

const ao2_test_case_t ao2_suite_jose[] = {
    {"jwt access token", jwt_access_cases},
    {"id token", id_token_cases},
    {"verify", verify_cases},
    {"header info", header_info},
    {"jwks", jwks_cases},
    {"jwks key cap", jwks_key_cap},
    {"looks like a JWS", looks_like},
    {NULL, NULL},
};
