/* ao2_jws_verify and ao2_jwks_parse on arbitrary bytes. The key set is made
 * at start-up from fresh keys (RSA, P-256) whose private halves are thrown
 * away: no input can carry a valid signature, so any AO2_JWS_OK is a
 * forgery. The first byte chooses: even, the rest is a token; odd, the rest
 * is a JWKS document, and a token made of the same bytes is tried on it. */
#include <string.h>

#include <apr_strings.h>
#include <cjose/cjose.h>

#include "ao2_jose.h"
#include "fuzz.h"

/* The JWKS text; parsed again in each input's pool, so that every cjose
 * object an input makes is released with it (APR may keep pools in mmap'd
 * memory, where LeakSanitizer does not look for pointers). */
static char *jwks_doc;

static char *public_jwk(cjose_jwk_t *k, const char *kid)
{
    cjose_err err;

    AO2_FUZZ_ASSERT(cjose_jwk_set_kid(k, kid, strlen(kid), &err));
    return cjose_jwk_to_json(k, false, &err);
}

static void make_keys(void)
{
    static const uint8_t e[] = {0x01, 0x00, 0x01};
    cjose_err err;
    cjose_jwk_t *rsa = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &err);
    cjose_jwk_t *ec = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
    char *r, *c;
    const char *doc;

    AO2_FUZZ_ASSERT(rsa && ec);
    r = public_jwk(rsa, "rsa1");
    c = public_jwk(ec, "ec1");
    doc = apr_pstrcat(ao2_fuzz_root, "{\"keys\":[", r, ",", c, "]}", NULL);
    free(r);
    free(c);
    cjose_jwk_release(rsa);
    cjose_jwk_release(ec);
    jwks_doc = strdup(doc);
    AO2_FUZZ_ASSERT(jwks_doc != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    char *payload;
    apr_size_t plen;
    ao2_jws_info_t info;
    const char *text, *why;
    ao2_jws_result_e rc;
    ao2_jwks_t *keys;

    if (jwks_doc == NULL)
        make_keys();
    if (size == 0)
        return 0;
    apr_pool_create(&p, ao2_fuzz_root);
    keys = ao2_jwks_parse(p, jwks_doc, strlen(jwks_doc), NULL);
    AO2_FUZZ_ASSERT(ao2_jwks_count(keys) == 2);
    text = apr_pstrmemdup(p, (const char *)data + 1, size - 1);
    if (data[0] % 2 == 0) {
        rc = ao2_jws_verify(p, keys, text, size - 1, &payload, &plen, &info);
        AO2_FUZZ_ASSERT(rc != AO2_JWS_OK);
        AO2_FUZZ_ASSERT(payload == NULL && plen == 0);
        /* The shape test never passes what the verifier calls malformed
         * for its shape alone. */
        if (rc != AO2_JWS_MALFORMED)
            AO2_FUZZ_ASSERT(ao2_jws_looks_like(text, size - 1));
    } else {
        ao2_jwks_t *set = ao2_jwks_parse(p, text, size - 1, &why);
        AO2_FUZZ_ASSERT(set ? ao2_jwks_count(set) >= 1 &&
                                  ao2_jwks_count(set) <= AO2_JWKS_MAX_KEYS
                            : why != NULL);
        if (set) {
            rc = ao2_jws_verify(p, set, text, size - 1, &payload, &plen, NULL);
            AO2_FUZZ_ASSERT(rc != AO2_JWS_OK);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
