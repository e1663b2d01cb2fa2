/* The node-local cache: one table in anonymous shared memory, made by the
 * parent in post_config and inherited by every child through fork, so all
 * processes of this httpd see one cache. The table and its locking are in
 * ao2_cache_table.c; this file only finds the memory and the clock.
 *
 * The segment lives on pconf: APR unmaps it when pconf is cleared (restart
 * or stop). Children of an older generation keep their own mapping until
 * they exit, so a graceful restart starts a new, empty cache without
 * pulling memory from under a request. */
#include "ao2_cache.h"

#include <httpd.h>
#include <http_config.h>
#include "ao2_cache_table.h"

#include <http_log.h>

#include <apr_lib.h>
#include <apr_shm.h>
#include <apr_strings.h>

#include <errno.h>
#include <time.h>

APLOG_USE_MODULE(api_oauth2);

#define DEFAULT_ENTRIES 8192

#if AO2_CACHE_TABLE_MAX_KEY != AO2_CACHE_MAX_KEY ||                            \
    AO2_CACHE_TABLE_MAX_VALUE != AO2_CACHE_MAX_VALUE
#error "ao2_cache_table.h's limits must follow ao2_cache.h's"
#endif

typedef struct shm_cache {
    ao2_cache_t base;
    apr_uint32_t entries;
    ao2_cache_table_t *table; /* NULL until init */
} shm_cache_t;

static const char *shm_create(ao2_cache_t **c, const char *arg,
                              apr_pool_t *pconf)
{
    shm_cache_t *sc;
    apr_int64_t n = DEFAULT_ENTRIES;
    char *end;

    if (*arg) {
        errno = 0;
        n = apr_isdigit(*arg) ? apr_strtoi64(arg, &end, 10) : -1;
        if (n >= 0 && (errno || *end)) {
            n = -1;
        }
        if (n < AO2_CACHE_TABLE_MIN_ENTRIES ||
            n > AO2_CACHE_TABLE_MAX_ENTRIES) {
            return apr_psprintf(pconf,
                                "shm cache: \"%s\" is not a number of "
                                "entries from %u to %u (shm:ENTRIES)",
                                arg, AO2_CACHE_TABLE_MIN_ENTRIES,
                                AO2_CACHE_TABLE_MAX_ENTRIES);
        }
    }
    sc = apr_pcalloc(pconf, sizeof(*sc));
    sc->entries = (apr_uint32_t)n;
    *c = &sc->base;
    return NULL;
}

static apr_status_t shm_init(ao2_cache_t *c, server_rec *s, apr_pool_t *pconf,
                             apr_pool_t *ptemp)
{
    shm_cache_t *sc = (shm_cache_t *)c;
    apr_size_t size = ao2_cache_table_size(sc->entries);
    apr_uint64_t seed;
    apr_shm_t *shm;
    apr_status_t rv;

    if (sc->table) {
        return APR_SUCCESS;
    }
    /* Anonymous: nothing on disk to clean up after a crash, and nothing
     * another user of the machine could open. */
    rv = apr_shm_create(&shm, size, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2K0001: cannot create %" APR_SIZE_T_FMT
                     " bytes of shared memory (ApiOAuth2Cache %s); give "
                     "fewer entries (shm:ENTRIES) or raise the system's "
                     "shared memory limits",
                     size, c->spec);
        return rv;
    }
    rv = apr_generate_random_bytes((unsigned char *)&seed, sizeof(seed));
    if (rv == APR_SUCCESS) {
        rv = ao2_cache_table_init(&sc->table, apr_shm_baseaddr_get(shm),
                                  apr_shm_size_get(shm), sc->entries, seed);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2K0002: cannot set up the shm cache (ApiOAuth2Cache "
                     "%s): no random seed or no room for the table; try "
                     "ApiOAuth2Cache shm with the default size",
                     c->spec);
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 "AO2K0003: shm cache of %u entries, %" APR_SIZE_T_FMT " bytes",
                 ao2_cache_table_capacity(sc->table), size);
    return APR_SUCCESS;
}

static apr_status_t shm_child_init(ao2_cache_t *c, server_rec *s,
                                   apr_pool_t *pchild)
{
    /* Inherited mapping, locks inside it: nothing to reattach. */
    return APR_SUCCESS;
}

/* time(), not apr_time_now(): it is the cheapest clock (the vDSO's coarse
 * one) and every use in this file reads the same one. */
static apr_int64_t now_sec(void)
{
    return (apr_int64_t)time(NULL);
}

/* A write the table refused (a value too large, a bad key) is an error in
 * the metrics; a lock someone else holds (APR_EEXIST) is not. */
static apr_status_t counted(ao2_metric_op_e op, apr_status_t rv)
{
    if (rv != APR_SUCCESS && rv != APR_EEXIST)
        ao2_metrics_cache_error(AO2_MT_SHM, op);
    return rv;
}

static apr_status_t shm_get(ao2_cache_t *c, const char *key, apr_size_t klen,
                            char *buf, apr_size_t *len)
{
    shm_cache_t *sc = (shm_cache_t *)c;

    if (!sc->table) {
        return APR_NOTFOUND;
    }
    return ao2_cache_table_get(sc->table, key, klen, buf, len, now_sec());
}

static apr_status_t shm_set(ao2_cache_t *c, const char *key, apr_size_t klen,
                            const char *val, apr_size_t len, int ttl_seconds)
{
    shm_cache_t *sc = (shm_cache_t *)c;
    apr_int64_t now = now_sec();

    if (!sc->table) {
        return APR_EINIT;
    }
    /* A TTL of 0 or less stores nothing and drops the old value. */
    return counted(
        AO2_MO_SET,
        ao2_cache_table_set(sc->table, key, klen, val, len,
                            now + (ttl_seconds > 0 ? ttl_seconds : 0), now));
}

static apr_status_t shm_add(ao2_cache_t *c, const char *key, apr_size_t klen,
                            const char *val, apr_size_t len, int ttl_seconds)
{
    shm_cache_t *sc = (shm_cache_t *)c;
    apr_int64_t now = now_sec();

    if (!sc->table) {
        return APR_EINIT;
    }
    if (ttl_seconds <= 0) {
        return APR_EINVAL;
    }
    return counted(AO2_MO_ADD,
                   ao2_cache_table_add(sc->table, key, klen, val, len,
                                       now + ttl_seconds, now));
}

static apr_status_t shm_remove(ao2_cache_t *c, const char *key, apr_size_t klen)
{
    shm_cache_t *sc = (shm_cache_t *)c;

    if (!sc->table) {
        return APR_EINIT;
    }
    return ao2_cache_table_remove(sc->table, key, klen);
}

static apr_uint32_t shm_forgets(ao2_cache_t *c, int advance)
{
    shm_cache_t *sc = (shm_cache_t *)c;

    return sc->table ? ao2_cache_table_forgets(sc->table, advance) : 0;
}

/* Node-local: no revocation log (incr, put_new) to carry. */
const ao2_cache_type_t ao2_cache_shm = {
    "shm",       shm_create, shm_init, shm_child_init, shm_get, shm_set,
    shm_remove,  shm_add,    0,        AO2_MT_SHM,     NULL,    NULL,
    shm_forgets,
};
