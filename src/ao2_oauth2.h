/* Pure OAuth2 / OIDC protocol: authorization URLs, PKCE, client
 * authentication, token, ID token and introspection answers. No httpd and
 * no I/O, so every function here is unit-tested and fuzzed alone. */
#ifndef AO2_OAUTH2_H
#define AO2_OAUTH2_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "ao2_err.h"
#include "ao2_jose.h"
#include "ao2_json.h"

typedef enum {
    AO2_AUTH_CLIENT_SECRET_BASIC = 0,
    AO2_AUTH_CLIENT_SECRET_POST = 1
} ao2_client_auth_method_e;

/* How Bearer tokens this module did not issue are checked (token_validation=):
 * both (default): a JWT locally with the JWKS, anything else by
 * introspection; jwt: only locally; introspect: only by introspection. */
typedef enum {
    AO2_TV_BOTH = 0,
    AO2_TV_JWT = 1,
    AO2_TV_INTROSPECT = 2
} ao2_token_validation_e;

typedef struct ao2_provider {
    const char *name;
    /* Checked against the ID token's iss when set; with it, the discovery
     * document fills in every endpoint not given (ao2_discovery.c). */
    const char *issuer;
    const char *jwks_url; /* where the ID token signing keys are */
    const char *authorize_url;
    const char *token_url;
    const char *revoke_url;     /* optional, RFC 7009 */
    const char *userinfo_url;   /* optional */
    const char *introspect_url; /* optional, RFC 7662 */
    ao2_client_auth_method_e auth_method;
    /* Some providers (oidc-provider) answer introspection of a refresh token
     * with no token_type: then only answers that name one count. */
    int introspect_requires_token_type;
    /* Seconds of clock difference accepted on exp, iat and nbf. */
    int leeway;
    /* RFC 9207: the provider puts iss in its authorization responses
     * (from discovery), so the callback must carry ours. */
    int iss_parameter_supported;
    ao2_token_validation_e token_validation;
    /* Its place among the ApiOAuth2Provider lines: its metrics slot. */
    int index;
} ao2_provider_t;

typedef struct ao2_client {
    const ao2_provider_t *provider;
    const char *client_id;
    const char *client_secret;
    const char *scope;        /* space-separated, may be NULL */
    const char *extra_params; /* "k=v&k2=v2", already encoded, may be NULL */
} ao2_client_t;

/* What a token endpoint answered (RFC 6749 §5.1). */
typedef struct ao2_token_response {
    const char *access_token;
    const char *refresh_token; /* NULL when none was sent */
    const char *id_token;      /* NULL when none was sent */
    const char *token_type;
    const char *scope;      /* NULL when the provider did not say */
    apr_int64_t expires_in; /* -1 when the provider did not say */
} ao2_token_response_t;

/* PKCE verifier: 43 base64url characters (RFC 7636 §4.1). */
#define AO2_PKCE_VERIFIER_BYTES 32
#define AO2_STATE_BYTES         32
#define AO2_NONCE_BYTES         24
#define AO2_MAX_CLAIM_LEN       256

/* RFC 7636 S256: base64url(SHA-256(verifier)). */
char *ao2_pkce_challenge(apr_pool_t *p, const char *verifier);

/* The provider's authorization URL with response_type=code, state, nonce,
 * PKCE S256 and, when the scope asks for offline_access, prompt=consent
 * (OIDC Core §11: a refresh token needs explicit consent). */
char *ao2_authorize_url(apr_pool_t *p, const ao2_client_t *c,
                        const char *redirect_uri, const char *state,
                        const char *nonce, const char *code_challenge);

/* Which authorization server a provider configuration names: its issuer
 * (RFC 8414 §2: the server's identifier), else its token endpoint, where its
 * grants are redeemed. Stored with every token record and index entry, so
 * that a record is never used against another server than the one it came
 * from when ApiOAuth2Provider changes under the same name. Never NULL. */
const char *ao2_provider_identity(const ao2_provider_t *pv);

/* Adds the client's credentials to a token/revoke/introspect request the way
 * its provider wants them: returns the Authorization header value for
 * client_secret_basic (RFC 6749 §2.3.1: id and secret form-encoded first)
 * or NULL, and appends client_id/client_secret to *form for _post. */
const char *ao2_client_credentials(apr_pool_t *p, const ao2_client_t *c,
                                   const char **form);

/* The auth_params= option of ApiOAuth2Client ("name=value&..." as in a
 * query string, values percent-encoded where needed) checked and re-encoded
 * into *out. NULL on success, else what is wrong with it; the parameters
 * the module sets itself (state, nonce, PKCE, redirect_uri, ...) are
 * refused. */
const char *ao2_auth_params_canon(apr_pool_t *p, const char *text,
                                  const char **out);

/* Appends "&key=value" (or "key=value" to an empty form), encoded. */
const char *ao2_form_add(apr_pool_t *p, const char *form, const char *key,
                         const char *value);

/* Interprets a token endpoint's answer. NULL on success; else the error to
 * answer: a provider refusal (4xx with an RFC 6749 error) passes on as 4xx
 * with the provider's code; anything else is 502. */
ao2_err_t *ao2_parse_token_response(apr_pool_t *p, int http_status,
                                    const char *body, apr_size_t len,
                                    ao2_token_response_t *out);

/* An error answer of the provider (token or revoke endpoint) as our error:
 * 4xx kept with a sanitised code, 5xx and garbage become 502. */
ao2_err_t *ao2_provider_error(apr_pool_t *p, int http_status, const char *body,
                              apr_size_t len);

/* The claims of an ID token (OIDC Core §3.1.3.7): iss (when the provider
 * has an issuer), aud/azp against client_id, exp and iat (when present)
 * against now with the provider's leeway, and the nonce (when
 * expected_nonce is not NULL) in constant time. This decodes the payload
 * without looking at the signature: ao2_verify_id_token is what the
 * endpoints call. 502 on failure. */
ao2_err_t *ao2_check_id_token(apr_pool_t *p, const char *id_token,
                              const ao2_client_t *c, const char *expected_nonce,
                              apr_time_t now, ao2_json_t **claims);

/* The signature with the provider's keys first (ao2_jws_verify), then the
 * claims as above. *jws (may be NULL) says how the signature fared: on
 * AO2_JWS_UNKNOWN_KID the caller may fetch the JWKS again and retry. */
ao2_err_t *ao2_verify_id_token(apr_pool_t *p, const char *id_token,
                               const ao2_client_t *c, const ao2_jwks_t *keys,
                               const char *expected_nonce, apr_time_t now,
                               ao2_json_t **claims, ao2_jws_result_e *jws);

/* OIDC Core §12.2: the claims of a refreshed ID token must name the same
 * sub as the ID token on record (verified when it was stored). NULL when
 * they do, or when either is missing; 502 invalid_id_token otherwise. */
ao2_err_t *ao2_check_refreshed_sub(apr_pool_t *p, const char *stored_id_token,
                                   const ao2_json_t *new_claims);

/* RFC 9207 on an authorization response's iss parameter (NULL when
 * absent): when present it must be the provider's issuer exactly, and it
 * must be present when the provider says it sends one. 400 otherwise. */
ao2_err_t *ao2_check_response_iss(apr_pool_t *p, const ao2_provider_t *pv,
                                  const char *iss);

/* The payload of a three-part compact JWT, decoded (NUL-terminated), with
 * no check at all; NULL when the text is not shaped like one. */
const char *ao2_jwt_payload_unverified(apr_pool_t *p, const char *jwt,
                                       apr_size_t *plen);

/* A string claim of a JWT's payload, read without any check: the sub of
 * an ID token verified when it was stored (a refreshed one must name the
 * same, OIDC Core §12.2), the iss that picks the keys to verify with. NULL
 * when there is none. */
const char *ao2_jwt_claim_unverified(apr_pool_t *p, const char *jwt,
                                     const char *name);

/* A claim usable as an Odoo login: a string (or integer) of 1 to
 * AO2_MAX_CLAIM_LEN characters that ao2_login_ok accepts. NULL otherwise. */
const char *ao2_claim_login(apr_pool_t *p, const ao2_json_t *claims,
                            const char *claim);
/* 1 when n bytes at s can name an Odoo login: 1 to AO2_MAX_CLAIM_LEN of
 * them, no control character (C0, DEL, or C1 in UTF-8) anywhere, and no
 * space at either end ("bob " is not "bob", but would pass for him in a
 * lax lookup). */
int ao2_login_ok(const char *s, apr_size_t n);

/* With login claim "email": 1 when claims say email_verified true (a
 * boolean, or the string "true" some providers send). */
int ao2_email_verified(const ao2_json_t *claims);
/* ao2_claim_login, and with require_verified and claim "email" only an
 * email ao2_email_verified vouches for; *unverified is set to 1 when that
 * alone refused it. */
const char *ao2_claim_login_checked(apr_pool_t *p, const ao2_json_t *claims,
                                    const char *claim, int require_verified,
                                    int *unverified);

/* scheme://host[:port]path, for a redirect URI built from the server's own
 * name: port left out when 0 or the scheme's default (80 http, 443 https),
 * an IPv6 literal put in brackets. NULL for a scheme other than http(s) or
 * an empty host. */
char *ao2_origin_url(apr_pool_t *p, const char *scheme, const char *host,
                     unsigned port, const char *path);

/* RFC 6749 error codes are %x20-21 / %x23-5B / %x5D-7E; we are stricter
 * and keep [a-z0-9_.-] of at most 64 characters, else "fallback". */
const char *ao2_sanitize_error_code(const char *code, const char *fallback);
/* A provider's (or a redirect's) error_description made safe to log and to
 * answer: at most AO2_MAX_DESCRIPTION characters of printable ASCII (others,
 * and <>"'&\\`, become '?'), and any run of token characters that looks like
 * a credential (AO2_TOKEN_LIKE_ANY long, or AO2_TOKEN_LIKE_MIXED long with a
 * digit or a capital) replaced by "[redacted]": some servers put the token
 * they refuse into it. NULL stays NULL. */
#define AO2_MAX_DESCRIPTION  200
#define AO2_TOKEN_LIKE_ANY   40
#define AO2_TOKEN_LIKE_MIXED 16
const char *ao2_sanitize_description(apr_pool_t *p, const char *text);

/* What an RFC 7662 introspection answer says about a Bearer credential. */
typedef struct ao2_introspection {
    int active;               /* usable as an access token right now */
    const char *login;        /* from the login claim only; may be NULL */
    const char *scope;        /* may be NULL */
    apr_int64_t expires_at;   /* Unix seconds; 0 when the answer had no exp */
    const ao2_json_t *claims; /* the whole answer when active: aud, azp,
                                 client_id, sub, email_verified */
} ao2_introspection_t;

/* Interprets an introspection answer. A token counts as active only when
 * "active" is true, "exp" (when present) is in the future and a
 * "token_type", when present, names an access token: refresh and ID tokens
 * are never Bearer credentials. Whom it was issued to and whether a login
 * is there are the caller's questions (ao2_validate.c). NULL on success
 * (active or not); an error (502) when the answer is not a valid
 * introspection response. */
ao2_err_t *ao2_parse_introspection(apr_pool_t *p, int http_status,
                                   const char *body, apr_size_t len,
                                   const char *login_claim,
                                   int require_token_type, apr_int64_t now,
                                   ao2_introspection_t *out);

/* True when every space-separated word of required is in granted. */
int ao2_scope_covers(const char *granted, const char *required);
/* The scopes a token's claims grant: "scope", else "scp" (RFC 9068 and
 * RFC 7662 say scope; Entra ID and Okta say scp, an array at Okta). */
const char *ao2_claim_scope(apr_pool_t *p, const ao2_json_t *claims);

/* True when the space-separated scope list contains word. */
int ao2_scope_has(const char *scope, const char *word);

#endif
