#include "ao2_metadata.h"

#include <apr_strings.h>
#include <apr_uri.h>
#include <stddef.h>
#include <string.h>

#include "ao2_json.h"

#define WELL_KNOWN_OIDC  "/.well-known/openid-configuration"
#define WELL_KNOWN_OAUTH "/.well-known/oauth-authorization-server"

/* The issuer without one trailing slash: "https://h/" + well-known must
 * not become "https://h//.well-known/...". */
static apr_size_t trimmed_len(const char *issuer)
{
    apr_size_t n = strlen(issuer);

    return (n > 0 && issuer[n - 1] == '/') ? n - 1 : n;
}

const char *ao2_discovery_url(apr_pool_t *p, const char *issuer)
{
    return apr_pstrcat(p, apr_pstrmemdup(p, issuer, trimmed_len(issuer)),
                       WELL_KNOWN_OIDC, NULL);
}

const char *ao2_rfc8414_url(apr_pool_t *p, const char *issuer)
{
    apr_uri_t u;
    const char *path;

    if (apr_uri_parse(p, issuer, &u) != APR_SUCCESS || u.hostinfo == NULL)
        return NULL;
    path = u.path && strcmp(u.path, "/") ? u.path : "";
    return apr_pstrcat(p, u.scheme, "://", u.hostinfo, WELL_KNOWN_OAUTH,
                       apr_pstrmemdup(p, path, trimmed_len(path)), NULL);
}

int ao2_metadata_slash_redirect(const char *url, const char *location)
{
    apr_size_t n;

    if (url == NULL || location == NULL)
        return 0;
    n = strlen(url);
    return n > 0 && url[n - 1] != '/' && strncmp(url, location, n) == 0 &&
           strcmp(location + n, "/") == 0;
}

static int is_http_url(apr_pool_t *p, const char *url)
{
    apr_uri_t u;

    return apr_uri_parse(p, url, &u) == APR_SUCCESS && u.scheme &&
           (!strcasecmp(u.scheme, "https") || !strcasecmp(u.scheme, "http")) &&
           u.hostname && *u.hostname && !u.fragment && !u.user;
}

static const struct {
    const char *member;
    apr_size_t offset;
} endpoints[] = {
    {"authorization_endpoint", offsetof(ao2_provider_t, authorize_url)},
    {"token_endpoint", offsetof(ao2_provider_t, token_url)},
    {"revocation_endpoint", offsetof(ao2_provider_t, revoke_url)},
    {"userinfo_endpoint", offsetof(ao2_provider_t, userinfo_url)},
    {"introspection_endpoint", offsetof(ao2_provider_t, introspect_url)},
    {"jwks_uri", offsetof(ao2_provider_t, jwks_url)},
};

const char *ao2_metadata_apply(apr_pool_t *p, const ao2_provider_t *configured,
                               const char *doc, apr_size_t len,
                               ao2_provider_t *out)
{
    const char *why, *iss;
    ao2_json_t *j = ao2_json_parse_object(p, doc, len, &why);
    apr_size_t i;
    int flag = 0;

    if (j == NULL)
        return "the metadata is not a JSON object";
    iss = ao2_json_str(j, "issuer");
    /* Exact: the mix-up defence rests on it (RFC 8414 §3.3). */
    if (iss == NULL || configured->issuer == NULL ||
        strcmp(iss, configured->issuer) != 0)
        return "the metadata names another issuer";
    *out = *configured;
    for (i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        const char **field = (const char **)((char *)out + endpoints[i].offset);
        const char *url = ao2_json_str(j, endpoints[i].member);
        if (*field != NULL || url == NULL)
            continue;
        if (!is_http_url(p, url))
            return "the metadata has an endpoint that is not an http(s) URL";
        *field = apr_pstrdup(p, url);
    }
    if (out->authorize_url == NULL || out->token_url == NULL)
        return "the metadata has no authorization or token endpoint";
    out->iss_parameter_supported =
        ao2_json_bool(j, "authorization_response_iss_parameter_supported",
                      &flag) &&
        flag;
    return NULL;
}
