/* ao2_oauth2: the authorization URL, PKCE, client authentication, and how
 * token, ID token and introspection answers of a provider are judged. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_crypto.h"
#include "ao2_oauth2.h"
#include "ao2_params.h"
#include "tap.h"

#define NOW_SEC ((apr_int64_t)1700000000)
#define RFC_CV  "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define RFC_CC  "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
/* Where a table row puts an expiry: APR formats 64-bit integers its own
 * way (no %lld). */
#define EXP       "%" APR_INT64_T_FMT
#define TEN_YEARS ((apr_int64_t)10 * 365 * 86400)
/* The provider's leeway= in these tests (seconds). */
#define LEEWAY 60

static ao2_client_t *make_client(apr_pool_t *p, const char *authorize_url,
                                 const char *issuer, const char *client_id,
                                 const char *client_secret, const char *scope)
{
    ao2_provider_t *pv = apr_pcalloc(p, sizeof(*pv));
    ao2_client_t *c = apr_pcalloc(p, sizeof(*c));

    pv->name = "idp";
    pv->issuer = issuer;
    pv->authorize_url = authorize_url;
    pv->token_url = "https://idp.example/token";
    pv->auth_method = AO2_AUTH_CLIENT_SECRET_BASIC;
    pv->leeway = LEEWAY;
    c->provider = pv;
    c->client_id = client_id;
    c->client_secret = client_secret;
    c->scope = scope;
    return c;
}

/* The query a URL carries, as "k=v;k2=v2" after decoding. */
static const char *query_fields(apr_pool_t *p, const char *url)
{
    const char *q = strchr(url, '?');
    apr_table_t *t = apr_table_make(p, 8);
    const apr_array_header_t *a;
    const apr_table_entry_t *e;
    const char *s = "";
    int i;

    if (q == NULL ||
        ao2_params_parse_form(p, q + 1, strlen(q + 1), t) != NULL) {
        return NULL;
    }
    a = apr_table_elts(t);
    e = (const apr_table_entry_t *)a->elts;
    for (i = 0; i < a->nelts; i++) {
        s = apr_pstrcat(p, s, i ? ";" : "", e[i].key, "=", e[i].val, NULL);
    }
    return s;
}

static void authorize_url_cases(apr_pool_t *p)
{
    static const struct {
        const char *authorize, *scope, *extra, *want, *fields;
    } cases[] = {
        {"https://idp.example/authorize", "openid email", NULL,
         "https://idp.example/authorize?response_type=code"
         "&client_id=my%20client"
         "&redirect_uri=https%3A%2F%2Frp.example%2Fcb%3Fx%3D1%26y%3D2"
         "&scope=openid%20email&state=st%2F1&nonce=n%2B1"
         "&code_challenge=" RFC_CC "&code_challenge_method=S256",
         "response_type=code;client_id=my client;"
         "redirect_uri=https://rp.example/cb?x=1&y=2;scope=openid email;"
         "state=st/1;nonce=n+1;code_challenge=" RFC_CC
         ";code_challenge_method=S256"},
        /* The authorize URL already has a query: '&', not a second '?'. */
        {"https://login.example/oauth2/v2.0/authorize?p=B2C_1_signin", "read",
         NULL,
         "https://login.example/oauth2/v2.0/authorize?p=B2C_1_signin"
         "&response_type=code&client_id=my%20client"
         "&redirect_uri=https%3A%2F%2Frp.example%2Fcb%3Fx%3D1%26y%3D2"
         "&scope=read&state=st%2F1&nonce=n%2B1"
         "&code_challenge=" RFC_CC "&code_challenge_method=S256",
         "p=B2C_1_signin;response_type=code;client_id=my client;"
         "redirect_uri=https://rp.example/cb?x=1&y=2;scope=read;"
         "state=st/1;nonce=n+1;code_challenge=" RFC_CC
         ";code_challenge_method=S256"},
        /* offline_access asks for consent, as OIDC Core §11 wants. */
        {"https://idp.example/authorize", "openid  offline_access", NULL,
         "https://idp.example/authorize?response_type=code"
         "&client_id=my%20client"
         "&redirect_uri=https%3A%2F%2Frp.example%2Fcb%3Fx%3D1%26y%3D2"
         "&scope=openid%20%20offline_access&state=st%2F1&nonce=n%2B1"
         "&code_challenge=" RFC_CC "&code_challenge_method=S256"
         "&prompt=consent",
         NULL},
        /* A word that merely starts with offline_access is not it. */
        {"https://idp.example/authorize", "offline_accessible openid", NULL,
         "https://idp.example/authorize?response_type=code"
         "&client_id=my%20client"
         "&redirect_uri=https%3A%2F%2Frp.example%2Fcb%3Fx%3D1%26y%3D2"
         "&scope=offline_accessible%20openid&state=st%2F1&nonce=n%2B1"
         "&code_challenge=" RFC_CC "&code_challenge_method=S256",
         NULL},
        /* No scope configured: no scope parameter at all. */
        {"https://idp.example/authorize", NULL, NULL,
         "https://idp.example/authorize?response_type=code"
         "&client_id=my%20client"
         "&redirect_uri=https%3A%2F%2Frp.example%2Fcb%3Fx%3D1%26y%3D2"
         "&state=st%2F1&nonce=n%2B1"
         "&code_challenge=" RFC_CC "&code_challenge_method=S256",
         "response_type=code;client_id=my client;"
         "redirect_uri=https://rp.example/cb?x=1&y=2;"
         "state=st/1;nonce=n+1;code_challenge=" RFC_CC
         ";code_challenge_method=S256"},
        {"https://idp.example/authorize", "", NULL,
         "https://idp.example/authorize?response_type=code"
         "&client_id=my%20client"
         "&redirect_uri=https%3A%2F%2Frp.example%2Fcb%3Fx%3D1%26y%3D2"
         "&state=st%2F1&nonce=n%2B1"
         "&code_challenge=" RFC_CC "&code_challenge_method=S256",
         NULL},
        /* Extra parameters are already encoded and go last, as they are. */
        {"https://idp.example/authorize", "openid", "audience=api%2F1&x=y",
         "https://idp.example/authorize?response_type=code"
         "&client_id=my%20client"
         "&redirect_uri=https%3A%2F%2Frp.example%2Fcb%3Fx%3D1%26y%3D2"
         "&scope=openid&state=st%2F1&nonce=n%2B1"
         "&code_challenge=" RFC_CC "&code_challenge_method=S256"
         "&audience=api%2F1&x=y",
         NULL},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        ao2_client_t *c = make_client(p, cases[i].authorize, NULL, "my client",
                                      "secret", cases[i].scope);
        char *url;

        c->extra_params = cases[i].extra;
        url = ao2_authorize_url(p, c, "https://rp.example/cb?x=1&y=2", "st/1",
                                "n+1", RFC_CC);
        is_str(url, cases[i].want, "authorize row %d", (int)i);
        if (cases[i].fields) {
            is_str(query_fields(p, url), cases[i].fields,
                   "authorize row %d decodes back", (int)i);
        }
    }
}

static void pkce_cases(apr_pool_t *p)
{
    char *verifier = ao2_random_b64url(p, AO2_PKCE_VERIFIER_BYTES);
    char *challenge;

    is_str(ao2_pkce_challenge(p, RFC_CV), RFC_CC,
           "RFC 7636 appendix B: S256 challenge of its verifier");
    ok(verifier && strlen(verifier) == 43, "a verifier is 43 characters");
    challenge = verifier ? ao2_pkce_challenge(p, verifier) : NULL;
    ok(challenge && strlen(challenge) == 43 && !strchr(challenge, '='),
       "its challenge is 43 unpadded characters");
    ok(challenge && strcmp(challenge, verifier) != 0,
       "the challenge is not the verifier");
}

static void form_add_cases(apr_pool_t *p)
{
    is_str(ao2_form_add(p, NULL, "a b", "c&d"), "a%20b=c%26d", "NULL form");
    is_str(ao2_form_add(p, "", "k", "v"), "k=v", "empty form");
    is_str(ao2_form_add(p, "x=1", "k", "=+%"), "x=1&k=%3D%2B%25",
           "appends with &");
    is_str(ao2_form_add(p, "x=1", "k", ""), "x=1&k=", "empty value");
}

static void client_credentials_cases(apr_pool_t *p)
{
    static const struct {
        ao2_client_auth_method_e method;
        const char *id, *secret, *form, *want_auth, *want_form;
    } cases[] = {
        /* RFC 6749 §2.3.1: form-encode id and secret, then Basic. */
        {AO2_AUTH_CLIENT_SECRET_BASIC, "a b", "p:w%", "grant_type=x",
         "Basic YSUyMGI6cCUzQXclMjU=", "grant_type=x"},
        {AO2_AUTH_CLIENT_SECRET_BASIC, "client", "s3cr3t", NULL,
         "Basic Y2xpZW50OnMzY3IzdA==", NULL},
        {AO2_AUTH_CLIENT_SECRET_POST, "a b", "p:w%",
         "grant_type=authorization_code&code=xyz", NULL,
         "grant_type=authorization_code&code=xyz"
         "&client_id=a%20b&client_secret=p%3Aw%25"},
        {AO2_AUTH_CLIENT_SECRET_POST, "client", "s3cr3t", NULL, NULL,
         "client_id=client&client_secret=s3cr3t"},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        ao2_client_t *c = make_client(p, "https://idp.example/authorize", NULL,
                                      cases[i].id, cases[i].secret, NULL);
        const char *form = cases[i].form, *auth;

        ((ao2_provider_t *)c->provider)->auth_method = cases[i].method;
        auth = ao2_client_credentials(p, c, &form);
        is_str(auth, cases[i].want_auth, "credentials row %d: header", (int)i);
        is_str(form, cases[i].want_form, "credentials row %d: form", (int)i);
    }
}

static int printable(const char *s)
{
    for (; s && *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return s != NULL;
}

static void token_response_cases(apr_pool_t *p)
{
    static const struct {
        int status;
        const char *body;
        int want_status; /* 0: accepted */
        const char *want_code;
        apr_int64_t want_expires_in;
    } cases[] = {
        {200,
         "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
         "\"expires_in\":3600,\"refresh_token\":\"rt1\","
         "\"id_token\":\"h.p.s\",\"scope\":\"openid email\"}",
         0, NULL, 3600},
        {200, "{\"access_token\":\"at1\",\"token_type\":\"bearer\"}", 0, NULL,
         -1},
        {200,
         "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
         "\"expires_in\":3600.0}",
         0, NULL, 3600},
        {200,
         "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
         "\"expires_in\":0}",
         0, NULL, 0},
        {200,
         "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
         "\"expires_in\":315360000}",
         0, NULL, TEN_YEARS},
        /* Not a valid OAuth2 answer: 502. */
        {200, "{\"token_type\":\"Bearer\",\"expires_in\":3600}", 502,
         "invalid_provider_response", -1},
        {200, "{\"access_token\":\"\",\"token_type\":\"Bearer\"}", 502,
         "invalid_provider_response", -1},
        {200, "{\"access_token\":42,\"token_type\":\"Bearer\"}", 502,
         "invalid_provider_response", -1},
        {200, "{\"access_token\":\"at1\"}", 502, "invalid_provider_response",
         -1},
        {200, "<html><body>Welcome</body></html>", 502,
         "invalid_provider_response", -1},
        {200, "", 502, "invalid_provider_response", -1},
        {200, "[{\"access_token\":\"at1\",\"token_type\":\"Bearer\"}]", 502,
         "invalid_provider_response", -1},
        {200,
         "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
         "\"expires_in\":\"3600\"}",
         502, "invalid_provider_response", -1},
        {200,
         "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
         "\"expires_in\":-1}",
         502, "invalid_provider_response", -1},
        {200,
         "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
         "\"expires_in\":315360001}",
         502, "invalid_provider_response", -1},
        {200,
         "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
         "\"expires_in\":9223372036854775807}",
         502, "invalid_provider_response", -1},
        {200,
         "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
         "\"expires_in\":1e300}",
         502, "invalid_provider_response", -1},
        {200,
         "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
         "\"expires_in\":1.5}",
         502, "invalid_provider_response", -1},
        {200,
         "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
         "\"expires_in\":null}",
         502, "invalid_provider_response", -1},
        /* The provider refuses: its 4xx and its code pass on. */
        {400,
         "{\"error\":\"invalid_grant\","
         "\"error_description\":\"code expired\"}",
         400, "invalid_grant", -1},
        {401, "{\"error\":\"invalid_client\"}", 401, "invalid_client", -1},
        {403, "{\"error\":\"access_denied\"}", 400, "access_denied", -1},
        {429, "{\"error\":\"slow_down\"}", 400, "slow_down", -1},
        /* Its code is kept only when it is tame. */
        {400, "{\"error\":\"Invalid Grant!\"}", 400, "invalid_request", -1},
        {400, "{\"error\":\"<script>alert(1)</script>\"}", 400,
         "invalid_request", -1},
        {400, "{\"error\":\"invalid_grant\\r\\nX: y\"}", 400, "invalid_request",
         -1},
        {400, "{\"error\":\"\"}", 400, "invalid_request", -1},
        {400,
         "{\"error\":\"a234567890123456789012345678901234567890"
         "123456789012345678901234\"}",
         400,
         "a234567890123456789012345678901234567890123456789012345678901234",
         -1},
        {400,
         "{\"error\":\"a234567890123456789012345678901234567890"
         "1234567890123456789012345\"}",
         400, "invalid_request", -1},
        {400, "{\"error\":42}", 502, "invalid_provider_response", -1},
        {400, "{\"error_description\":\"no code\"}", 502,
         "invalid_provider_response", -1},
        {400, "Bad Request", 502, "invalid_provider_response", -1},
        /* Its own trouble, redirects and odd successes: 502. */
        {500, "{\"error\":\"server_error\"}", 502, "invalid_provider_response",
         -1},
        {503, "<html>down</html>", 502, "invalid_provider_response", -1},
        {302, "", 502, "invalid_provider_response", -1},
        {201, "{\"access_token\":\"at1\",\"token_type\":\"Bearer\"}", 502,
         "invalid_provider_response", -1},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        ao2_token_response_t tr;
        ao2_err_t *err = ao2_parse_token_response(
            p, cases[i].status, cases[i].body, strlen(cases[i].body), &tr);

        if (cases[i].want_status == 0) {
            ok(err == NULL, "token row %d accepted", (int)i);
            is_str(tr.access_token, "at1", "token row %d: access_token",
                   (int)i);
            is_int(tr.expires_in, cases[i].want_expires_in,
                   "token row %d: expires_in", (int)i);
            continue;
        }
        ok(err != NULL, "token row %d refused", (int)i);
        if (err == NULL) {
            continue;
        }
        is_int(err->status, cases[i].want_status, "token row %d: status",
               (int)i);
        is_str(err->code, cases[i].want_code, "token row %d: code", (int)i);
        ok(err->description && *err->description, "token row %d: a description",
           (int)i);
    }
}

static void token_response_fields(apr_pool_t *p)
{
    static const char full[] =
        "{\"access_token\":\"at1\",\"token_type\":\"Bearer\","
        "\"expires_in\":3600,\"refresh_token\":\"rt1\","
        "\"id_token\":\"h.p.s\",\"scope\":\"openid email\",\"x\":[1]}";
    static const char bare[] =
        "{\"access_token\":\"at1\",\"token_type\":\"bearer\","
        "\"refresh_token\":7,\"scope\":null}";
    static const char desc[] =
        "{\"error\":\"invalid_grant\","
        "\"error_description\":\"line\\nbreak\\u0007 and more\"}";
    ao2_token_response_t tr;
    ao2_err_t *err;

    ok(ao2_parse_token_response(p, 200, full, strlen(full), &tr) == NULL,
       "full answer accepted");
    is_str(tr.access_token, "at1", "access_token");
    is_str(tr.token_type, "Bearer", "token_type");
    is_str(tr.refresh_token, "rt1", "refresh_token");
    is_str(tr.id_token, "h.p.s", "id_token");
    is_str(tr.scope, "openid email", "scope");

    ok(ao2_parse_token_response(p, 200, bare, strlen(bare), &tr) == NULL,
       "bare answer accepted");
    is_str(tr.refresh_token, NULL, "a refresh_token that is no string: none");
    is_str(tr.id_token, NULL, "no id_token");
    is_str(tr.scope, NULL, "null scope: none");

    /* Only len bytes count. */
    ok(ao2_parse_token_response(p, 200, full, 10, &tr) != NULL,
       "a truncated answer is refused");

    err = ao2_parse_token_response(p, 400, desc, strlen(desc), &tr);
    ok(err && err->status == 400 && !strcmp(err->code, "invalid_grant"),
       "refusal with a description");
    is_str(err ? err->description : NULL, "provider: line?break? and more",
           "control characters in the description are replaced");
    ok(err && printable(err->description), "the description is printable");
}

static void sanitize_cases(apr_pool_t *p)
{
    static const struct {
        const char *in, *want;
    } rows[] = {
        {"grant expired", "grant expired"},
        {"invalid refresh_token_is_expired",
         "invalid refresh_token_is_expired"},
        {"token abc123DEF456ghi789 expired", "token [redacted] expired"},
        {"bad eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "bad [redacted]"},
        {"t=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq", "[redacted]"},
        {"code 4a5b used", "code 4a5b used"},
        {"<script>\"x\"</script>", "?script??x?"
                                   "?/script?"},
        {"a'b&c\\d`e", "a?b?c?d?e"},
        {"", ""},
    };
    char long_text[300];
    const char *d;
    apr_size_t i;

    is_str(ao2_sanitize_error_code("invalid_grant", "fb"), "invalid_grant",
           "code kept");
    is_str(ao2_sanitize_error_code("a.b-c_9", "fb"), "a.b-c_9",
           "dots, dashes, digits");
    is_str(ao2_sanitize_error_code("Invalid", "fb"), "fb", "capitals");
    is_str(ao2_sanitize_error_code("a b", "fb"), "fb", "space");
    is_str(ao2_sanitize_error_code("a\"b", "fb"), "fb", "quote");
    is_str(ao2_sanitize_error_code("", "fb"), "fb", "empty");
    is_str(ao2_sanitize_error_code(NULL, "fb"), "fb", "NULL");
    is_str(ao2_sanitize_error_code("\xc3\xa9", "fb"), "fb", "non-ASCII");
    is_str(ao2_sanitize_description(p, NULL), NULL, "NULL description");
    is_str(ao2_sanitize_description(p, "a\tb\x7f\xc3\xa9"), "a?b???",
           "controls and non-ASCII replaced");
    for (i = 0; i + 2 < sizeof(long_text); i += 2)
        memcpy(long_text + i, "x ", 2);
    long_text[sizeof(long_text) - 1] = '\0';
    d = ao2_sanitize_description(p, long_text);
    is_int(d ? strlen(d) : 0, AO2_MAX_DESCRIPTION, "cut at 200 characters");
    for (i = 0; i < AO2_COUNT(rows); i++)
        is_str(ao2_sanitize_description(p, rows[i].in), rows[i].want,
               "description \"%s\"", rows[i].in);
    /* A token straddling the cut leaves no prefix behind. */
    memset(long_text, ' ', 195);
    strcpy(long_text + 195, "AbCdEfGh1234567890xyz");
    d = ao2_sanitize_description(p, long_text);
    ok(d && strspn(d, " ") == strlen(d), "no prefix of a token at the cut");
}

static void origin_url_cases(apr_pool_t *p)
{
    static const struct {
        const char *scheme, *host;
        unsigned port;
        const char *want;
    } cases[] = {
        {"http", "erp.example", 0, "http://erp.example/a/oauth2/callback"},
        {"http", "erp.example", 80, "http://erp.example/a/oauth2/callback"},
        {"http", "erp.example", 443,
         "http://erp.example:443/a/oauth2/callback"},
        {"https", "erp.example", 443, "https://erp.example/a/oauth2/callback"},
        {"HTTPS", "erp.example", 8443,
         "https://erp.example:8443/a/oauth2/callback"},
        {"http", "127.0.0.1", 8529, "http://127.0.0.1:8529/a/oauth2/callback"},
        {"https", "2001:db8::1", 0, "https://[2001:db8::1]/a/oauth2/callback"},
        {"http", "[::1]", 81, "http://[::1]:81/a/oauth2/callback"},
        {"ftp", "erp.example", 0, NULL},
        {NULL, "erp.example", 0, NULL},
        {"http", "", 0, NULL},
        {"http", NULL, 0, NULL},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        is_str(ao2_origin_url(p, cases[i].scheme, cases[i].host, cases[i].port,
                              "/a/oauth2/callback"),
               cases[i].want, "origin_url(%s, %s, %u)",
               cases[i].scheme ? cases[i].scheme : "(null)",
               cases[i].host ? cases[i].host : "(null)", cases[i].port);
    }
}

/* A JWT around a payload: the header and signature are never looked at. */
static const char *jwt(apr_pool_t *p, const char *payload)
{
    return apr_pstrcat(
        p, "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.",
        ao2_b64url_encode(p, (const unsigned char *)payload, strlen(payload)),
        ".c2lnbmF0dXJl", NULL);
}

#define ISS "https://idp.example/realms/erp"

static void id_token_cases(apr_pool_t *p)
{
    /* fmt takes the exp value (now + exp_off) as EXP, when it wants it. */
    static const struct {
        const char *name, *fmt;
        long exp_off;
        const char *issuer, *nonce;
        int want_ok;
    } cases[] = {
        {"good",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\",\"exp\":" EXP ","
         "\"nonce\":\"n-1\",\"sub\":\"u1\"}",
         300, ISS, "n-1", 1},
        {"aud array of one",
         "{\"iss\":\"" ISS "\",\"aud\":[\"rp\"],"
         "\"exp\":" EXP ",\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 1},
        {"aud of two, azp is us",
         "{\"iss\":\"" ISS "\",\"aud\":[\"api\","
         "\"rp\"],\"azp\":\"rp\",\"exp\":" EXP ","
         "\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 1},
        {"azp us, aud string",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\","
         "\"azp\":\"rp\",\"exp\":" EXP ",\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 1},
        {"no issuer configured",
         "{\"iss\":\"https://any\",\"aud\":\"rp\","
         "\"exp\":" EXP ",\"nonce\":\"n-1\"}",
         300, NULL, "n-1", 1},
        {"no nonce expected",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\","
         "\"exp\":" EXP "}",
         300, ISS, NULL, 1},
        {"exp a real without fraction",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\","
         "\"exp\":" EXP ".0,\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 1},
        {"expired within skew",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\","
         "\"exp\":" EXP ",\"nonce\":\"n-1\"}",
         -LEEWAY, ISS, "n-1", 1},
        {"expired beyond skew",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\","
         "\"exp\":" EXP ",\"nonce\":\"n-1\"}",
         -LEEWAY - 1, ISS, "n-1", 0},
        {"expired long ago",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\","
         "\"exp\":0,\"nonce\":\"n-1\"}",
         0, ISS, "n-1", 0},
        {"no exp", "{\"iss\":\"" ISS "\",\"aud\":\"rp\",\"nonce\":\"n-1\"}", 0,
         ISS, "n-1", 0},
        {"exp a string",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\","
         "\"exp\":\"" EXP "\",\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 0},
        {"wrong iss",
         "{\"iss\":\"https://idp.example/realms/other\","
         "\"aud\":\"rp\",\"exp\":" EXP ",\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 0},
        {"iss with a trailing slash",
         "{\"iss\":\"" ISS "/\",\"aud\":\"rp\","
         "\"exp\":" EXP ",\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 0},
        {"no iss", "{\"aud\":\"rp\",\"exp\":" EXP ",\"nonce\":\"n-1\"}", 300,
         ISS, "n-1", 0},
        {"aud someone else",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp2\","
         "\"exp\":" EXP ",\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 0},
        {"aud array without us",
         "{\"iss\":\"" ISS "\",\"aud\":[\"api\","
         "\"rp2\"],\"azp\":\"rp\",\"exp\":" EXP ","
         "\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 0},
        {"aud of two without azp",
         "{\"iss\":\"" ISS "\",\"aud\":[\"rp\","
         "\"api\"],\"exp\":" EXP ",\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 0},
        {"azp someone else",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\","
         "\"azp\":\"rp2\",\"exp\":" EXP ",\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 0},
        {"no aud", "{\"iss\":\"" ISS "\",\"exp\":" EXP ",\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 0},
        {"aud a prefix of us",
         "{\"iss\":\"" ISS "\",\"aud\":\"r\","
         "\"exp\":" EXP ",\"nonce\":\"n-1\"}",
         300, ISS, "n-1", 0},
        {"nonce mismatch",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\","
         "\"exp\":" EXP ",\"nonce\":\"n-2\"}",
         300, ISS, "n-1", 0},
        {"nonce a prefix",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\","
         "\"exp\":" EXP ",\"nonce\":\"n-\"}",
         300, ISS, "n-1", 0},
        {"nonce missing",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\","
         "\"exp\":" EXP "}",
         300, ISS, "n-1", 0},
        {"nonce a number",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\","
         "\"exp\":" EXP ",\"nonce\":1}",
         300, ISS, "1", 0},
        /* iat rows: exp_off moves iat instead; exp is far away. */
        {"iat now",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\",\"exp\":9999999999,"
         "\"iat\":" EXP "}",
         0, ISS, NULL, 1},
        {"iat in the future within leeway",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\",\"exp\":9999999999,"
         "\"iat\":" EXP "}",
         LEEWAY, ISS, NULL, 1},
        {"iat in the future beyond leeway",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\",\"exp\":9999999999,"
         "\"iat\":" EXP "}",
         LEEWAY + 1, ISS, NULL, 0},
        {"iat a string",
         "{\"iss\":\"" ISS "\",\"aud\":\"rp\",\"exp\":9999999999,"
         "\"iat\":\"" EXP "\"}",
         0, ISS, NULL, 0},
        {"payload an array", "[\"" ISS "\"]", 0, ISS, NULL, 0},
        {"payload not JSON", "iss=" ISS "&aud=rp", 0, ISS, NULL, 0},
        {"payload empty", "", 0, ISS, NULL, 0},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        ao2_client_t *c = make_client(p, "https://idp.example/authorize",
                                      cases[i].issuer, "rp", "s", NULL);
        const char *payload = apr_psprintf(
            p, cases[i].fmt, (apr_int64_t)(NOW_SEC + cases[i].exp_off));
        ao2_json_t *claims = NULL;
        ao2_err_t *err =
            ao2_check_id_token(p, jwt(p, payload), c, cases[i].nonce,
                               apr_time_from_sec(NOW_SEC), &claims);

        if (cases[i].want_ok) {
            ok(err == NULL, "id token %s: accepted", cases[i].name);
            ok(claims != NULL, "id token %s: claims", cases[i].name);
        } else {
            ok(err && err->status == 502 &&
                   strcmp(err->code, "invalid_id_token") == 0,
               "id token %s: 502 invalid_id_token", cases[i].name);
            ok(claims == NULL, "id token %s: no claims", cases[i].name);
        }
    }
}

/* {"aud":"rp","exp":9999999999} */
#define SHAPE_PAYLOAD "eyJhdWQiOiJycCIsImV4cCI6OTk5OTk5OTk5OX0"

static void id_token_shape(apr_pool_t *p)
{
    static const struct {
        const char *token;
        int want_ok;
    } cases[] = {
        {"h." SHAPE_PAYLOAD ".s", 1},
        {"." SHAPE_PAYLOAD ".", 1},
        {"", 0},
        {"abc", 0},
        {"h.s", 0},
        {"h." SHAPE_PAYLOAD, 0},
        {"h." SHAPE_PAYLOAD ".s.x", 0},
        {"h." SHAPE_PAYLOAD ".s.", 0},
        {"h..s", 0},
        {"..", 0},
        {"h." SHAPE_PAYLOAD "=.s", 1},
        {"h." SHAPE_PAYLOAD "==.s", 0},
        {"h.e+JhdWQiOiJycCIsImV4cCI6OTk5OTk5OTk5OX0.s", 0},
        {"h.eyJhdWQiOiJycCIsImV4cCI6OTk5OTk5OTk5OX1.s", 0},
        {"h.!!!.s", 0},
    };
    ao2_client_t *c =
        make_client(p, "https://idp.example/authorize", NULL, "rp", "s", NULL);
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        ao2_json_t *claims = NULL;
        ao2_err_t *err = ao2_check_id_token(
            p, cases[i].token, c, NULL, apr_time_from_sec(NOW_SEC), &claims);
        if (cases[i].want_ok) {
            ok(err == NULL && claims != NULL, "shape \"%s\" accepted",
               cases[i].token);
        } else {
            ok(err && err->status == 502 && claims == NULL,
               "shape \"%s\" refused", cases[i].token);
        }
    }
}

static ao2_json_t *parse(apr_pool_t *p, const char *text)
{
    const char *why;

    return ao2_json_parse_object(p, text, strlen(text), &why);
}

static void claim_login_cases(apr_pool_t *p)
{
    static const struct {
        const char *claims, *claim, *want;
    } cases[] = {
        {"{\"email\":\"jdoe@example.com\"}", "email", "jdoe@example.com"},
        {"{\"uid\":4711}", "uid", "4711"},
        {"{\"uid\":4711.0}", "uid", "4711"},
        {"{\"uid\":-3}", "uid", "-3"},
        {"{\"name\":\"J\\u00e9r\\u00f4me\"}", "name", "J\xc3\xa9r\xc3\xb4me"},
        {"{\"email\":\"a b\"}", "email", "a b"},
        {"{\"email\":\"a \"}", "email", NULL},
        {"{\"email\":\" a\"}", "email", NULL},
        {"{\"email\":\" \"}", "email", NULL},
        {"{\"email\":\"a\\u0085\"}", "email", NULL},
        {"{\"email\":\"a\\u009fb\"}", "email", NULL},
        {"{\"email\":\"J\\u00e9r\\u00f4me\"}", "email", "J\xc3\xa9r\xc3\xb4me"},
        {"{\"email\":\"a\\u00a0b\"}", "email",
         "a\xc2\xa0"
         "b"},
        {"{\"email\":\"\"}", "email", NULL},
        {"{\"email\":\"a\\nb\"}", "email", NULL},
        {"{\"email\":\"a\\r\\nX-Odoo-Login: admin\"}", "email", NULL},
        {"{\"email\":\"a\\tb\"}", "email", NULL},
        {"{\"email\":\"a\\u007fb\"}", "email", NULL},
        {"{\"email\":\"a\\u001fb\"}", "email", NULL},
        {"{\"uid\":1.5}", "uid", NULL},
        {"{\"email\":true}", "email", NULL},
        {"{\"email\":null}", "email", NULL},
        {"{\"email\":[\"a@b\"]}", "email", NULL},
        {"{\"email\":{\"v\":\"a@b\"}}", "email", NULL},
        {"{\"sub\":\"x\"}", "email", NULL},
        {"{\"Email\":\"a@b\"}", "email", NULL},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        ao2_json_t *j = parse(p, cases[i].claims);
        ok(j != NULL, "claims row %d parse", (int)i);
        is_str(ao2_claim_login(p, j, cases[i].claim), cases[i].want,
               "claims row %d", (int)i);
    }
}

static void email_verified_cases(apr_pool_t *p)
{
    static const struct {
        const char *claims;
        int want;
    } cases[] = {
        {"{\"email_verified\":true}", 1},
        {"{\"email_verified\":\"true\"}", 1},
        {"{\"email_verified\":false}", 0},
        {"{\"email_verified\":\"false\"}", 0},
        {"{\"email_verified\":1}", 0},
        {"{\"email_verified\":null}", 0},
        {"{\"email\":\"a@b\"}", 0},
        {"{\"email_verified\":\"TRUE \"}", 0},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++)
        is_int(ao2_email_verified(parse(p, cases[i].claims)), cases[i].want,
               "email_verified row %d", (int)i);
    is_int(ao2_email_verified(NULL), 0, "no claims: not verified");
}

static void claim_login_bounds(apr_pool_t *p)
{
    char v[AO2_MAX_CLAIM_LEN + 2];
    ao2_json_t *j = ao2_json_object(p);

    memset(v, 'x', sizeof(v) - 1);
    v[AO2_MAX_CLAIM_LEN] = '\0';
    ao2_json_set_str(j, "email", v);
    is_str(ao2_claim_login(p, j, "email"), v, "%d characters accepted",
           AO2_MAX_CLAIM_LEN);
    v[AO2_MAX_CLAIM_LEN] = 'x';
    v[AO2_MAX_CLAIM_LEN + 1] = '\0';
    ao2_json_set_str(j, "email", v);
    is_str(ao2_claim_login(p, j, "email"), NULL, "%d characters refused",
           AO2_MAX_CLAIM_LEN + 1);
    is_str(ao2_claim_login(p, NULL, "email"), NULL, "no claims");
}

static void introspection_cases(apr_pool_t *p)
{
    /* fmt takes exp values as EXP: now + 60 unless the row says so. */
    static const struct {
        const char *name;
        int status;
        const char *fmt;
        long exp_off;
        int require;
        int want_err; /* HTTP status of the error, 0 for none */
        int want_active;
        const char *want_login;
    } cases[] = {
        {"active Bearer", 200,
         "{\"active\":true,\"token_type\":\"Bearer\",\"exp\":" EXP ","
         "\"email\":\"a@x\",\"username\":\"u\",\"sub\":\"s\","
         "\"scope\":\"read write\"}",
         60, 1, 0, 1, "a@x"},
        {"inactive", 200, "{\"active\":false,\"email\":\"a@x\"}", 0, 0, 0, 0,
         NULL},
        {"active missing", 200, "{\"email\":\"a@x\",\"exp\":" EXP "}", 60, 0,
         502, 0, NULL},
        {"active a string", 200, "{\"active\":\"true\",\"email\":\"a@x\"}", 0,
         0, 502, 0, NULL},
        {"active 1", 200, "{\"active\":1,\"email\":\"a@x\"}", 0, 0, 502, 0,
         NULL},
        {"not JSON", 200, "active=true", 0, 0, 502, 0, NULL},
        {"empty", 200, "", 0, 0, 502, 0, NULL},
        {"exp in the past", 200,
         "{\"active\":true,\"token_type\":\"Bearer\",\"exp\":" EXP ","
         "\"email\":\"a@x\"}",
         -1, 0, 0, 0, NULL},
        {"exp now", 200,
         "{\"active\":true,\"token_type\":\"Bearer\",\"exp\":" EXP ","
         "\"email\":\"a@x\"}",
         0, 0, 0, 0, NULL},
        {"exp a string", 200,
         "{\"active\":true,\"token_type\":\"Bearer\",\"exp\":\"" EXP "\","
         "\"email\":\"a@x\"}",
         60, 0, 0, 0, NULL},
        {"no exp", 200,
         "{\"active\":true,\"token_type\":\"Bearer\",\"email\":\"a@x\"}", 0, 1,
         0, 1, "a@x"},
        {"refresh_token", 200,
         "{\"active\":true,\"token_type\":\"refresh_token\",\"exp\":" EXP ","
         "\"email\":\"a@x\"}",
         60, 0, 0, 0, NULL},
        {"Refresh", 200,
         "{\"active\":true,\"token_type\":\"Refresh\",\"exp\":" EXP ","
         "\"email\":\"a@x\"}",
         60, 0, 0, 0, NULL},
        {"id_token", 200,
         "{\"active\":true,\"token_type\":\"id_token\",\"exp\":" EXP ","
         "\"email\":\"a@x\"}",
         60, 0, 0, 0, NULL},
        {"token_type a number", 200,
         "{\"active\":true,\"token_type\":1,\"exp\":" EXP ",\"email\":\"a@x\"}",
         60, 1, 0, 0, NULL},
        {"bearer in lower case", 200,
         "{\"active\":true,\"token_type\":\"bearer\",\"exp\":" EXP ","
         "\"email\":\"a@x\"}",
         60, 1, 0, 1, "a@x"},
        {"access_token", 200,
         "{\"active\":true,\"token_type\":\"access_token\",\"exp\":" EXP ","
         "\"email\":\"a@x\"}",
         60, 1, 0, 1, "a@x"},
        {"RFC 8693 access_token", 200,
         "{\"active\":true,\"token_type\":"
         "\"urn:ietf:params:oauth:token-type:access_token\",\"exp\":" EXP ","
         "\"email\":\"a@x\"}",
         60, 1, 0, 1, "a@x"},
        {"no token_type, required", 200,
         "{\"active\":true,\"exp\":" EXP ",\"email\":\"a@x\"}", 60, 1, 0, 0,
         NULL},
        {"no token_type, not required", 200,
         "{\"active\":true,\"exp\":" EXP ",\"email\":\"a@x\"}", 60, 0, 0, 1,
         "a@x"},
        /* The login claim only: no fallback to username or sub (issue 7). */
        {"no login from username", 200,
         "{\"active\":true,\"exp\":" EXP ",\"username\":\"u\",\"sub\":\"s\"}",
         60, 0, 0, 1, NULL},
        {"no login from sub", 200,
         "{\"active\":true,\"exp\":" EXP ",\"sub\":\"s\"}", 60, 0, 0, 1, NULL},
        {"unusable claim, no username", 200,
         "{\"active\":true,\"exp\":" EXP ",\"email\":\"a\\nb\","
         "\"username\":\"u\"}",
         60, 0, 0, 1, NULL},
        {"trailing space in the claim", 200,
         "{\"active\":true,\"exp\":" EXP ",\"email\":\"a@x \"}", 60, 0, 0, 1,
         NULL},
        {"nobody", 200, "{\"active\":true,\"exp\":" EXP "}", 60, 0, 0, 1, NULL},
        {"HTTP 400", 400, "{\"error\":\"unsupported_token_type\"}", 0, 0, 0, 0,
         NULL},
        {"HTTP 400 not JSON", 400, "nope", 0, 0, 0, 0, NULL},
        {"HTTP 401", 401, "{\"error\":\"invalid_client\"}", 0, 0, 401, 0, NULL},
        {"HTTP 500", 500, "{\"active\":true,\"sub\":\"s\"}", 0, 0, 502, 0,
         NULL},
        {"HTTP 302", 302, "", 0, 0, 502, 0, NULL},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        const char *body = apr_psprintf(
            p, cases[i].fmt, (apr_int64_t)(NOW_SEC + cases[i].exp_off));
        ao2_introspection_t in;
        ao2_err_t *err =
            ao2_parse_introspection(p, cases[i].status, body, strlen(body),
                                    "email", cases[i].require, NOW_SEC, &in);

        if (cases[i].want_err) {
            is_int(err ? err->status : 0, cases[i].want_err,
                   "introspection %s: error status", cases[i].name);
        } else {
            ok(err == NULL, "introspection %s: no error", cases[i].name);
        }
        is_int(in.active, cases[i].want_active, "introspection %s: active",
               cases[i].name);
        if (cases[i].want_active) {
            is_str(in.login, cases[i].want_login, "introspection %s: login",
                   cases[i].name);
        }
    }
}

static void introspection_fields(apr_pool_t *p)
{
    const char *body = apr_psprintf(
        p,
        "{\"active\":true,\"token_type\":\"Bearer\",\"exp\":" EXP ","
        "\"preferred_username\":\"jdoe\",\"sub\":\"s\",\"scope\":\"read\"}",
        (apr_int64_t)(NOW_SEC + 600));
    ao2_introspection_t in;

    ok(ao2_parse_introspection(p, 200, body, strlen(body), "preferred_username",
                               1, NOW_SEC, &in) == NULL,
       "answer accepted");
    is_int(in.active, 1, "active");
    is_str(in.login, "jdoe", "login from the configured claim");
    is_str(in.scope, "read", "scope");
    is_int(in.expires_at, NOW_SEC + 600, "expires_at");

    body = "{\"active\":true,\"sub\":\"s\"}";
    ok(ao2_parse_introspection(p, 200, body, strlen(body), "email", 0, NOW_SEC,
                               &in) == NULL,
       "minimal answer accepted");
    is_int(in.active, 1, "active");
    is_str(in.scope, NULL, "no scope");
    is_int(in.expires_at, 0, "no exp: 0");
}

static void scope_has_cases(apr_pool_t *p)
{
    static const struct {
        const char *scope, *word;
        int want;
    } cases[] = {
        {NULL, "read", 0},
        {"", "read", 0},
        {"   ", "read", 0},
        {"read", "", 0},
        {"read", "read", 1},
        {"read write", "write", 1},
        {"read write", "read", 1},
        {"  read   write  ", "write", 1},
        {"  read   write  ", "read", 1},
        {"reader", "read", 0},
        {"read", "reader", 0},
        {"readwrite", "write", 0},
        {"read-only read.all", "read", 0},
        {"Read", "read", 0},
        {"read\twrite", "write", 0},
        {"openid offline_access", "offline_access", 1},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        is_int(ao2_scope_has(cases[i].scope, cases[i].word), cases[i].want,
               "scope_has(\"%s\", \"%s\")",
               cases[i].scope ? cases[i].scope : "(null)", cases[i].word);
    }
}

static void scope_covers_cases(apr_pool_t *p)
{
    static const struct {
        const char *granted, *required;
        int want;
    } cases[] = {
        {"read write", "", 1},
        {"read write", "   ", 1},
        {NULL, "", 1},
        {NULL, "read", 0},
        {"", "read", 0},
        {"read write", "read", 1},
        {"read write", "write read", 1},
        {"read write", "  write   read  ", 1},
        {"read", "read read", 1},
        {"read", "read write", 0},
        {"reader", "read", 0},
        {"read", "reader", 0},
        {"read write", "rea", 0},
        {"read  write", "write", 1},
    };
    char word[300], *granted;
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        is_int(ao2_scope_covers(cases[i].granted, cases[i].required),
               cases[i].want, "scope_covers(\"%s\", \"%s\")",
               cases[i].granted ? cases[i].granted : "(null)",
               cases[i].required);
    }
    /* Required words are copied into a 256-byte buffer: 255 characters fit,
     * longer ones are never covered. */
    memset(word, 'w', sizeof(word));
    word[255] = '\0';
    granted = apr_pstrcat(p, "a ", word, NULL);
    is_int(ao2_scope_covers(granted, word), 1, "a word of 255 characters");
    word[255] = 'w';
    word[256] = '\0';
    granted = apr_pstrcat(p, "a ", word, NULL);
    is_int(ao2_scope_covers(granted, word), 0,
           "a word of 256 characters is never covered");
}

/* OIDC Core §12.2: a refreshed ID token names the same sub. */
static void refreshed_sub_cases(apr_pool_t *p)
{
    static const struct {
        const char *stored, *fresh;
        int want_ok;
    } cases[] = {
        {"{\"sub\":\"alice\"}", "{\"sub\":\"alice\"}", 1},
        {"{\"sub\":\"alice\"}", "{\"sub\":\"mallory\"}", 0},
        {"{\"sub\":\"alice\"}", "{\"sub\":\"alice \"}", 0},
        {"{\"sub\":\"alice\"}", "{}", 1},
        {NULL, "{\"sub\":\"mallory\"}", 1},
        {"{\"sub\":\"alice\"}", NULL, 1},
    };
    apr_size_t i;
    const char *why;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        const char *stored = cases[i].stored ? jwt(p, cases[i].stored) : NULL;
        ao2_json_t *fresh =
            cases[i].fresh ? ao2_json_parse_object(p, cases[i].fresh,
                                                   strlen(cases[i].fresh), &why)
                           : NULL;
        ao2_err_t *err = ao2_check_refreshed_sub(p, stored, fresh);
        if (cases[i].want_ok)
            ok(err == NULL, "refresh sub %s -> %s: accepted",
               cases[i].stored ? cases[i].stored : "(no ID token)",
               cases[i].fresh ? cases[i].fresh : "(none)");
        else
            ok(err && err->status == 502 &&
                   !strcmp(err->code, "invalid_id_token"),
               "refresh sub %s -> %s: 502 invalid_id_token", cases[i].stored,
               cases[i].fresh);
    }
}

/* auth_params= of ApiOAuth2Client: canonical encoding, and every way an
 * operator's text could replace what the module sets itself. */
static void auth_params_cases(apr_pool_t *p)
{
    static const struct {
        const char *text, *want, *error;
    } cases[] = {
        {"access_type=offline", "access_type=offline", NULL},
        {"audience=https%3A%2F%2Fapi.example%2F&x=a+b",
         "audience=https%3A%2F%2Fapi.example%2F&x=a%20b", NULL},
        {"audience=https://api.example/",
         "audience=https%3A%2F%2Fapi.example%2F", NULL},
        {"prompt=login&&empty=", "prompt=login&empty=", NULL},
        {"state=x", NULL, "state is set by the module itself"},
        {"code_challenge_method=plain", NULL,
         "code_challenge_method is set by the module itself"},
        {"redirect_uri=https://evil", NULL,
         "redirect_uri is set by the module itself"},
        {"scope=openid", NULL,
         "scope is set by the module itself (use scope=)"},
        {"request_uri=https://x", NULL,
         "request_uri is set by the module itself"},
        {"a=1&a=2", NULL, "a is given twice"},
        {"=1", NULL, "\"=1\" is not NAME=VALUE"},
        {"noequals", NULL, "\"noequals\" is not NAME=VALUE"},
        {"b%61d=1", NULL, "bad parameter name \"b%61d\""},
        {"x=%zz", NULL, "the value of x is badly percent-encoded"},
        {"x=%00", NULL, "the value of x is badly percent-encoded"},
        {"", NULL, "no parameter given"},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        const char *out = NULL;
        const char *err = ao2_auth_params_canon(p, cases[i].text, &out);

        if (cases[i].error)
            is_str(err, cases[i].error, "auth_params \"%s\" refused",
                   cases[i].text);
        else
            ok(err == NULL && out && !strcmp(out, cases[i].want),
               "auth_params \"%s\" -> %s (got %s, %s)", cases[i].text,
               cases[i].want, out ? out : "-", err ? err : "no error");
    }
}

/* An operator's prompt= replaces the one offline_access brings. */
static void auth_params_prompt(apr_pool_t *p)
{
    ao2_client_t *c = make_client(p, "https://idp.example/a", NULL, "id", "s",
                                  "openid offline_access");
    char *url;

    url = ao2_authorize_url(p, c, "https://rp/cb", "st", "n", RFC_CC);
    ok(strstr(url, "&prompt=consent") != NULL,
       "offline_access asks for consent by default");
    c->extra_params = "prompt=login";
    url = ao2_authorize_url(p, c, "https://rp/cb", "st", "n", RFC_CC);
    ok(strstr(url, "prompt=consent") == NULL && strstr(url, "&prompt=login"),
       "auth_params prompt=login replaces it: %s", url);
}

/* Which claim names the scopes: scope, else scp (Entra: a string; Okta: an
 * array). */
static void claim_scope_cases(apr_pool_t *p)
{
    static const struct {
        const char *claims, *want;
    } cases[] = {
        {"{\"scope\":\"read write\"}", "read write"},
        {"{\"scope\":\"read\",\"scp\":\"admin\"}", "read"},
        {"{\"scp\":\"read write\"}", "read write"},
        {"{\"scp\":[\"read\",\"write\"]}", "read write"},
        {"{\"scp\":[]}", ""},
        {"{\"scp\":[\"read\",7]}", NULL},
        {"{\"scp\":[\"read admin\"]}", NULL},
        {"{\"scp\":{\"a\":1}}", NULL},
        {"{\"scope\":7}", NULL},
        {"{}", NULL},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        const char *why = NULL;
        ao2_json_t *j = ao2_json_parse_object(p, cases[i].claims,
                                              strlen(cases[i].claims), &why);
        is_str(j ? ao2_claim_scope(p, j) : "parse error", cases[i].want,
               "scopes of %s", cases[i].claims);
    }
}

const ao2_test_case_t ao2_suite_oauth2[] = {
    {"refreshed sub", refreshed_sub_cases},
    {"authorize url", authorize_url_cases},
    {"auth_params", auth_params_cases},
    {"auth_params prompt", auth_params_prompt},
    {"pkce", pkce_cases},
    {"form_add", form_add_cases},
    {"client credentials", client_credentials_cases},
    {"token response", token_response_cases},
    {"token response fields", token_response_fields},
    {"sanitize", sanitize_cases},
    {"origin url", origin_url_cases},
    {"id token claims", id_token_cases},
    {"id token shape", id_token_shape},
    {"claim login", claim_login_cases},
    {"claim login bounds", claim_login_bounds},
    {"email_verified", email_verified_cases},
    {"introspection", introspection_cases},
    {"introspection fields", introspection_fields},
    {"scope_has", scope_has_cases},
    {"scope_covers", scope_covers_cases},
    {"claim scope", claim_scope_cases},
    {NULL, NULL},
};
