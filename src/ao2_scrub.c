#include "ao2_scrub.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "ao2_config.h"
#include "ao2_request.h"

APLOG_USE_MODULE(api_oauth2);

/* The identity headers a backend could fold into the variables Odoo reads;
 * compared with case and '-'/'_' folded. Each starts with r or x: a new
 * one with another letter goes into is_identity_header's first test too. */
static const char *const identity_headers[] = {
    "remote-user", "x-odoo-login", "x-odoo-db", "x-oauth2-scope", NULL};

static int folded_equal(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = (*a == '_') ? '-' : apr_tolower(*a);
        char cb = (*b == '_') ? '-' : apr_tolower(*b);
        if (ca != cb)
            return 0;
    }
    return *a == *b;
}

static int is_identity_header(const char *name)
{
    char c = apr_tolower(*name);
    int i;

    /* Most headers of a request are out at the first letter. */
    if (c != 'r' && c != 'x')
        return 0;
    for (i = 0; identity_headers[i]; i++) {
        if (folded_equal(name, identity_headers[i]))
            return 1;
    }
    return 0;
}

/* Stops the walk at the first identity header, leaving its name. */
static int find_identity(void *name, const char *key, const char *value)
{
    if (!is_identity_header(key))
        return 1;
    *(const char **)name = key;
    return 0;
}

static int keep_identity(void *saved, const char *key, const char *value)
{
    if (is_identity_header(key))
        apr_table_addn(saved, key, value);
    return 1;
}

static void remove_identity(request_rec *r)
{
    const char *name;

    /* Usually one walk that finds nothing; no allocation on every request. */
    while (!apr_table_do(find_identity, &name, r->headers_in, NULL)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "AO2B0001: removed client-sent header %s", name);
        apr_table_unset(r->headers_in, name);
    }
}

int ao2_scrub_early(request_rec *r)
{
    /* Only the server's (or virtual host's) setting is known this early:
     * with it off, the operator trusts every front of this server and
     * server-level rules may use the headers. */
    const ao2_dir_conf_t *dc =
        ap_get_module_config(r->per_dir_config, &api_oauth2_module);
    const char *name;
    apr_table_t *saved;

    if (dc->scrub_headers == 0 ||
        apr_table_do(find_identity, &name, r->headers_in, NULL))
        return DECLINED;
    saved = apr_table_make(r->pool, 4);
    apr_table_do(keep_identity, saved, r->headers_in, NULL);
    ao2_request_note_set(r, AO2_NOTE_IDENTITY_KEPT, saved);
    remove_identity(r);
    return DECLINED;
}

int ao2_scrub_identity(request_rec *r)
{
    const ao2_dir_conf_t *dc =
        ap_get_module_config(r->per_dir_config, &api_oauth2_module);
    const apr_table_t *saved;
    const char *name;

    /* Every request of every server: Odoo trusts Remote-User on all of its
     * routes, not only behind the API locations. Removed again here for
     * what a redirect or a subrequest carried over. */
    if (dc->scrub_headers != 0) {
        remove_identity(r);
        return DECLINED;
    }
    /* Off here: what ao2_scrub_early removed comes back, for everything
     * that runs once the location is known (per-location SetEnvIf and
     * RewriteRule, RequestHeader, the proxy). Only once: a redirect to
     * here carries them over already. */
    saved = ao2_request_note(r, AO2_NOTE_IDENTITY_KEPT);
    if (saved && apr_table_do(find_identity, &name, r->headers_in, NULL))
        apr_table_overlap(r->headers_in, saved, APR_OVERLAP_TABLES_ADD);
    return DECLINED;
}
