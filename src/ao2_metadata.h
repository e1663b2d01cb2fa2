/* A provider's published metadata: the OpenID Connect discovery document
 * (OIDC Discovery §3) or RFC 8414 authorization server metadata, merged
 * into the configured provider. Pure: no I/O, no httpd. */
#ifndef AO2_METADATA_H
#define AO2_METADATA_H

#include "ao2_oauth2.h"

/* Where the documents are, relative to an issuer (OIDC Discovery §4: the
 * issuer's path, then the well-known part; RFC 8414 §3.1: the well-known
 * part first, then the issuer's path). */
const char *ao2_discovery_url(apr_pool_t *p, const char *issuer);
const char *ao2_rfc8414_url(apr_pool_t *p, const char *issuer);

/* Whether a redirect of a metadata GET from url to location may be
 * followed: only when location is url with a slash added (Django's
 * APPEND_SLASH, how django-oauth-toolkit 1.x serves its discovery document
 * at /.well-known/openid-configuration/). Anything else is not the
 * document the issuer names, so it is refused as before. */
int ao2_metadata_slash_redirect(const char *url, const char *location);

/* *out becomes a copy of configured with every endpoint it does not give
 * taken from the document (given ones win), jwks_url likewise, and
 * iss_parameter_supported from the document. The document's issuer must
 * equal configured->issuer exactly (OIDC Discovery §4.3, RFC 8414 §3.3);
 * endpoints must be absolute http(s) URLs. NULL on success, else the
 * reason (static text). */
const char *ao2_metadata_apply(apr_pool_t *p, const ao2_provider_t *configured,
                               const char *doc, apr_size_t len,
                               ao2_provider_t *out);

#endif
