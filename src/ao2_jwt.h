/* JWT access tokens (RFC 9068, and the Keycloak / Entra ID / Auth0 shapes)
 * checked locally with the provider's JWKS. Pure: no httpd, no I/O. Whom
 * the token is for (aud/azp/client_id against the location) is decided by
 * ao2_validate.c, as for introspection answers. */
#ifndef AO2_JWT_H
#define AO2_JWT_H

#include "ao2_jose.h"
#include "ao2_json.h"
#include "ao2_oauth2.h"

typedef enum {
    AO2_JWT_ACCESS_OK = 0,
    AO2_JWT_ACCESS_BAD_SIGNATURE, /* see *jws; AO2_JWS_UNKNOWN_KID: refetch */
    AO2_JWT_ACCESS_NOT_ACCESS,    /* an ID token or another kind of JWT */
    AO2_JWT_ACCESS_BAD_ISSUER,
    AO2_JWT_ACCESS_EXPIRED, /* exp missing or past (with leeway) */
    AO2_JWT_ACCESS_NOT_YET  /* nbf or iat in the future (with leeway) */
} ao2_jwt_access_e;

/* Signature with keys, then: typ "at+jwt" (RFC 9068 §4), or for providers
 * that write "JWT" or nothing, no mark of an ID token (nonce, at_hash,
 * c_hash, auth_time without a scope, Keycloak's typ claim "ID") and one of
 * an access token (scope, scp or client_id); iss equal to pv->issuer; exp
 * present and not past, nbf and iat not in the future, each with pv->leeway. On
 * AO2_JWT_ACCESS_OK, *claims and *exp are set. */
ao2_jwt_access_e ao2_jwt_access_verify(apr_pool_t *p, const ao2_provider_t *pv,
                                       const ao2_jwks_t *keys,
                                       const char *token, apr_int64_t now,
                                       const ao2_json_t **claims,
                                       apr_int64_t *exp, ao2_jws_result_e *jws);

const char *ao2_jwt_access_text(ao2_jwt_access_e r);

#endif
