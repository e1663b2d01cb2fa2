/* ao2_check_id_token on arbitrary text as the id_token string. Whatever it
 * accepts must really carry our issuer, audience, nonce and a live exp:
 * each accepted token is checked again here, by other means. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_oauth2.h"
#include "fuzz.h"

#define NOW_SEC ((apr_int64_t)1700000000)
#define ISS     "https://idp.example/realms/erp"
#define NONCE   "n-0S6_WzA2Mj"
#define LEEWAY  60

static void check_claims(apr_pool_t *p, const ao2_json_t *claims,
                         const char *issuer, const char *nonce)
{
    const char *azp = ao2_json_str(claims, "azp"), *login;
    apr_int64_t exp = 0;
    size_t i;

    AO2_FUZZ_ASSERT(claims != NULL);
    if (issuer) {
        const char *iss = ao2_json_str(claims, "iss");
        AO2_FUZZ_ASSERT(iss && strcmp(iss, issuer) == 0);
    }
    AO2_FUZZ_ASSERT(ao2_json_str_or_array_has(claims, "aud", "rp"));
    AO2_FUZZ_ASSERT(azp == NULL ? ao2_json_array_len(claims, "aud") <= 1
                                : strcmp(azp, "rp") == 0);
    AO2_FUZZ_ASSERT(ao2_json_int(claims, "exp", &exp));
    AO2_FUZZ_ASSERT(exp >= NOW_SEC - LEEWAY);
    if (nonce) {
        const char *n = ao2_json_str(claims, "nonce");
        AO2_FUZZ_ASSERT(n && strcmp(n, nonce) == 0);
    }
    /* What the callback does next with the claims. */
    login = ao2_claim_login(p, claims, "email");
    if (login) {
        AO2_FUZZ_ASSERT(*login && strlen(login) <= AO2_MAX_CLAIM_LEN);
        for (i = 0; login[i]; i++) {
            AO2_FUZZ_ASSERT((unsigned char)login[i] >= 0x20 &&
                            login[i] != 0x7f);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ao2_provider_t with_issuer, without_issuer;
    ao2_client_t c;
    apr_pool_t *p;
    const char *token;
    ao2_json_t *claims;
    ao2_err_t *err, *err_no_nonce;

    memset(&with_issuer, 0, sizeof(with_issuer));
    with_issuer.name = "idp";
    with_issuer.issuer = ISS;
    with_issuer.leeway = LEEWAY;
    without_issuer = with_issuer;
    without_issuer.issuer = NULL;
    memset(&c, 0, sizeof(c));
    c.provider = &with_issuer;
    c.client_id = "rp";
    c.client_secret = "secret";

    apr_pool_create(&p, ao2_fuzz_root);
    /* It reaches the check as a C string from the token answer. */
    token = apr_pstrmemdup(p, (const char *)data, size);

    claims = NULL;
    err = ao2_check_id_token(p, token, &c, NONCE, apr_time_from_sec(NOW_SEC),
                             &claims);
    if (err) {
        AO2_FUZZ_ASSERT(err->status == 502 && claims == NULL);
    } else {
        check_claims(p, claims, ISS, NONCE);
    }

    /* Without a nonce to compare, at least as much is accepted. */
    claims = NULL;
    err_no_nonce = ao2_check_id_token(p, token, &c, NULL,
                                      apr_time_from_sec(NOW_SEC), &claims);
    AO2_FUZZ_ASSERT(err || !err_no_nonce);
    if (!err_no_nonce) {
        check_claims(p, claims, ISS, NULL);
    }

    c.provider = &without_issuer;
    claims = NULL;
    if (!ao2_check_id_token(p, token, &c, NONCE, apr_time_from_sec(NOW_SEC),
                            &claims)) {
        check_claims(p, claims, NULL, NONCE);
    } else {
        AO2_FUZZ_ASSERT(err != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
