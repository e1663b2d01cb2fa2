/* The module's configuration: the process-wide state, the per-server and
 * per-directory structs and the functions that fill them. Directive setters
 * and merges live in ao2_directives.c, start-up work in ao2_startup.c, every
 * default in ao2_defaults.h. */
#ifndef AO2_CONFIG_H
#define AO2_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "ao2_cache.h"
#include "ao2_crypto.h"
#include "ao2_defaults.h"
#include "ao2_http.h"
#include "ao2_oauth2.h"
#include "ao2_store.h"
#include "ao2_validate.h"

/* "Not written here" for a number or flag; NULL for a pointer. */
#define AO2_UNSET (-1)

/* One provider's endpoint calls and refresh-lock waiters in this process
 * (apr_atomic). */
typedef struct ao2_provider_gates {
    volatile apr_uint32_t calls, call_waiters, refresh_waiters;
    volatile apr_uint64_t call_ended; /* apr_time_t, atomic */
} ao2_provider_gates_t;

/* Process-wide: one store, one key, one set of providers per httpd. */
/* Where a directive was written, for start-up messages. */
typedef struct ao2_conf_site {
    const char *section; /* the section's path, e.g. "/jsonapiext/oauth2" */
    const char *file;
    int line;
} ao2_conf_site_t;

typedef struct ao2_global {
    apr_array_header_t *providers; /* ao2_provider_t * */
    ao2_store_t *store;            /* NULL until configured or defaulted */
    const char *key_file;          /* NULL: generated beside the store */
    ao2_keys_t keys;
    ao2_cache_t *cache; /* AO2_DEFAULT_CACHE unless ApiOAuth2Cache says */
    int cache_ttl;
    int cache_neg_ttl;
    /* Seconds a memcache verdict is also kept in node-local shared memory. */
    int cache_local_ttl;
    /* Bearer provider calls in flight in this process (apr_atomic). */
    volatile apr_uint32_t provider_calls;
    /* Bearer checks waiting for one of those call slots (apr_atomic). */
    volatile apr_uint32_t provider_call_waiters;
    volatile apr_uint64_t provider_call_ended; /* apr_time_t, atomic */
    /* The endpoints' gates (ao2_gate.h), this process's: per provider (its
     * index) and per identity (a hash of its refresh lock). */
    struct ao2_provider_gates *provider_gates;
    volatile apr_uint32_t refresh_waiters[AO2_REFRESH_WAIT_SLOTS];
    ao2_cache_t *local_cache;
    int metrics; /* ApiOAuth2Metrics: 1 on, 0 off */
    /* With a shared cache: the cluster revocation log (ao2_revlog.h). */
    struct ao2_revlog *revlog;
    /* Its tombstones on disk (ao2_journal.h): NULL for the default path,
     * "" for off. */
    const char *journal_path;
    /* Locations with ApiOAuth2API on, checked once all directives are read. */
    apr_array_header_t *apis; /* struct ao2_dir_conf * */
    /* Sections with an ApiOAuth2Client, likewise. */
    apr_array_header_t *client_dirs; /* struct ao2_dir_conf * */
    /* Every ApiOAuth2ClientAuthentication off as written: whatever sections
     * an endpoint's request merges, an off it ends with was written in one
     * of these, so warning about each misses none. */
    apr_array_header_t *auth_off; /* ao2_conf_site_t */
} ao2_global_t;

/* Every field starts unset (AO2_UNSET, or NULL; http.max_response 0) and
 * merges with AO2_MERGE; a merge fills the defaults, and post_config fills
 * them in the two configurations no merge reaches (ao2_config_finish). */
typedef struct ao2_server_conf {
    ao2_http_opts_t http;
    int state_ttl;          /* seconds */
    apr_int64_t record_ttl; /* seconds */
    int refresh_window;     /* seconds: ao2_record_refresh_due */
} ao2_server_conf_t;

typedef struct ao2_dir_conf {
    const char *path; /* the <Location> this config was made for */
    int api;          /* 0 off, 1 on */
    /* where the endpoints live: the ApiOAuth2API location */
    const char *api_path;
    const char *api_file; /* where ApiOAuth2API on was written, for messages */
    int api_line;
    /* the server (main or virtual host) whose name a derived redirect URI
     * takes */
    server_rec *api_server;
    apr_array_header_t *clients; /* ao2_client_t * */
    const char *redirect_uri;
    const char *login_claim;
    apr_array_header_t *audiences; /* const char *: ApiOAuth2Audience */
    int email_verified;            /* 0 optional, 1 required */
    /* What the Bearer check accepts here, made from clients, audiences,
     * login_claim, email_verified, odoo_db and introspect_with by the
     * directives that set them, and kept by merges whose result has the same
     * inputs: not per request. NULL: ao2_dir_binding makes it (a merge mixing
     * two sections'). */
    const ao2_binding_t *binding;
    const char *odoo_db;
    /* ApiOAuth2IntrospectWith: the provider opaque tokens go to. */
    const char *introspect_with;
    int client_auth; /* 0 off, 1 on */
    apr_off_t max_body;
    int scrub_headers; /* 0 off, 1 on: ApiOAuth2ScrubHeaders */
    int pass_token;    /* 0 off, 1 on: ApiOAuth2PassToken */
} ao2_dir_conf_t;

extern ao2_global_t *ao2_global;

void *ao2_create_server_conf(apr_pool_t *p, server_rec *s);
void *ao2_merge_server_conf(apr_pool_t *p, void *base, void *add);
void *ao2_create_dir_conf(apr_pool_t *p, char *dir);
void *ao2_merge_dir_conf(apr_pool_t *p, void *base, void *add);

/* pre_config: a fresh global for every configuration read. */
void ao2_config_reset(apr_pool_t *pconf);
/* The global of this configuration cycle, made on first use. */
ao2_global_t *ao2_global_get(apr_pool_t *pconf);
/* post_config: defaults into the main server's configurations, which no
 * merge reaches. */
void ao2_config_finish(server_rec *s);
/* post_config: defaults, key file, store, path and cross-directive checks.
 * Logs and returns !OK to stop the start-up. */
int ao2_config_post(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* Reads and derives the store key (as root, before the privilege drop).
 * NULL or a message naming the file. */
const char *ao2_key_load(apr_pool_t *p, const char *path, ao2_keys_t *keys);

const ao2_client_t *ao2_dir_find_client(const ao2_dir_conf_t *dc,
                                        const char *client_id);
/* The location's binding (ao2_validate.h); p is used only when it has to be
 * made now. */
const ao2_binding_t *ao2_dir_binding(apr_pool_t *p, const ao2_dir_conf_t *dc);

/* Directive setters, wired up by the table in mod_api_oauth2.c. Setters
 * that only store a value are httpd's ap_set_*_slot there. */
const char *ao2_cmd_token_store(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_store_key(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_cache(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_cache_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_cache_neg_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_cache_local_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_revocation_journal(cmd_parms *cmd, void *dc,
                                       const char *arg);
const char *ao2_cmd_metrics(cmd_parms *cmd, void *dc, int on);
const char *ao2_cmd_provider(cmd_parms *cmd, void *dc, int argc,
                             char *const argv[]);
const char *ao2_cmd_provider_timeout(cmd_parms *cmd, void *dc,
                                     const char *connect, const char *total);
const char *ao2_cmd_provider_ca_file(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_provider_max_response(cmd_parms *cmd, void *dc,
                                          const char *arg);
const char *ao2_cmd_state_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_record_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_refresh_window(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_api(cmd_parms *cmd, void *dc, int on);
const char *ao2_cmd_client_auth(cmd_parms *cmd, void *dc, int on);
const char *ao2_cmd_client(cmd_parms *cmd, void *dc, int argc,
                           char *const argv[]);
const char *ao2_cmd_redirect_uri(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_login_claim(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_audience(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_email_verified(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_odoo_db(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_introspect_with(cmd_parms *cmd, void *dc, const char *arg);
const char *ao2_cmd_max_body(cmd_parms *cmd, void *dc, const char *arg);

#endif
