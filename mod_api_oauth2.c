/* mod_api_oauth2: OAuth2 in front of an Odoo API, inside httpd.
 * This file is glue only: the directive table, hook registration and the
 * dispatch to src/, where the logic lives. */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mpm_common.h>
#include <ap_mpm.h>
#include <ap_provider.h>
#include <mod_auth.h>
#include <mod_status.h>

#include "ao2_bearer.h"
#include "ao2_cache.h"
#include "ao2_config.h"
#include "ao2_crypto.h"
#include "ao2_discovery.h"
#include "ao2_endpoints.h"
#include "ao2_http.h"
#include "ao2_metrics.h"
#include "ao2_scrub.h"
#include "ao2_store.h"

module AP_MODULE_DECLARE_DATA api_oauth2_module;

static const command_rec ao2_directives[] = {
    /* Server-wide: one store, key, cache and provider list per httpd. */
    AP_INIT_TAKE1("ApiOAuth2TokenStore", ao2_cmd_token_store, NULL, RSRC_CONF,
                  "dbm:PATH (default) or socache:PROVIDER[:ARGS]"),
    AP_INIT_TAKE1("ApiOAuth2StoreKey", ao2_cmd_store_key, NULL, RSRC_CONF,
                  "file:PATH of at least 32 random bytes"),
    AP_INIT_TAKE1("ApiOAuth2Cache", ao2_cmd_cache, NULL, RSRC_CONF,
                  "shm (default) or memcache:HOST:PORT[,HOST:PORT...]"),
    AP_INIT_TAKE1("ApiOAuth2CacheTTL", ao2_cmd_cache_ttl, NULL, RSRC_CONF,
                  "seconds a validation is cached at most (300)"),
    AP_INIT_TAKE1("ApiOAuth2CacheNegativeTTL", ao2_cmd_cache_neg_ttl, NULL,
                  RSRC_CONF, "seconds a rejected token stays rejected (10)"),
    AP_INIT_TAKE1("ApiOAuth2CacheLocalTTL", ao2_cmd_cache_local_ttl, NULL,
                  RSRC_CONF,
                  "seconds a memcache verdict is also kept on this node (300)"),
    AP_INIT_TAKE1("ApiOAuth2RevocationJournal", ao2_cmd_revocation_journal,
                  NULL, RSRC_CONF,
                  "file of the tombstones this node learned, or off "
                  "(DefaultRuntimeDir/" AO2_DEFAULT_REVLOG_JOURNAL ")"),
    AP_INIT_FLAG("ApiOAuth2Metrics", ao2_cmd_metrics, NULL, RSRC_CONF,
                 "off: record no metrics (on)"),
    AP_INIT_TAKE_ARGV("ApiOAuth2Provider", ao2_cmd_provider, NULL, RSRC_CONF,
                      "NAME issuer=URL | authorize=URL token=URL, "
                      "[revoke=URL] [userinfo=URL] [introspect=URL] "
                      "[jwks=URL] [leeway=SECONDS] "
                      "[auth=client_secret_basic|client_secret_post]"),
    /* Per virtual host. */
    AP_INIT_TAKE12("ApiOAuth2ProviderTimeout", ao2_cmd_provider_timeout, NULL,
                   RSRC_CONF, "CONNECT [TOTAL] seconds (3 10)"),
    AP_INIT_TAKE1("ApiOAuth2ProviderCAFile", ao2_cmd_provider_ca_file, NULL,
                  RSRC_CONF, "PEM file of CAs that sign the provider"),
    AP_INIT_TAKE1("ApiOAuth2ProviderMaxResponse", ao2_cmd_provider_max_response,
                  NULL, RSRC_CONF, "bytes a provider answer may have"),
    AP_INIT_TAKE1("ApiOAuth2StateTTL", ao2_cmd_state_ttl, NULL, RSRC_CONF,
                  "seconds an authorization may take (600)"),
    AP_INIT_TAKE1("ApiOAuth2RecordTTL", ao2_cmd_record_ttl, NULL, RSRC_CONF,
                  "seconds an unused token record is kept (2592000)"),
    AP_INIT_TAKE1("ApiOAuth2RefreshWindow", ao2_cmd_refresh_window, NULL,
                  RSRC_CONF,
                  "seconds /token answers the tokens of the last refresh (5)"),
    /* Per location. */
    AP_INIT_FLAG("ApiOAuth2API", ao2_cmd_api, NULL, ACCESS_CONF,
                 "on: serve <location>/oauth2/* here"),
    AP_INIT_TAKE_ARGV("ApiOAuth2Client", ao2_cmd_client, NULL, ACCESS_CONF,
                      "PROVIDER CLIENT_ID CLIENT_SECRET [\"scope=...\"] "
                      "[\"auth_params=NAME=VALUE&...\"]"),
    AP_INIT_TAKE1("ApiOAuth2RedirectURI", ao2_cmd_redirect_uri, NULL,
                  ACCESS_CONF, "the callback URL registered at the provider"),
    AP_INIT_TAKE1("ApiOAuth2LoginClaim", ao2_cmd_login_claim, NULL, ACCESS_CONF,
                  "claim that names the Odoo login (email)"),
    AP_INIT_ITERATE("ApiOAuth2Audience", ao2_cmd_audience, NULL, ACCESS_CONF,
                    "more aud/azp/client_id values a foreign token may name"),
    AP_INIT_TAKE1("ApiOAuth2EmailVerified", ao2_cmd_email_verified, NULL,
                  ACCESS_CONF,
                  "required (default) or optional: with login claim email, "
                  "only a verified email is a login"),
    AP_INIT_TAKE1("ApiOAuth2OdooDatabase", ao2_cmd_odoo_db, NULL, ACCESS_CONF,
                  "the Odoo database name given to clients and Odoo"),
    AP_INIT_TAKE1("ApiOAuth2IntrospectWith", ao2_cmd_introspect_with, NULL,
                  ACCESS_CONF,
                  "the provider that introspects opaque Bearer tokens where "
                  "clients of several providers do"),
    AP_INIT_FLAG("ApiOAuth2ClientAuthentication", ao2_cmd_client_auth, NULL,
                 ACCESS_CONF,
                 "off: accept the original module's bare "
                 "client_id requests"),
    AP_INIT_TAKE1("ApiOAuth2MaxBodySize", ao2_cmd_max_body, NULL, ACCESS_CONF,
                  "bytes an endpoint request body may have (65536)"),
    AP_INIT_FLAG("ApiOAuth2PassToken", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(ao2_dir_conf_t, pass_token), ACCESS_CONF,
                 "on: the client's Bearer token goes on to the backend (off)"),
    /* Anywhere: the scrubbing runs on every request of every server. */
    AP_INIT_FLAG("ApiOAuth2ScrubHeaders", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(ao2_dir_conf_t, scrub_headers),
                 RSRC_CONF | ACCESS_CONF,
                 "off: let client-sent identity headers through here (on)"),
    {NULL},
};

static int ao2_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    ao2_config_reset(pconf);
    if (ao2_store_pre_config(pconf) != APR_SUCCESS ||
        ao2_cache_pre_config(pconf) != APR_SUCCESS)
        return !OK;
    return OK;
}

static int ao2_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK; /* the first of httpd's two start-up passes */
    ao2_crypto_init(pconf);
    if (ao2_http_global_init(pconf) != APR_SUCCESS)
        return !OK;
    if (ao2_config_post(pconf, ptemp, s) != OK)
        return !OK;
    return ao2_endpoints_post_config(pconf, s);
}

static void ao2_child_init(apr_pool_t *pchild, server_rec *s)
{
    int threads = 1;

    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    ao2_http_child_init(pchild, threads > 0 ? threads : 1);
    if (ao2_discovery_child_init(pchild) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "AO2M0003: cannot set up the provider metadata");
    if (ao2_global && ao2_global->store &&
        ao2_global->store->type->child_init(ao2_global->store, s, pchild) !=
            APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "AO2M0001: cannot attach to the token store: this "
                     "child answers 503 where it needs it; see the AO2S "
                     "lines, then restart");
    if (ao2_global && ao2_global->cache &&
        (ao2_global->cache->type->child_init(ao2_global->cache, s, pchild) !=
             APR_SUCCESS ||
         (ao2_global->local_cache &&
          ao2_global->local_cache->type->child_init(ao2_global->local_cache, s,
                                                    pchild) != APR_SUCCESS)))
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "AO2M0002: cannot attach to the validation cache; Bearer "
                     "checks go to the token store");
}

static int ao2_handler(request_rec *r)
{
    const ao2_dir_conf_t *dc =
        ap_get_module_config(r->per_dir_config, &api_oauth2_module);
    const char *rest;

    if (!ao2_endpoint_match(r, dc, &rest))
        return DECLINED;
    return ao2_endpoint_handle(r, dc, rest);
}

/* SetHandler api-oauth2-metrics: the counters of every process, as
 * Prometheus text. Who may read them is the operator's Require. */
static void emit_to_client(void *baton, const char *s, apr_size_t len)
{
    ap_rwrite(s, (int)len, (request_rec *)baton);
}

static int ao2_metrics_handler(request_rec *r)
{
    if (r->handler == NULL || strcmp(r->handler, AO2_METRICS_HANDLER) != 0)
        return DECLINED;
    r->allowed |= (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    ap_set_content_type(r, AO2_METRICS_CONTENT_TYPE);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only)
        ao2_metrics_prometheus(r->pool, emit_to_client, r);
    return OK;
}

/* A section of server-status: the headline totals (?auto: "ApiOAuth2
 * Name: value" lines, a space after the prefix so that no such name reads
 * as a directive). */
static int ao2_status(request_rec *r, int flags)
{
    ao2_metrics_total_t t[AO2_METRICS_TOTALS];
    int i, n = ao2_metrics_totals(t);

    if (flags & AP_STATUS_SHORT) {
        for (i = 0; i < n; i++)
            ap_rprintf(r, "ApiOAuth2 %s: %" APR_UINT64_T_FMT "\n", t[i].name,
                       t[i].value);
        return OK;
    }
    ap_rputs("<hr />\n<h2>mod_api_oauth2</h2>\n", r);
    if (n == 0) {
        ap_rputs("<p>Metrics are off (ApiOAuth2Metrics off).</p>\n", r);
        return OK;
    }
    ap_rputs("<table>\n", r);
    for (i = 0; i < n; i++)
        ap_rprintf(r, "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n",
                   t[i].help, t[i].value);
    ap_rputs("</table>\n<p>Every counter: SetHandler api-oauth2-metrics.</p>\n",
             r);
    return OK;
}

/* The endpoints are how clients get tokens, so the Bearer requirement of
 * the location that serves them is waived there, and nothing else: any other
 * Require (ip, all denied, env, expr) the operator puts on them holds. */
static int is_endpoint(request_rec *r)
{
    const ao2_dir_conf_t *dc =
        ap_get_module_config(r->per_dir_config, &api_oauth2_module);
    const char *rest;

    return ao2_endpoint_match(r, dc, &rest);
}

/* check_authn: on an endpoint no Bearer token is asked for; r->user becomes
 * the empty marker (as mod_auth_openidc does on its redirect URI) so that a
 * "Require valid-user" inherited from the API location is met. The handler
 * answers every endpoint request itself: the marker never reaches Odoo. */
static int ao2_authn(request_rec *r)
{
    const char *type = ap_auth_type(r);

    if (type && strcasecmp(type, AO2_AUTH_TYPE) == 0 && is_endpoint(r)) {
        r->user = "";
        return OK;
    }
    return ao2_bearer_check(r);
}

/* Require api-oauth2-scope is the other half of the Bearer requirement:
 * waived on the endpoints too (SPEC: they are never behind the Bearer
 * check), so an API location with "Require api-oauth2-scope read" still
 * serves them. */
static authz_status ao2_scope_check(request_rec *r, const char *line,
                                    const void *parsed)
{
    if (is_endpoint(r))
        return AUTHZ_GRANTED;
    return ao2_scope_authz_provider.check_authorization(r, line, parsed);
}

static authz_provider ao2_scope_provider;

static void ao2_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(ao2_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ao2_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ao2_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* Before mod_setenvif's and mod_rewrite's server-level rules. */
    ap_hook_post_read_request(ao2_scrub_early, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_header_parser(ao2_scrub_identity, NULL, NULL,
                          APR_HOOK_REALLY_FIRST);
    ap_hook_check_authn(ao2_authn, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(ao2_bearer_note_failure, NULL, NULL,
                              APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(ao2_bearer_error_status, NULL, NULL,
                                APR_HOOK_MIDDLE);
    ap_register_output_filter(AO2_JSON_ERROR_FILTER, ao2_bearer_json_filter,
                              NULL, AP_FTYPE_RESOURCE);
    /* Last: a rewrite's internal redirect still carries the token, and a
     * RequestHeader of the operator's for the backend is not undone. */
    ap_hook_fixups(ao2_bearer_fixups, NULL, NULL, APR_HOOK_REALLY_LAST);
    ao2_scope_provider.check_authorization = ao2_scope_check;
    ao2_scope_provider.parse_require_line =
        ao2_scope_authz_provider.parse_require_line;
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "api-oauth2-scope",
                              AUTHZ_PROVIDER_VERSION, &ao2_scope_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    /* Before mod_proxy: the endpoints never reach the backend. */
    ap_hook_handler(ao2_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_handler(ao2_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, ao2_status, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(api_oauth2) = {
    STANDARD20_MODULE_STUFF, ao2_create_dir_conf,   ao2_merge_dir_conf,
    ao2_create_server_conf,  ao2_merge_server_conf, ao2_directives,
    ao2_register_hooks,      AP_MODULE_FLAG_NONE,
};
