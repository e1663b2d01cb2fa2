#include "ao2_jwt.h"

#include <apr_strings.h>
#include <string.h>
#include <strings.h>

/* RFC 9068 §2.1 says "at+jwt" (also spelled with "application/");
 * Keycloak, Entra ID and Auth0 write "JWT" or nothing, so for those the
 * payload must at least not be an ID token. */
static int is_access_token(const ao2_jws_info_t *info, const ao2_json_t *j)
{
    const char *typ = info->typ, *ktyp;

    if (typ &&
        (!strcasecmp(typ, "at+jwt") || !strcasecmp(typ, "application/at+jwt")))
        return 1;
    if (typ && strcasecmp(typ, "JWT") != 0)
        return 0;
    ktyp = ao2_json_str(j, "typ");
    return !ao2_json_has(j, "nonce") && !(ktyp && !strcasecmp(ktyp, "ID"));
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
