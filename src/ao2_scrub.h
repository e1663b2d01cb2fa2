/* Client-sent identity headers (Remote-User, X-Odoo-*, X-OAuth2-Scope) never
 * reach the backend, on any request of any server that loads the module:
 * they are the headers the module itself sets for Odoo, and Odoo trusts
 * them on every route. They are taken out before any other module looks
 * at the request, so server-level SetEnvIf or RewriteRule never see them.
 * ApiOAuth2ScrubHeaders off, known per location only once the location
 * walk is done, puts them back from there on. */
#ifndef AO2_SCRUB_H
#define AO2_SCRUB_H

#include <httpd.h>

/* post_read_request hook, to run first: removes them and keeps them aside
 * (unless the server's own setting is off). */
int ao2_scrub_early(request_rec *r);

/* header_parser hook, to run first: removes them where the location
 * scrubs (again: redirects and subrequests), puts back the kept ones
 * where it does not. */
int ao2_scrub_identity(request_rec *r);

#endif
