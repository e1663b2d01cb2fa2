/* Directives, per-server and per-directory configuration, start-up checks. */
#ifndef AO2_CONFIG_H
#define AO2_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "ao2_cache.h"
#include "ao2_crypto.h"
#include "ao2_http.h"
#include "ao2_oauth2.h"
#include "ao2_store.h"

/* Seconds, unless said otherwise. */
#define AO2_DEFAULT_STATE_TTL       600
#define AO2_DEFAULT_RECORD_TTL      (30 * 86400)
#define AO2_DEFAULT_MAX_BODY        65536 /* bytes */
#define AO2_DEFAULT_CONNECT_TIMEOUT 3000  /* ms */
#define AO2_DEFAULT_TOTAL_TIMEOUT   10000 /* ms */
#define AO2_DEFAULT_CACHE_TTL       300
#define AO2_DEFAULT_CACHE_NEG_TTL   10

/* Process-wide: one store, one key, one set of providers per httpd. */
typedef struct ao2_global {
    apr_array_header_t *providers; /* ao2_provider_t * */
    ao2_store_t *store;            /* NULL until configured or defaulted */
    const char *key_file;          /* NULL: generated next to the store */
    ao2_keys_t keys;
    ao2_cache_t *cache; /* "shm" unless ApiOAuth2Cache says otherwise */
    int cache_ttl;
    int cache_neg_ttl;
    /* Seconds a memcache verdict is also kept in node-local shared memory;
     * 0 (default): every check asks memcached, so a revoke on another server
     * counts at once. */
    int cache_local_ttl;
    ao2_cache_t *local_cache;
    /* Locations with ApiOAuth2API on, checked once all directives are read. */
    apr_array_header_t *apis; /* struct ao2_dir_conf * */
} ao2_global_t;

typedef struct ao2_server_conf {
    ao2_http_opts_t http;
    int connect_timeout_set, total_timeout_set, ca_file_set, max_response_set;
    int state_ttl; /* seconds */
    int state_ttl_set;
    apr_int64_t record_ttl; /* seconds */
    int record_ttl_set;
} ao2_server_conf_t;

typedef struct ao2_dir_conf {
    const char *path; /* the <Location> this config was made for */
    int api;          /* -1 unset, 0 off, 1 on */
    const char
        *api_path; /* where the endpoints live: the ApiOAuth2API location */
    const char *api_file; /* where ApiOAuth2API on was written, for messages */
    int api_line;
    apr_array_header_t *clients; /* ao2_client_t *; NULL: inherit */
    const char *redirect_uri;
    const char *login_claim;
    const char *odoo_db;
    int client_auth; /* -1 unset (on), 0 off, 1 on */
    apr_off_t max_body;
    int max_body_set;
} ao2_dir_conf_t;

extern ao2_global_t *ao2_global;

void *ao2_create_server_conf(apr_pool_t *p, server_rec *s);
void *ao2_merge_server_conf(apr_pool_t *p, void *base, void *add);
void *ao2_create_dir_conf(apr_pool_t *p, char *dir);
void *ao2_merge_dir_conf(apr_pool_t *p, void *base, void *add);

/* pre_config: a fresh global for every configuration read. */
void ao2_config_reset(apr_pool_t *pconf);
/* post_config: defaults, key file, store, cross-directive checks. Logs and
 * returns !OK to stop the start-up. */
int ao2_config_post(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

const ao2_client_t *ao2_dir_find_client(const ao2_dir_conf_t *dc,
                                        const char *client_id);

/* Directive setters, wired up by the table in mod_api_oauth2.c. */
const char *ao2_cmd_token_store(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_store_key(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_cache(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_cache_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_cache_neg_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_cache_local_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_provider(cmd_parms *cmd, void *dc, int argc,
                             char *const argv[]);
const char *ao2_cmd_provider_timeout(cmd_parms *cmd, void *dc,
                                     const char *connect, const char *total);
const char *ao2_cmd_provider_ca_file(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_provider_max_response(cmd_parms *cmd, void *dc,
                                          const char *arg);
const char *ao2_cmd_state_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_record_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_api(cmd_parms *cmd, void *dc, int on);
const char *ao2_cmd_client(cmd_parms *cmd, void *dc, int argc,
                           char *const argv[]);
const char *ao2_cmd_redirect_uri(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_login_claim(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_odoo_db(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_client_auth(cmd_parms *cmd, void *dc, int on);
const char *ao2_cmd_max_body(cmd_parms *cmd, void *dc, const char *arg);

#endif
