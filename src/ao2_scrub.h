/* Client-sent identity headers (Remote-User, X-Odoo-*, X-OAuth2-Scope) never
 * reach the backend, on any request of any server that loads the module:
 * they are the headers the module itself sets for Odoo, and Odoo trusts
 * them on every route. ApiOAuth2ScrubHeaders off turns it off. */
#ifndef AO2_SCRUB_H
#define AO2_SCRUB_H

#include <httpd.h>

/* header_parser hook. */
int ao2_scrub_identity(request_rec *r);

#endif
