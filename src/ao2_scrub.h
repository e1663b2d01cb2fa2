/* Client-sent identity headers (Remote-User, X-Odoo-*, X-OAuth2-Scope) never
 * reach the backend: the headers the module itself sets for Odoo. */
#ifndef AO2_SCRUB_H
#define AO2_SCRUB_H

#include <httpd.h>

/* header_parser hook. */
int ao2_scrub_identity(request_rec *r);

#endif
