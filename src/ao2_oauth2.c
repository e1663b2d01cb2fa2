#include "ao2_oauth2.h"

#include <apr_strings.h>
#include <apr_lib.h>
#include <string.h>

#include "ao2_crypto.h"
#include "ao2_params.h"

#define HTTP_BAD_GATEWAY 502

char *ao2_pkce_challenge(apr_pool_t *p, const char *verifier)
{
    return ao2_sha256_b64url(p, verifier, strlen(verifier));
}

const char *ao2_form_add(apr_pool_t *p, const char *form, const char *key,
                         const char *value)
{
    const char *pair = apr_pstrcat(p, ao2_url_encode(p, key), "=",
                                   ao2_url_encode(p, value), NULL);
    if (form == NULL || *form == '\0')
        return pair;
    return apr_pstrcat(p, form, "&", pair, NULL);
}

int ao2_scope_has(const char *scope, const char *word)
{
    apr_size_t wlen = strlen(word);
    const char *s = scope;

    if (scope == NULL || wlen == 0)
        return 0;
    while (*s) {
        apr_size_t n;
        while (*s == ' ')
            s++;
        n = strcspn(s, " ");
        if (n == wlen && strncmp(s, word, n) == 0)
            return 1;
        s += n;
    }
    return 0;
}

/* Parameters the module sets itself: an operator's value for one of them
 * would replace the state, nonce or PKCE check, or send the code elsewhere. */
static const char *const reserved_auth_params[] = {
    "response_type", "client_id",   "redirect_uri",   "scope",
    "state",         "nonce",       "code_challenge", "code_challenge_method",
    "request",       "request_uri",
};

static int form_has_key(const char *form, const char *key)
{
    apr_size_t n = strlen(key);
    const char *s = form;

    while (s && *s) {
        if (strncmp(s, key, n) == 0 && s[n] == '=')
            return 1;
        s = strchr(s, '&');
        if (s)
            s++;
    }
    return 0;
}

const char *ao2_auth_params_canon(apr_pool_t *p, const char *text,
                                  const char **out)
{
    char *copy = apr_pstrdup(p, text), *last = NULL, *pair;
    const char *form = NULL;
    apr_size_t i;

    for (pair = apr_strtok(copy, "&", &last); pair;
         pair = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(pair, '='), *name = pair, *value;
        const char *c;

        if (eq == NULL || eq == pair)
            return apr_psprintf(p, "\"%s\" is not NAME=VALUE", pair);
        *eq = '\0';
        value = eq + 1;
        for (c = name; *c; c++)
            if (!apr_isalnum(*c) && *c != '_' && *c != '-' && *c != '.')
                return apr_psprintf(p, "bad parameter name \"%s\"", name);
        for (i = 0;
             i < sizeof(reserved_auth_params) / sizeof(reserved_auth_params[0]);
             i++)
            if (strcmp(name, reserved_auth_params[i]) == 0)
                return apr_psprintf(p, "%s is set by the module itself%s", name,
                                    strcmp(name, "scope") == 0 ? " (use scope=)"
                                                               : "");
        if (form_has_key(form, name))
            return apr_psprintf(p, "%s is given twice", name);
        if (ao2_url_decode(value, 1) < 0)
            return apr_psprintf(p, "the value of %s is badly percent-encoded",
                                name);
        form = ao2_form_add(p, form, name, value);
    }
    if (form == NULL)
        return "no parameter given";
    *out = form;
    return NULL;
}

const char *ao2_claim_scope(apr_pool_t *p, const ao2_json_t *claims)
{
    const char *scope = ao2_json_str(claims, "scope");

    /* Entra ID and Okta name the scopes "scp" (a string or an array). */
    return scope ? scope : ao2_json_str_list(p, claims, "scp");
}

char *ao2_authorize_url(apr_pool_t *p, const ao2_client_t *c,
                        const char *redirect_uri, const char *state,
                        const char *nonce, const char *code_challenge)
{
    const char *q = ao2_form_add(p, NULL, "response_type", "code");

    q = ao2_form_add(p, q, "client_id", c->client_id);
    q = ao2_form_add(p, q, "redirect_uri", redirect_uri);
    if (c->scope && *c->scope)
        q = ao2_form_add(p, q, "scope", c->scope);
    q = ao2_form_add(p, q, "state", state);
    q = ao2_form_add(p, q, "nonce", nonce);
    q = ao2_form_add(p, q, "code_challenge", code_challenge);
    q = ao2_form_add(p, q, "code_challenge_method", "S256");
    if (ao2_scope_has(c->scope, "offline_access") &&
        !form_has_key(c->extra_params, "prompt"))
        q = ao2_form_add(p, q, "prompt", "consent");
    if (c->extra_params && *c->extra_params)
        q = apr_pstrcat(p, q, "&", c->extra_params, NULL);
    return apr_pstrcat(p, c->provider->authorize_url,
                       strchr(c->provider->authorize_url, '?') ? "&" : "?", q,
                       NULL);
}

const char *ao2_provider_identity(const ao2_provider_t *pv)
{
    /* The configuration requires issuer= or token= (ao2_directives.c). */
    if (pv->issuer)
        return pv->issuer;
    return pv->token_url ? pv->token_url : "";
}

const char *ao2_client_credentials(apr_pool_t *p, const ao2_client_t *c,
                                   const char **form)
{
    const char *userpass;

    if (c->provider->auth_method == AO2_AUTH_CLIENT_SECRET_POST) {
        *form = ao2_form_add(p, *form, "client_id", c->client_id);
        *form = ao2_form_add(p, *form, "client_secret", c->client_secret);
        return NULL;
    }
    userpass = apr_pstrcat(p, ao2_url_encode(p, c->client_id), ":",
                           ao2_url_encode(p, c->client_secret), NULL);
    return apr_pstrcat(
        p, "Basic ",
        ao2_b64_encode(p, (const unsigned char *)userpass, strlen(userpass)),
        NULL);
}

char *ao2_origin_url(apr_pool_t *p, const char *scheme, const char *host,
                     unsigned port, const char *path)
{
    int https = scheme && strcasecmp(scheme, "https") == 0;
    int v6;

    if ((!https && (scheme == NULL || strcasecmp(scheme, "http") != 0)) ||
        host == NULL || *host == '\0')
        return NULL;
    v6 = strchr(host, ':') != NULL && host[0] != '[';
    if (port == (https ? 443u : 80u))
        port = 0;
    return apr_pstrcat(p, https ? "https://" : "http://", v6 ? "[" : "", host,
                       v6 ? "]" : "", port ? apr_psprintf(p, ":%u", port) : "",
                       path ? path : "", NULL);
}

const char *ao2_sanitize_error_code(const char *code, const char *fallback)
{
    const char *c;

    if (code == NULL || *code == '\0' || strlen(code) > 64)
        return fallback;
    for (c = code; *c; c++) {
        if (!(apr_islower(*c) || apr_isdigit(*c) || *c == '_' || *c == '.' ||
              *c == '-'))
            return fallback;
    }
    return code;
}

/* Characters a token is made of (RFC 6750 b64token, JWT dots). */
static int token_char(char c)
{
    return apr_isalnum(c) || (c && strchr("-._~+/=", c) != NULL);
}

/* Printable ASCII that needs no escaping in JSON, HTML or a log line. */
static int plain_char(char c)
{
    return c >= 0x20 && c < 0x7f && !strchr("<>\"'&\\`", c);
}

/* A run of token characters that looks like a credential rather than a
 * word: long, or shorter with a digit or a capital (identifiers such as
 * "invalid_refresh_token" have neither). */
static int token_like(const char *s, apr_size_t n)
{
    apr_size_t i;

    if (n >= AO2_TOKEN_LIKE_ANY)
        return 1;
    for (i = 0; n >= AO2_TOKEN_LIKE_MIXED && i < n; i++) {
        if (apr_isdigit(s[i]) || apr_isupper(s[i]))
            return 1;
    }
    return 0;
}

const char *ao2_sanitize_description(apr_pool_t *p, const char *text)
{
    static const char redacted[] = "[redacted]";
    char *out, *o;
    const char *s;

    if (text == NULL)
        return NULL;
    out = o = apr_palloc(p, AO2_MAX_DESCRIPTION + 1);
    /* Runs are judged whole, also past the cut: no prefix of a token that
     * straddles it is kept. */
    for (s = text; *s && o < out + AO2_MAX_DESCRIPTION;) {
        apr_size_t n = 0, room = (apr_size_t)(out + AO2_MAX_DESCRIPTION - o);
        const char *keep;

        while (token_char(s[n]))
            n++;
        if (n == 0) {
            *o++ = plain_char(*s) ? *s : '?';
            s++;
            continue;
        }
        keep = token_like(s, n) ? redacted : s;
        if (keep == redacted)
            n = sizeof(redacted) - 1;
        if (n > room)
            n = keep == redacted ? 0 : room;
        memcpy(o, keep, n);
        o += n;
        while (token_char(*s))
            s++;
        if (n == 0)
            break;
    }
    *o = '\0';
    return out;
}

ao2_err_t *ao2_provider_error(apr_pool_t *p, int http_status, const char *body,
                              apr_size_t len)
{
    const char *why;
    ao2_json_t *j;
    const char *code, *desc;

    if (http_status < 400 || http_status >= 500) {
        return ao2_err_make(p, HTTP_BAD_GATEWAY, "invalid_provider_response",
                            "the provider answered with HTTP %d", http_status);
    }
    j = ao2_json_parse_object(p, body, len, &why);
    code = j ? ao2_json_str(j, "error") : NULL;
    if (code == NULL) {
        return ao2_err_make(p, HTTP_BAD_GATEWAY, "invalid_provider_response",
                            "the provider answered HTTP %d without an "
                            "OAuth2 error",
                            http_status);
    }
    desc = ao2_sanitize_description(p, ao2_json_str(j, "error_description"));
    /* Only 400 and 401 are OAuth2 refusals (RFC 6749 §5.2); keep others in
     * the 4xx range the client understands. */
    return ao2_err_make(p, http_status == 401 ? 401 : 400,
                        ao2_sanitize_error_code(code, "invalid_request"),
                        "provider: %s",
                        desc ? desc : ao2_sanitize_description(p, code));
}

ao2_err_t *ao2_parse_token_response(apr_pool_t *p, int http_status,
                                    const char *body, apr_size_t len,
                                    ao2_token_response_t *out)
{
    const char *why;
    ao2_json_t *j;

    memset(out, 0, sizeof(*out));
    out->expires_in = -1;
    if (http_status != 200)
        return ao2_provider_error(p, http_status, body, len);
    j = ao2_json_parse_object(p, body, len, &why);
    if (j == NULL) {
        return ao2_err_make(p, HTTP_BAD_GATEWAY, "invalid_provider_response",
                            "the token endpoint answered something that is "
                            "not JSON (%s)",
                            why);
    }
    out->access_token = ao2_json_str(j, "access_token");
    out->token_type = ao2_json_str(j, "token_type");
    if (out->access_token == NULL || *out->access_token == '\0' ||
        out->token_type == NULL) {
        return ao2_err_make(p, HTTP_BAD_GATEWAY, "invalid_provider_response",
                            "the token endpoint's answer has no access_token "
                            "or token_type");
    }
    out->refresh_token = ao2_json_str(j, "refresh_token");
    out->id_token = ao2_json_str(j, "id_token");
    out->scope = ao2_json_str(j, "scope");
    if (ao2_json_has(j, "expires_in") &&
        (!ao2_json_int(j, "expires_in", &out->expires_in) ||
         out->expires_in < 0 || out->expires_in > 10 * 365 * 86400)) {
        return ao2_err_make(p, HTTP_BAD_GATEWAY, "invalid_provider_response",
                            "the token endpoint's expires_in is not a "
                            "sane number of seconds");
    }
    return NULL;
}

static ao2_err_t *id_token_error(apr_pool_t *p, const char *what)
{
    return ao2_err_make(p, HTTP_BAD_GATEWAY, "invalid_id_token",
                        "the provider's ID token %s", what);
}

/* OIDC Core §3.1.3.7 steps 2-5, 9-11 on the decoded payload. */
static ao2_err_t *check_claims(apr_pool_t *p, const char *payload,
                               apr_size_t plen, const ao2_client_t *c,
                               const char *expected_nonce, apr_time_t now,
                               ao2_json_t **claims)
{
    const char *why, *iss, *azp, *nonce;
    apr_int64_t exp, iat, now_s = (apr_int64_t)apr_time_sec(now);
    apr_int64_t leeway = c->provider->leeway;
    ao2_json_t *j;
    int naud;

    j = ao2_json_parse_object(p, payload, plen, &why);
    if (j == NULL)
        return id_token_error(p, "payload is not a JSON object");
    iss = ao2_json_str(j, "iss");
    if (c->provider->issuer &&
        (iss == NULL || strcmp(iss, c->provider->issuer) != 0))
        return id_token_error(p, "was issued by someone else (iss)");
    if (!ao2_json_str_or_array_has(j, "aud", c->client_id))
        return id_token_error(p, "is meant for another client (aud)");
    /* Steps 4-5: with several audiences azp must name us; when present it
     * must name us in any case. */
    naud = ao2_json_array_len(j, "aud");
    azp = ao2_json_str(j, "azp");
    if ((naud > 1 && azp == NULL) ||
        (azp != NULL && strcmp(azp, c->client_id) != 0))
        return id_token_error(p, "was issued to another party (azp)");
    if (!ao2_json_int(j, "exp", &exp))
        return id_token_error(p, "has no exp");
    if (exp < now_s - leeway)
        return id_token_error(p, "has expired");
    /* Step 10: an ID token from the future is a clock problem or a forgery
     * made for later; either way not one to accept now. */
    if (ao2_json_has(j, "iat") &&
        (!ao2_json_int(j, "iat", &iat) || iat > now_s + leeway))
        return id_token_error(p, "was issued in the future (iat)");
    if (expected_nonce) {
        nonce = ao2_json_str(j, "nonce");
        if (nonce == NULL || !ao2_ct_equal(nonce, strlen(nonce), expected_nonce,
                                           strlen(expected_nonce)))
            return id_token_error(p, "does not carry our nonce");
    }
    *claims = j;
    return NULL;
}

const char *ao2_jwt_payload_unverified(apr_pool_t *p, const char *jwt,
                                       apr_size_t *plen)
{
    const char *dot1 = strchr(jwt, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    unsigned char *payload;

    if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
        return NULL;
    if (ao2_b64url_decode(p, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1), &payload,
                          plen) != APR_SUCCESS)
        return NULL;
    return (const char *)payload;
}

ao2_err_t *ao2_check_id_token(apr_pool_t *p, const char *id_token,
                              const ao2_client_t *c, const char *expected_nonce,
                              apr_time_t now, ao2_json_t **claims)
{
    apr_size_t plen;
    const char *payload = ao2_jwt_payload_unverified(p, id_token, &plen);

    if (payload == NULL)
        return id_token_error(p, "is not a compact JWT with a base64url "
                                 "payload");
    return check_claims(p, payload, plen, c, expected_nonce, now, claims);
}

ao2_err_t *ao2_verify_id_token(apr_pool_t *p, const char *id_token,
                               const ao2_client_t *c, const ao2_jwks_t *keys,
                               const char *expected_nonce, apr_time_t now,
                               ao2_json_t **claims, ao2_jws_result_e *jws)
{
    ao2_jws_result_e local;
    char *payload;
    apr_size_t plen;

    if (jws == NULL)
        jws = &local;
    *jws = ao2_jws_verify(p, keys, id_token, strlen(id_token), &payload, &plen,
                          NULL);
    if (*jws != AO2_JWS_OK)
        return id_token_error(
            p, apr_pstrcat(p, "has ", ao2_jws_result_text(*jws), NULL));
    return check_claims(p, payload, plen, c, expected_nonce, now, claims);
}

ao2_err_t *ao2_check_refreshed_sub(apr_pool_t *p, const char *stored_id_token,
                                   const ao2_json_t *new_claims)
{
    const char *old_sub =
        stored_id_token ? ao2_jwt_claim_unverified(p, stored_id_token, "sub")
                        : NULL;
    const char *new_sub = new_claims ? ao2_json_str(new_claims, "sub") : NULL;

    if (old_sub && new_sub && strcmp(old_sub, new_sub) != 0)
        return id_token_error(p, "names another subject than the one on "
                                 "record (sub)");
    return NULL;
}

ao2_err_t *ao2_check_response_iss(apr_pool_t *p, const ao2_provider_t *pv,
                                  const char *iss)
{
    if (iss == NULL && !pv->iss_parameter_supported)
        return NULL;
    if (iss == NULL)
        return ao2_err_make(p, 400, "invalid_request",
                            "the authorization response has no iss, which "
                            "this provider always sends (RFC 9207)");
    if (pv->issuer == NULL || strcmp(iss, pv->issuer) != 0)
        return ao2_err_make(p, 400, "invalid_request",
                            "the authorization response comes from another "
                            "issuer (RFC 9207)");
    return NULL;
}

const char *ao2_jwt_claim_unverified(apr_pool_t *p, const char *jwt,
                                     const char *name)
{
    apr_size_t plen;
    const char *payload = ao2_jwt_payload_unverified(p, jwt, &plen), *why;
    ao2_json_t *j =
        payload ? ao2_json_parse_object(p, payload, plen, &why) : NULL;

    return j ? ao2_json_str(j, name) : NULL;
}

const char *ao2_claim_login(apr_pool_t *p, const ao2_json_t *claims,
                            const char *claim)
{
    const char *v = ao2_json_str(claims, claim);
    apr_int64_t n;

    if (v == NULL && ao2_json_int(claims, claim, &n))
        v = apr_psprintf(p, "%" APR_INT64_T_FMT, n);
    if (v == NULL || !ao2_login_ok(v, strlen(v)))
        return NULL;
    return v;
}

int ao2_login_ok(const char *s, apr_size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t i;

    if (n == 0 || n > AO2_MAX_CLAIM_LEN || u[0] == ' ' || u[n - 1] == ' ')
        return 0;
    for (i = 0; i < n; i++) {
        /* Logins become request headers for Odoo: no controls, no DEL, and
         * no C1 control (U+0080..U+009F, 0xC2 0x80..0x9F in UTF-8). */
        if (u[i] < 0x20 || u[i] == 0x7f ||
            (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f))
            return 0;
    }
    return 1;
}

const char *ao2_claim_login_checked(apr_pool_t *p, const ao2_json_t *claims,
                                    const char *claim, int require_verified,
                                    int *unverified)
{
    const char *login = ao2_claim_login(p, claims, claim);

    if (login && require_verified && !strcmp(claim, "email") &&
        !ao2_email_verified(claims)) {
        *unverified = 1;
        return NULL;
    }
    return login;
}

int ao2_email_verified(const ao2_json_t *claims)
{
    const char *s = ao2_json_str(claims, "email_verified");
    int b = 0;

    if (s)
        return strcmp(s, "true") == 0;
    return ao2_json_bool(claims, "email_verified", &b) && b;
}

int ao2_scope_covers(const char *granted, const char *required)
{
    const char *s = required;
    char word[256];

    while (*s) {
        apr_size_t n;
        while (*s == ' ')
            s++;
        n = strcspn(s, " ");
        if (n == 0)
            break;
        if (n >= sizeof(word))
            return 0;
        memcpy(word, s, n);
        word[n] = '\0';
        if (!ao2_scope_has(granted, word))
            return 0;
        s += n;
    }
    return 1;
}

/* RFC 7662 §2.2 leaves token_type free-form; providers say "Bearer" or
 * "access_token" for access tokens and name the other kinds otherwise. */
static int names_access_token(const char *token_type, int required)
{
    if (token_type == NULL)
        return !required;
    return strcasecmp(token_type, "Bearer") == 0 ||
           strcasecmp(token_type, "access_token") == 0 ||
           strcasecmp(token_type, "urn:ietf:params:oauth:token-type:"
                                  "access_token") == 0;
}

ao2_err_t *ao2_parse_introspection(apr_pool_t *p, int http_status,
                                   const char *body, apr_size_t len,
                                   const char *login_claim,
                                   int require_token_type, apr_int64_t now,
                                   ao2_introspection_t *out)
{
    const char *why;
    ao2_json_t *j;
    int active = 0;

    memset(out, 0, sizeof(*out));
    /* A 400 is about the token we sent (oidc-provider: a JWT is an
     * "unsupported_token_type"): not an access token it vouches for. Other
     * refusals (our credentials, its own trouble) are the caller's to log. */
    if (http_status == 400)
        return NULL;
    if (http_status != 200)
        return ao2_provider_error(p, http_status, body, len);
    j = ao2_json_parse_object(p, body, len, &why);
    if (j == NULL || !ao2_json_bool(j, "active", &active))
        return ao2_err_make(p, HTTP_BAD_GATEWAY, "invalid_provider_response",
                            "the introspection answer has no boolean "
                            "\"active\"");
    if (!active)
        return NULL;
    if (ao2_json_has(j, "exp") &&
        (!ao2_json_int(j, "exp", &out->expires_at) || out->expires_at <= now))
        return NULL;
    if (!names_access_token(ao2_json_str(j, "token_type"), require_token_type))
        return NULL;
    /* No fallback to username or sub: the login is the operator's claim. */
    out->login = ao2_claim_login(p, j, login_claim);
    out->scope = ao2_claim_scope(p, j);
    out->claims = j;
    out->active = 1;
    return NULL;
}
