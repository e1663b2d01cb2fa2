#include "ao2_jwt.h"

#include <apr_strings.h>
#include <string.h>
#include <strings.h>

/* Claims only an ID token carries (OIDC Core §2, §3.1.3.6, §3.3.2.11):
 * a nonce when the client asked with one, the hashes of the code and the
 * access token issued beside it. */
static const char *const id_token_claims[] = {"nonce", "at_hash", "c_hash",
                                              NULL};

/* What an access token was granted: "scope" (RFC 9068 §2.2.3, Keycloak,
 * Auth0) or "scp" (Entra ID, Okta). No ID token carries either. */
static int has_scope(const ao2_json_t *j)
{
    return ao2_json_has(j, "scope") || ao2_json_has(j, "scp");
}

static int is_id_token(const ao2_json_t *j)
{
    const char *ktyp = ao2_json_str(j, "typ");
    int i;

    for (i = 0; id_token_claims[i]; i++) {
        if (ao2_json_has(j, id_token_claims[i]))
            return 1;
    }
    /* Keycloak's and Okta's access tokens carry auth_time too, with a
     * scope. */
    if (ao2_json_has(j, "auth_time") && !has_scope(j))
        return 1;
    return ktyp && !strcasecmp(ktyp, "ID"); /* Keycloak's own mark */
}

/* RFC 9068 §2.1 says "at+jwt" (also spelled with "application/"), and an
 * ID token is never one (§4). Keycloak, Entra ID, Okta and Auth0 write
 * "JWT" or nothing, and so do oidc-provider and Google for ID tokens asked
 * for without a nonce: signed by the same keys, with the client in aud and
 * often no claim of an ID token's own. So without "at+jwt" the payload
 * must carry no mark of an ID token, and one of an access token: a scope,
 * or the client_id RFC 9068 §2.2 requires. */
static int is_access_token(const ao2_jws_info_t *info, const ao2_json_t *j)
{
    const char *typ = info->typ;

    if (typ &&
        (!strcasecmp(typ, "at+jwt") || !strcasecmp(typ, "application/at+jwt")))
        return 1;
    if (typ && strcasecmp(typ, "JWT") != 0)
        return 0;
    return !is_id_token(j) && (has_scope(j) || ao2_json_has(j, "client_id"));
}

ao2_jwt_access_e ao2_jwt_access_verify(apr_pool_t *p, const ao2_provider_t *pv,
                                       const ao2_jwks_t *keys,
                                       const char *token, apr_int64_t now,
                                       const ao2_json_t **claims,
                                       apr_int64_t *exp, ao2_jws_result_e *jws)
{
    ao2_jws_info_t info;
    char *payload;
    apr_size_t len;
    const char *why, *iss;
    apr_int64_t t;
    ao2_json_t *j;

    *claims = NULL;
    *exp = 0;
    *jws = ao2_jws_verify(p, keys, token, strlen(token), &payload, &len, &info);
    if (*jws != AO2_JWS_OK)
        return AO2_JWT_ACCESS_BAD_SIGNATURE;
    j = ao2_json_parse_object(p, payload, len, &why);
    if (j == NULL || !is_access_token(&info, j))
        return AO2_JWT_ACCESS_NOT_ACCESS;
    iss = ao2_json_str(j, "iss");
    if (pv->issuer == NULL || iss == NULL || strcmp(iss, pv->issuer) != 0)
        return AO2_JWT_ACCESS_BAD_ISSUER;
    if (!ao2_json_int(j, "exp", exp) || *exp <= now - pv->leeway)
        return AO2_JWT_ACCESS_EXPIRED;
    if ((ao2_json_has(j, "nbf") &&
         (!ao2_json_int(j, "nbf", &t) || t > now + pv->leeway)) ||
        (ao2_json_has(j, "iat") &&
         (!ao2_json_int(j, "iat", &t) || t > now + pv->leeway)))
        return AO2_JWT_ACCESS_NOT_YET;
    *claims = j;
    return AO2_JWT_ACCESS_OK;
}

const char *ao2_jwt_access_text(ao2_jwt_access_e r)
{
    switch (r) {
        case AO2_JWT_ACCESS_OK:
            return "valid";
        case AO2_JWT_ACCESS_BAD_SIGNATURE:
            return "its signature does not verify";
        case AO2_JWT_ACCESS_NOT_ACCESS:
            return "it is not an access token (typ, or an ID token)";
        case AO2_JWT_ACCESS_BAD_ISSUER:
            return "another issuer";
        case AO2_JWT_ACCESS_EXPIRED:
            return "it has expired (or has no exp)";
        case AO2_JWT_ACCESS_NOT_YET:
            return "it is not valid yet (nbf, iat)";
    }
    return "unknown";
}
