/* The token store: short keys to opaque values with an expiry, shared by all
 * httpd processes (and, with a networked socache, by several servers).
 * Back-ends fill one small table; adding one is one file. */
#ifndef AO2_STORE_H
#define AO2_STORE_H

#include <apr_global_mutex.h>
#include <apr_tables.h>
#include <apr_pools.h>

#include "ao2_metrics.h"

/* No httpd header: the Bearer validation (ao2_validate.c) and its unit
 * tests read the store without httpd; server_rec stays opaque here. */
struct server_rec;

#define AO2_STORE_MAX_VALUE 16384 /* bytes, whole encoded record */
#define AO2_STORE_MAX_KEY   128

typedef struct ao2_store ao2_store_t;

/* A file or directory the run user must reach, and the access it needs
 * there (AO2_PC_R/W/X of ao2_pathcheck.h), for the start-up check. */
typedef struct ao2_store_path {
    const char *path;
    int need;
} ao2_store_path_t;

/* What a back-end keeps, for the start-up warnings (ao2_startup.c). */
typedef struct ao2_store_traits {
    int shared; /* other servers read and write it (memcache, redis) */
    /* NULL, or when it drops records before they expire, tombstones among
     * them: a revoked token its provider still accepts comes back then. */
    const char *loses;
} ao2_store_traits_t;

typedef struct ao2_store_type {
    const char *name; /* "dbm", "socache" */
    /* Config time: arg is what follows "name:". Returns NULL or an error
     * message (httpd prefixes it with file and line). */
    const char *(*create)(ao2_store_t **st, const char *arg, apr_pool_t *pconf);
    /* post_config, as root: open files, fix ownership, create the mutex. */
    apr_status_t (*init)(ao2_store_t *st, struct server_rec *s,
                         apr_pool_t *pconf, apr_pool_t *ptemp);
    apr_status_t (*child_init)(ao2_store_t *st, struct server_rec *s,
                               apr_pool_t *pchild);
    /* APR_NOTFOUND when absent or expired. *val is NUL-terminated. */
    apr_status_t (*get)(ao2_store_t *st, struct server_rec *s, const char *key,
                        apr_pool_t *p, char **val, apr_size_t *len);
    /* expiry: absolute apr_time_t, > now. */
    apr_status_t (*set)(ao2_store_t *st, struct server_rec *s, const char *key,
                        const char *val, apr_size_t len, apr_time_t expiry,
                        apr_pool_t *p);
    /* Not an error when the key is absent. */
    apr_status_t (*remove)(ao2_store_t *st, struct server_rec *s,
                           const char *key, apr_pool_t *p);
    /* get + remove as one step where the back-end can (single-use state):
     * of two concurrent takers at most one gets the value. */
    apr_status_t (*take)(ao2_store_t *st, struct server_rec *s, const char *key,
                         apr_pool_t *p, char **val, apr_size_t *len);
    /* After init: pushes the ao2_store_path_t the run user needs onto out
     * (none for a store reached over the network). */
    void (*paths)(const ao2_store_t *st, apr_pool_t *p,
                  apr_array_header_t *out);
    /* After init: the directory a generated key goes beside (in its
     * parent), or NULL when the store has none (the key then goes to
     * DefaultRuntimeDir). */
    const char *(*dir)(const ao2_store_t *st, apr_pool_t *p);
    /* After create: fills *t. */
    void (*traits)(const ao2_store_t *st, ao2_store_traits_t *t);
} ao2_store_type_t;

/* Every back-end instance starts with this. */
struct ao2_store {
    const ao2_store_type_t *type;
    const char *spec; /* as configured, for messages */
};

/* "dbm:/path", "socache:memcache:host:port", "socache:shmcb". */
const char *ao2_store_create(ao2_store_t **st, const char *spec,
                             apr_pool_t *pconf);
/* Registers the back-ends' global mutexes; from pre_config. */
apr_status_t ao2_store_pre_config(apr_pool_t *pconf);

/* For the back-ends. One global mutex per store instance (type
 * "api-oauth2-store", so the Mutex directive applies); created in init,
 * reattached in child_init. */
apr_status_t ao2_store_mutex_create(apr_global_mutex_t **mutex,
                                    const ao2_store_t *st, struct server_rec *s,
                                    apr_pool_t *pconf);
apr_status_t ao2_store_mutex_child_init(apr_global_mutex_t **mutex,
                                        apr_pool_t *pchild);
/* Takes the mutex when there is one; a failure is logged. */
apr_status_t ao2_store_mutex_lock(apr_global_mutex_t *mutex,
                                  const ao2_store_t *st, struct server_rec *s);
/* For paths(): pushes {path, need}; a NULL path is skipped. */
void ao2_store_path_add(apr_array_header_t *out, const char *path, int need);
/* APR_EINVAL unless 1..AO2_STORE_MAX_KEY bytes. */
apr_status_t ao2_store_check_key(const char *key, apr_size_t *klen);

extern const ao2_store_type_t ao2_store_dbm;
extern const ao2_store_type_t ao2_store_socache;

/* Every use goes through these: a failure other than "not found" is
 * counted in the metrics. */
#define ao2_store_get(st, s, k, p, v, l)                                       \
    ao2_metrics_store(AO2_MO_GET,                                              \
                      (st)->type->get((st), (s), (k), (p), (v), (l)))
#define ao2_store_set(st, s, k, v, l, e, p)                                    \
    ao2_metrics_store(AO2_MO_SET,                                              \
                      (st)->type->set((st), (s), (k), (v), (l), (e), (p)))
#define ao2_store_remove(st, s, k, p)                                          \
    ao2_metrics_store(AO2_MO_REMOVE, (st)->type->remove((st), (s), (k), (p)))
#define ao2_store_take(st, s, k, p, v, l)                                      \
    ao2_metrics_store(AO2_MO_TAKE,                                             \
                      (st)->type->take((st), (s), (k), (p), (v), (l)))

#endif
