/* The Bearer validation cache: short keys (a namespaced hash of the token,
 * never the token) to small values with a TTL. Back-ends fill one small
 * table; adding one is one file. Misses and errors look the same to the
 * caller: the cache may lose anything, the token store stays the truth. */
#ifndef AO2_CACHE_H
#define AO2_CACHE_H

#include <apr_pools.h>

#include "ao2_metrics.h"

/* No httpd header: the Bearer validation (ao2_validate.c) and its unit
 * tests use caches without httpd. */
struct server_rec;

#define AO2_CACHE_MAX_KEY   64
#define AO2_CACHE_MAX_VALUE 512

typedef struct ao2_cache ao2_cache_t;

typedef struct ao2_cache_type {
    const char *name; /* "shm", "memcache" */
    /* Config time: arg is what follows "name:" ("" for none). NULL or an
     * error message. */
    const char *(*create)(ao2_cache_t **c, const char *arg, apr_pool_t *pconf);
    /* post_config, as root (shared memory, mutexes). */
    apr_status_t (*init)(ao2_cache_t *c, struct server_rec *s,
                         apr_pool_t *pconf, apr_pool_t *ptemp);
    /* Per child: reattach, build the connection pool. */
    apr_status_t (*child_init)(ao2_cache_t *c, struct server_rec *s,
                               apr_pool_t *pchild);
    /* Copies at most *len bytes into buf; *len becomes the value's length.
     * APR_NOTFOUND on a miss, an expired entry or any back-end trouble.
     * Called on every protected request: no allocation, no pool. */
    apr_status_t (*get)(ao2_cache_t *c, const char *key, apr_size_t klen,
                        char *buf, apr_size_t *len);
    apr_status_t (*set)(ao2_cache_t *c, const char *key, apr_size_t klen,
                        const char *val, apr_size_t len, int ttl_seconds);
    apr_status_t (*remove)(ao2_cache_t *c, const char *key, apr_size_t klen);
    /* Stores only when the key is absent (or expired), atomically across
     * every process that shares the cache: APR_SUCCESS when stored,
     * APR_EEXIST when someone else holds the key, another error when the
     * back-end is unreachable. Used as a short lock so that concurrent
     * first requests for one token make one lookup. */
    apr_status_t (*add)(ao2_cache_t *c, const char *key, apr_size_t klen,
                        const char *val, apr_size_t len, int ttl_seconds);
    /* 1 when other machines can write the values (memcached): values read
     * back carry a MAC. 0 for node-local memory only this server writes. */
    int shared;
    /* Whose counters its hits, misses and errors are (ao2_metrics.h). */
    ao2_metric_tier_e tier;
    /* The cluster revocation log (ao2_revlog.c), in the shared tier only;
     * NULL for a node-local cache. incr adds delta to the decimal counter
     * under key and sets *value to the result, creating it at initial when
     * absent (memcached: incr with an initial value), as one step for
     * every server; an error (not a miss) when the back-end cannot say.
     * put_new stores only when the key is absent, like add, but in the
     * shared servers alone (no node-local stand-in): what it writes must
     * never be written over, and is no lease. */
    apr_status_t (*incr)(ao2_cache_t *c, const char *key, apr_size_t klen,
                         apr_uint64_t delta, apr_uint64_t initial,
                         apr_uint64_t *value);
    apr_status_t (*put_new)(ao2_cache_t *c, const char *key, apr_size_t klen,
                            const char *val, apr_size_t len, int ttl_seconds);
    /* A count of verdicts forgotten (ao2_validate_forget: a revoke, a
     * refresh), shared by every process of the node: advance 1 moves it on
     * after the forget's removes, 0 reads it. NULL when the back-end cannot
     * say (memcached: another server's forget never shows here); then no
     * connection keeps a verdict of it (ao2_memo.h). */
    apr_uint32_t (*forgets)(ao2_cache_t *c, int advance);
} ao2_cache_type_t;

struct ao2_cache {
    const ao2_cache_type_t *type;
    const char *spec;
};

/* "shm", "shm:ENTRIES", "memcache:HOST:PORT[,HOST:PORT...]". */
const char *ao2_cache_create(ao2_cache_t **c, const char *spec,
                             apr_pool_t *pconf);
/* pre_config: registers the back-ends' mutex types. */
apr_status_t ao2_cache_pre_config(apr_pool_t *pconf);

extern const ao2_cache_type_t ao2_cache_shm;
extern const ao2_cache_type_t ao2_cache_memcache;

#endif
