/* ao2_metadata: where discovery documents are, how one fills in a
 * provider (configured endpoints win, the issuer must match exactly), and
 * the RFC 9207 check of an authorization response's iss. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_metadata.h"
#include "tap.h"

#define ISS "https://idp.example/realms/erp"
#define DOC                                                                    \
    "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS "/auth\","     \
    "\"token_endpoint\":\"" ISS "/token\",\"jwks_uri\":\"" ISS "/certs\","     \
    "\"revocation_endpoint\":\"" ISS "/revoke\",\"userinfo_endpoint\":\"" ISS  \
    "/me\",\"introspection_endpoint\":\"" ISS "/introspect\","                 \
    "\"authorization_response_iss_parameter_supported\":true}"

static void urls(apr_pool_t *p)
{
    static const struct {
        const char *issuer, *oidc, *rfc8414;
    } cases[] = {
        {"https://idp.example",
         "https://idp.example/.well-known/openid-configuration",
         "https://idp.example/.well-known/oauth-authorization-server"},
        {"https://idp.example/",
         "https://idp.example/.well-known/openid-configuration",
         "https://idp.example/.well-known/oauth-authorization-server"},
        {ISS, ISS "/.well-known/openid-configuration",
         "https://idp.example/.well-known/oauth-authorization-server/realms/"
         "erp"},
        {"http://127.0.0.1:8080/t/",
         "http://127.0.0.1:8080/t/.well-known/openid-configuration",
         "http://127.0.0.1:8080/.well-known/oauth-authorization-server/t"},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        is_str(ao2_discovery_url(p, cases[i].issuer), cases[i].oidc,
               "OIDC discovery URL of %s", cases[i].issuer);
        is_str(ao2_rfc8414_url(p, cases[i].issuer), cases[i].rfc8414,
               "RFC 8414 URL of %s", cases[i].issuer);
    }
}

static void slash_redirect(apr_pool_t *p)
{
    static const struct {
        const char *url, *location;
        int want;
    } cases[] = {
        {ISS "/.well-known/openid-configuration",
         ISS "/.well-known/openid-configuration/", 1},
        {ISS "/.well-known/openid-configuration",
         ISS "/.well-known/openid-configuration//", 0},
        {ISS "/.well-known/openid-configuration",
         "https://evil.example/.well-known/openid-configuration/", 0},
        {ISS "/.well-known/openid-configuration",
         ISS "/.well-known/openid-configuration/x", 0},
        {ISS "/.well-known/openid-configuration",
         ISS "/.well-known/openid-configuration", 0},
        {ISS "/", ISS "//", 0},
        {ISS "/.well-known/openid-configuration", NULL, 0},
    };
    apr_size_t i;

    (void)p;
    for (i = 0; i < AO2_COUNT(cases); i++)
        is_int(ao2_metadata_slash_redirect(cases[i].url, cases[i].location),
               cases[i].want, "redirect to %s: %s",
               cases[i].location ? cases[i].location : "(none)",
               cases[i].want ? "followed" : "refused");
}

static void apply(apr_pool_t *p)
{
    ao2_provider_t conf, out;
    const char *why;
    static const struct {
        const char *name, *doc;
    } refused[] = {
        {"another issuer", "{\"issuer\":\"https://evil.example\","
                           "\"authorization_endpoint\":\"https://e/a\","
                           "\"token_endpoint\":\"https://e/t\"}"},
        {"issuer with a trailing slash",
         "{\"issuer\":\"" ISS "/\",\"authorization_endpoint\":\"https://e/a\","
         "\"token_endpoint\":\"https://e/t\"}"},
        {"no issuer", "{\"authorization_endpoint\":\"https://e/a\","
                      "\"token_endpoint\":\"https://e/t\"}"},
        {"no token endpoint",
         "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"https://e/a\"}"},
        {"an endpoint that is not http(s)",
         "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"https://e/a\","
         "\"token_endpoint\":\"javascript:alert(1)\"}"},
        {"not JSON", "<html>"},
    };
    apr_size_t i;

    memset(&conf, 0, sizeof(conf));
    conf.name = "idp";
    conf.issuer = ISS;
    conf.leeway = 60;
    why = ao2_metadata_apply(p, &conf, DOC, strlen(DOC), &out);
    ok(why == NULL, "a discovery document fills in a bare provider");
    is_str(out.authorize_url, ISS "/auth", "authorize");
    is_str(out.token_url, ISS "/token", "token");
    is_str(out.revoke_url, ISS "/revoke", "revoke");
    is_str(out.userinfo_url, ISS "/me", "userinfo");
    is_str(out.introspect_url, ISS "/introspect", "introspect");
    is_str(out.jwks_url, ISS "/certs", "jwks");
    ok(out.iss_parameter_supported, "RFC 9207 flag");
    is_int(out.leeway, 60, "configured settings kept");

    conf.token_url = "https://other.example/token";
    conf.jwks_url = "https://other.example/keys";
    why = ao2_metadata_apply(p, &conf, DOC, strlen(DOC), &out);
    ok(why == NULL, "with some endpoints configured");
    is_str(out.token_url, "https://other.example/token",
           "configured token wins");
    is_str(out.jwks_url, "https://other.example/keys", "configured jwks wins");
    is_str(out.authorize_url, ISS "/auth", "the rest discovered");
    conf.token_url = conf.jwks_url = NULL;

    for (i = 0; i < AO2_COUNT(refused); i++) {
        why = ao2_metadata_apply(p, &conf, refused[i].doc,
                                 strlen(refused[i].doc), &out);
        ok(why != NULL, "%s: refused (%s)", refused[i].name, why ? why : "");
    }
}

static void response_iss(apr_pool_t *p)
{
    ao2_provider_t pv;
    static const struct {
        int supported;
        const char *iss;
        int want_ok;
    } cases[] = {
        {0, NULL, 1}, {0, ISS, 1}, {0, "https://evil", 0},
        {1, NULL, 0}, {1, ISS, 1}, {1, ISS "/", 0},
        {1, "", 0},
    };
    apr_size_t i;

    memset(&pv, 0, sizeof(pv));
    pv.issuer = ISS;
    for (i = 0; i < AO2_COUNT(cases); i++) {
        ao2_err_t *err;
        pv.iss_parameter_supported = cases[i].supported;
        err = ao2_check_response_iss(p, &pv, cases[i].iss);
        if (cases[i].want_ok)
            ok(err == NULL, "iss %s, supported=%d: accepted",
               cases[i].iss ? cases[i].iss : "(none)", cases[i].supported);
        else
            ok(err && err->status == 400, "iss %s, supported=%d: 400",
               cases[i].iss ? cases[i].iss : "(none)", cases[i].supported);
    }
}

const ao2_test_case_t ao2_suite_metadata[] = {
    {"urls", urls},   {"slash redirect", slash_redirect},
    {"apply", apply}, {"response iss", response_iss},
    {NULL, NULL},
};
