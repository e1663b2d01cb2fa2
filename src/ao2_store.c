/* Picks a token store back-end from ApiOAuth2TokenStore's "type:arg". */
#include "ao2_store.h"

#include <httpd.h>
#include <http_config.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <http_log.h>
#include <util_mutex.h>

APLOG_USE_MODULE(api_oauth2);

#define STORE_MUTEX_TYPE "api-oauth2-store"

/* Adding a back-end: one line here, one file beside this one. */
static const ao2_store_type_t *const store_types[] = {
    &ao2_store_dbm,
    &ao2_store_socache,
};

#define N_TYPES (sizeof(store_types) / sizeof(store_types[0]))

static const char *type_names(apr_pool_t *p)
{
    const char *names = NULL;
    apr_size_t i;

    for (i = 0; i < N_TYPES; i++) {
        names = names ? apr_pstrcat(p, names, ", ", store_types[i]->name, NULL)
                      : store_types[i]->name;
    }
    return names;
}

const char *ao2_store_create(ao2_store_t **st, const char *spec,
                             apr_pool_t *pconf)
{
    const ao2_store_type_t *type = NULL;
    const char *colon = strchr(spec, ':');
    const char *name = colon ? apr_pstrmemdup(pconf, spec, colon - spec) : spec;
    const char *key = apr_pstrcat(pconf, "ao2_store:", spec, NULL);
    const char *err;
    void *known = NULL;
    apr_size_t i;

    /* The same spec in two places must be one instance: two mutexes over
     * one DBM file would not exclude each other. */
    apr_pool_userdata_get(&known, key, pconf);
    if (known) {
        *st = known;
        return NULL;
    }

    for (i = 0; i < N_TYPES; i++) {
        if (!strcmp(store_types[i]->name, name)) {
            type = store_types[i];
            break;
        }
    }
    if (!type) {
        return apr_psprintf(pconf, "unknown store type \"%s\" (%s)", name,
                            type_names(pconf));
    }

    *st = NULL;
    err = type->create(st, colon ? colon + 1 : "", pconf);
    if (err) {
        return err;
    }
    (*st)->type = type;
    (*st)->spec = apr_pstrdup(pconf, spec);
    apr_pool_userdata_setn(*st, key, NULL, pconf);
    return NULL;
}

apr_status_t ao2_store_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, STORE_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT,
                             0);
}

apr_status_t ao2_store_mutex_create(apr_global_mutex_t **mutex,
                                    const ao2_store_t *st, server_rec *s,
                                    apr_pool_t *pconf)
{
    apr_ssize_t len = APR_HASH_KEY_STRING;
    /* Names the lock file: stable for a spec, and free of '/' and ':'. */
    const char *instance =
        apr_psprintf(pconf, "%08x", apr_hashfunc_default(st->spec, &len));

    /* ap_global_mutex_create also hands the mutex to the run user
     * (ap_unixd_set_global_mutex_perms) where the platform needs it. */
    return ap_global_mutex_create(mutex, NULL, STORE_MUTEX_TYPE, instance, s,
                                  pconf, 0);
}

apr_status_t ao2_store_mutex_child_init(apr_global_mutex_t **mutex,
                                        apr_pool_t *pchild)
{
    if (!*mutex) {
        return APR_SUCCESS;
    }
    return apr_global_mutex_child_init(mutex, apr_global_mutex_lockfile(*mutex),
                                       pchild);
}

apr_status_t ao2_store_check_key(const char *key, apr_size_t *klen)
{
    apr_size_t n = key ? strlen(key) : 0;

    if (n == 0 || n > AO2_STORE_MAX_KEY) {
        return APR_EINVAL;
    }
    *klen = n;
    return APR_SUCCESS;
}

void ao2_store_path_add(apr_array_header_t *out, const char *path, int need)
{
    ao2_store_path_t *sp;

    if (path == NULL) {
        return;
    }
    sp = apr_array_push(out);
    sp->path = path;
    sp->need = need;
}

apr_status_t ao2_store_mutex_lock(apr_global_mutex_t *mutex,
                                  const ao2_store_t *st, server_rec *s)
{
    apr_status_t rv = mutex ? apr_global_mutex_lock(mutex) : APR_SUCCESS;

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2S0013: token store %s: cannot take the store mutex",
                     st->spec);
    }
    return rv;
}
