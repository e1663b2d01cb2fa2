/* Start-up work, once all directives are read: the store key (loaded, or
 * generated for a store that has none), the default store, the caches, and
 * the checks that need the whole configuration. Runs as root in post_config
 * (and ApiOAuth2StoreKey's load at configuration time). */
#include "ao2_config.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <http_log.h>
#include <mpm_common.h>
#include <unixd.h>

APLOG_USE_MODULE(api_oauth2);

#define AO2_MAX_KEY_FILE 4096

const char *ao2_key_load(apr_pool_t *p, const char *path, ao2_keys_t *keys)
{
    unsigned char buf[AO2_MAX_KEY_FILE];
    apr_file_t *f;
    apr_size_t n = sizeof(buf);
    apr_status_t rv;
    apr_finfo_t fi;
    char ebuf[128];

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p);
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "cannot read key file %s: %s", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
    rv = apr_file_read_full(f, buf, sizeof(buf), &n);
    if (apr_file_info_get(&fi, APR_FINFO_PROT, f) == APR_SUCCESS &&
        (fi.protection & (APR_FPROT_GREAD | APR_FPROT_WREAD)))
        ap_log_perror(APLOG_MARK, APLOG_WARNING, 0, p,
                      "AO2C0001: key file %s is readable by group or others; "
                      "make it 0600 root",
                      path);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF)
        return apr_psprintf(p, "cannot read key file %s: %s", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
    if (n < AO2_MASTER_KEY_MIN)
        return apr_psprintf(p,
                            "key file %s has %" APR_SIZE_T_FMT
                            " bytes; at least %d random bytes are needed",
                            path, n, AO2_MASTER_KEY_MIN);
    if (ao2_keys_derive(keys, buf, n) != APR_SUCCESS)
        return "cannot derive keys";
    memset(buf, 0, sizeof(buf));
    return NULL;
}

/* The key for a store set up without ApiOAuth2StoreKey: made once, kept next
 * to the store, so records stay readable across restarts of this server. */
static int default_key(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                       ao2_global_t *g, const char *path)
{
    unsigned char key[AO2_MASTER_KEY_MIN];
    const char *err;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n = sizeof(key);
    apr_status_t rv;

    if (apr_stat(&fi, path, APR_FINFO_TYPE, ptemp) != APR_SUCCESS) {
        char *dir = ap_make_dirstr_parent(ptemp, path);
        apr_dir_make_recursive(dir, APR_FPROT_OS_DEFAULT & 0700, ptemp);
        if (ao2_random_bytes(key, sizeof(key)) != APR_SUCCESS ||
            (rv = apr_file_open(&f, path,
                                APR_FOPEN_WRITE | APR_FOPEN_CREATE |
                                    APR_FOPEN_EXCL | APR_FOPEN_BINARY,
                                APR_FPROT_UREAD | APR_FPROT_UWRITE, ptemp)) ||
            (rv = apr_file_write_full(f, key, sizeof(key), &n)) ||
            (rv = apr_file_close(f))) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "AO2C0002: cannot create the store key %s; set "
                         "ApiOAuth2StoreKey",
                         path);
            return !OK;
        }
        memset(key, 0, sizeof(key));
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "AO2C0003: generated the store key %s; set "
                     "ApiOAuth2StoreKey to keep it elsewhere or to share it "
                     "between servers",
                     path);
    }
    if ((err = ao2_key_load(pconf, path, &g->keys))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "AO2C0004: %s", err);
        return !OK;
    }
    g->key_file = path;
    return OK;
}

static const char *default_key_path(apr_pool_t *p, const ao2_store_t *st)
{
    const char *spec = st->spec;

    if (strncmp(spec, "dbm:", 4) == 0)
        return apr_pstrcat(
            p, ap_make_dirstr_parent(p, ap_server_root_relative(p, spec + 4)),
            "store.key", NULL);
    return ap_runtime_dir_relative(p, AO2_DEFAULT_RUNTIME_KEY);
}

static int setup_caches(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                        ao2_global_t *g)
{
    const char *err;

    if (g->cache == NULL &&
        (err = ao2_cache_create(&g->cache, AO2_DEFAULT_CACHE, pconf))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "AO2C0009: %s", err);
        return !OK;
    }
    if (g->cache_local_ttl > 0 && strcmp(g->cache->type->name, "shm") != 0 &&
        (err = ao2_cache_create(&g->local_cache, "shm", pconf))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "AO2C0011: %s", err);
        return !OK;
    }
    if (g->cache->type->init(g->cache, s, pconf, ptemp) != APR_SUCCESS ||
        (g->local_cache && g->local_cache->type->init(g->local_cache, s, pconf,
                                                      ptemp) != APR_SUCCESS)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0010: cannot set up the validation cache %s",
                     g->cache->spec);
        return !OK;
    }
    return OK;
}

/* Warnings about choices that work but deserve a second look. */
static void warn_weak_settings(server_rec *s, const ao2_global_t *g)
{
    int i;

    for (i = 0; i < g->providers->nelts; i++) {
        const ao2_provider_t *pv =
            APR_ARRAY_IDX(g->providers, i, ao2_provider_t *);
        if (strncasecmp(pv->token_url, "http:", 5) == 0)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "AO2C0007: provider %s is reached over plain http; "
                         "use https outside a test bed",
                         pv->name);
    }
    for (i = 0; i < g->apis->nelts; i++) {
        const ao2_dir_conf_t *dc = APR_ARRAY_IDX(g->apis, i, ao2_dir_conf_t *);
        if (dc->client_auth == 0)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "AO2C0008: ApiOAuth2ClientAuthentication is off for "
                         "%s (%s:%d): anyone who knows a client_id and a "
                         "client_user_identity can get that user's tokens",
                         dc->api_path, dc->api_file, dc->api_line);
    }
}

int ao2_config_post(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    ao2_global_t *g = ao2_global_get(pconf);
    const char *err;

    ao2_config_finish(s);
    if (g->apis->nelts == 0 && g->store == NULL && g->providers->nelts == 0)
        return OK; /* loaded, not used: create no files */
    if (g->store == NULL &&
        (err = ao2_store_create(&g->store, AO2_DEFAULT_STORE, pconf))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "AO2C0005: %s", err);
        return !OK;
    }
    if (g->key_file == NULL &&
        default_key(pconf, ptemp, s, g, default_key_path(ptemp, g->store)) !=
            OK)
        return !OK;
    if (setup_caches(pconf, ptemp, s, g) != OK)
        return !OK;
    if (g->store->type->init(g->store, s, pconf, ptemp) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0006: cannot open the token store %s",
                     g->store->spec);
        return !OK;
    }
    warn_weak_settings(s, g);
    return OK;
}
