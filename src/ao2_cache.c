/* Picks a Bearer validation cache back-end from ApiOAuth2Cache's "type:arg". */
#include "ao2_cache.h"

#include <httpd.h>

#include <apr_strings.h>
#include <util_mutex.h>

#define CACHE_MUTEX_TYPE "api-oauth2-cache"

/* Adding a back-end: one line here, one file beside this one. */
static const ao2_cache_type_t *const cache_types[] = {
    &ao2_cache_shm,
    &ao2_cache_memcache,
};

#define N_TYPES (sizeof(cache_types) / sizeof(cache_types[0]))

static const char *type_names(apr_pool_t *p)
{
    const char *names = NULL;
    apr_size_t i;

    for (i = 0; i < N_TYPES; i++) {
        names = names ? apr_pstrcat(p, names, ", ", cache_types[i]->name, NULL)
                      : cache_types[i]->name;
    }
    return names;
}

const char *ao2_cache_create(ao2_cache_t **c, const char *spec,
                             apr_pool_t *pconf)
{
    const ao2_cache_type_t *type = NULL;
    const char *colon = strchr(spec, ':');
    const char *name = colon ? apr_pstrmemdup(pconf, spec, colon - spec) : spec;
    const char *err;
    apr_size_t i;

    for (i = 0; i < N_TYPES; i++) {
        if (!strcmp(cache_types[i]->name, name)) {
            type = cache_types[i];
            break;
        }
    }
    if (!type) {
        return apr_psprintf(pconf, "unknown cache type \"%s\" (%s)", name,
                            type_names(pconf));
    }

    *c = NULL;
    err = type->create(c, colon ? colon + 1 : "", pconf);
    if (err) {
        return err;
    }
    (*c)->type = type;
    (*c)->spec = apr_pstrdup(pconf, spec);
    return NULL;
}

/* The shm back-end locks with mutexes inside its segment and the memcache
 * one needs none; the type is registered so that a back-end that needs a
 * global mutex has one the Mutex directive can configure, and so that such
 * a directive naming it is not an error. */
apr_status_t ao2_cache_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, CACHE_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT,
                             0);
}
