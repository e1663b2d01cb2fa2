/* The endpoints under <api>/oauth2: authorize, callback, token, revoke. */
#ifndef AO2_ENDPOINTS_H
#define AO2_ENDPOINTS_H

#include <httpd.h>

#include "ao2_config.h"

/* True when r->uri is under dc's "<api>/oauth2" (then *rest is what follows
 * "<api>/oauth2/", possibly ""). */
int ao2_endpoint_match(const request_rec *r, const ao2_dir_conf_t *dc,
                       const char **rest);

/* Answers every request under "<api>/oauth2": the backend never sees one. */
int ao2_endpoint_handle(request_rec *r, const ao2_dir_conf_t *dc,
                        const char *rest);

/* post_config: the redirect URI of every API location without
 * ApiOAuth2RedirectURI, from its server's own name, with a notice saying
 * which. !OK (logged) when a server's name gives none. */
int ao2_endpoints_post_config(apr_pool_t *pconf, server_rec *s);

#endif
