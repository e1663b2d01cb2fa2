/* Provider metadata at run time: the discovery document and the JWKS of
 * each provider, fetched at first use (never at configuration time, so
 * `apachectl -t` works offline), kept in one shared-memory segment for all
 * processes of this httpd, refreshed on a schedule, after a failure with
 * back-off, and the JWKS again when a token names an unknown kid. */
#ifndef AO2_DISCOVERY_H
#define AO2_DISCOVERY_H

#include <httpd.h>

#include "ao2_err.h"
#include "ao2_gate.h"
#include "ao2_http.h"
#include "ao2_jose.h"
#include "ao2_oauth2.h"

/* What a request uses of a provider: the configured provider with the
 * discovered endpoints filled in (configured ones win), and its keys. */
typedef struct ao2_provider_meta {
    ao2_provider_t provider;
    const ao2_jwks_t *jwks; /* NULL: the provider publishes no JWKS */
} ao2_provider_meta_t;

/* post_config, in the parent: a slot of shared memory for each provider
 * that has issuer= or jwks=. Fetches nothing. */
apr_status_t ao2_discovery_init(apr_pool_t *pconf, server_rec *s,
                                const apr_array_header_t *providers);
/* child_init: this process's parsed copies and their lock. */
apr_status_t ao2_discovery_child_init(apr_pool_t *pchild);

/* The metadata of pv for as long as p lives (a request pool). Fetches
 * when there is none yet or it is due; refresh_keys asks for the JWKS
 * again (a token named an unknown kid), at most once per
 * AO2_DEFAULT_JWKS_MIN_REFETCH seconds per provider. 504 when the
 * provider did not answer in time, 502 when it cannot be reached or
 * answered something unusable: the caller answers that.
 *
 * calls (the Bearer check's gate on provider calls): a fetch here goes
 * through it; a caller that would wait for another's fetch of the first
 * copy takes one of its waiting places. 503 when neither is free (or the JWKS
 * asked for cannot be fetched now): nothing failed, the caller is turned away
 * at once. NULL: no cap; callers wait for the first copy as long as its fetch
 * may take. */
ao2_err_t *ao2_discovery_get(apr_pool_t *p, server_rec *s,
                             const ao2_http_opts_t *http,
                             const ao2_gate_t *calls, const ao2_provider_t *pv,
                             int refresh_keys, const ao2_provider_meta_t **out);

#endif
