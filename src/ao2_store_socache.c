/* Token store on any mod_socache provider: shmcb and dbm for one server,
 * memcache and redis to share tokens between servers. */
#include "ao2_store.h"
#include "ao2_pathcheck.h"

#include <httpd.h>
#include <http_config.h>

#include <ap_provider.h>
#include <ap_socache.h>
#include <http_log.h>

#include <apr_dbm.h>
#include <apr_hash.h>
#include <apr_strings.h>

APLOG_USE_MODULE(api_oauth2);

#define NAMESPACE "api_oauth2" /* at most 16 bytes, socache API */
/* mod_socache_memcache and _redis pass whole seconds, truncated, and refuse
 * zero. */
#define MIN_TTL apr_time_from_sec(2)
/* memcached reads a TTL above 30 days as an absolute Unix time, i.e. long
 * past: such a record would vanish at once. */
#define MEMCACHE_MAX_TTL apr_time_from_sec(30 * 24 * 3600)

typedef struct socache_store {
    ao2_store_t base;
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *instance;
    apr_global_mutex_t *mutex; /* only for providers not MP-safe */
    int cap_ttl;
    int spread;
    int vague_miss;
    int inited;
    int child_inited;
    const char *file; /* socache:dbm:FILE, for the start-up check */
    server_rec *s;    /* for destroy */
} socache_store_t;

static const char *sc_create(ao2_store_t **st, const char *arg,
                             apr_pool_t *pconf)
{
    socache_store_t *c;
    const char *colon = strchr(arg, ':');
    const char *name = colon ? apr_pstrmemdup(pconf, arg, colon - arg) : arg;
    const char *err;

    if (!*name) {
        return "socache store needs a provider: socache:shmcb, "
               "socache:memcache:HOST:PORT, socache:redis:HOST:PORT, ...";
    }
    c = apr_pcalloc(pconf, sizeof(*c));
    /* Providers register from their register_hooks, so LoadModule must come
     * before this directive, as for any socache user. */
    c->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                     AP_SOCACHE_PROVIDER_VERSION);
    if (!c->provider) {
        return apr_psprintf(
            pconf,
            "socache provider \"%s\" is not loaded: add \"LoadModule "
            "socache_%s_module modules/mod_socache_%s.so\" before this line",
            name, name, name);
    }
    err = c->provider->create(&c->instance, colon ? colon + 1 : NULL, pconf,
                              pconf);
    if (err) {
        return apr_psprintf(pconf, "socache provider \"%s\": %s", name, err);
    }
    c->cap_ttl = !strcmp(c->provider->name, "memcache");
    c->spread = !strcmp(c->provider->name, "shmcb");
    c->vague_miss = !strcmp(c->provider->name, "dbm");
    if (c->vague_miss && colon && colon[1])
        c->file = ap_runtime_dir_relative(pconf, colon + 1);
    *st = &c->base;
    return NULL;
}

static apr_status_t sc_destroy(void *data)
{
    socache_store_t *c = data;

    if (c->inited) {
        c->provider->destroy(c->instance, c->s);
        c->inited = 0;
    }
    return APR_SUCCESS;
}

static apr_status_t sc_init(ao2_store_t *st, server_rec *s, apr_pool_t *pconf,
                            apr_pool_t *ptemp)
{
    socache_store_t *c = (socache_store_t *)st;
    struct ap_socache_hints hints;
    apr_status_t rv;

    if (c->inited) {
        return APR_SUCCESS;
    }
    if (c->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ao2_store_mutex_create(&c->mutex, st, s, pconf);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                         "AO2S0021: cannot create the store mutex; check "
                         "\"Mutex api-oauth2-store\" and DefaultRuntimeDir");
            return rv;
        }
    }
    memset(&hints, 0, sizeof(hints));
    hints.avg_id_len = 48;
    hints.avg_obj_size = 2048;
    hints.expiry_interval = apr_time_from_sec(60);
    rv = c->provider->init(c->instance, NAMESPACE, &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2S0022: cannot initialise ApiOAuth2TokenStore %s; "
                     "check the provider's arguments and that its server "
                     "is reachable",
                     st->spec);
        return rv;
    }
    if (c->vague_miss) {
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, s,
            "AO2S0023: ApiOAuth2TokenStore %s: mod_socache_dbm refuses "
            "records of 8 KB and more; the dbm: store has no such "
            "limit",
            st->spec);
    }
    c->s = s;
    c->inited = 1;
    apr_pool_cleanup_register(pconf, c, sc_destroy, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

static apr_status_t sc_child_init(ao2_store_t *st, server_rec *s,
                                  apr_pool_t *pchild)
{
    socache_store_t *c = (socache_store_t *)st;
    apr_status_t rv;

    if (c->child_inited) {
        return APR_SUCCESS;
    }
    rv = ao2_store_mutex_child_init(&c->mutex, pchild);
    if (rv == APR_SUCCESS) {
        c->child_inited = 1;
    }
    return rv;
}

typedef struct sc_id {
    const unsigned char *id;
    unsigned int len;
} sc_id_t;

/* shmcb picks its sub-cache by the first byte of the id, and our keys
 * begin with a short type prefix: most sub-caches would stay empty while
 * a few overflow. A leading byte of the key's hash spreads them. */
static apr_status_t make_id(socache_store_t *c, const char *key, apr_pool_t *p,
                            sc_id_t *id)
{
    apr_size_t klen;
    apr_status_t rv = ao2_store_check_key(key, &klen);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (c->spread) {
        apr_ssize_t hlen = (apr_ssize_t)klen;
        unsigned char *b = apr_palloc(p, klen + 1);

        b[0] = (unsigned char)apr_hashfunc_default(key, &hlen);
        memcpy(b + 1, key, klen);
        id->id = b;
        id->len = (unsigned int)klen + 1;
    } else {
        id->id = (const unsigned char *)key;
        id->len = (unsigned int)klen;
    }
    return APR_SUCCESS;
}

static apr_status_t lock(socache_store_t *c, server_rec *s)
{
    return ao2_store_mutex_lock(c->mutex, &c->base, s);
}

/* A provider's failure, in words: its status when APR can read it (the
 * memcache and redis providers pass APR and OS errors up), else only that
 * it failed (mod_socache_dbm passes its DBM's own numbers, and logs the
 * cause itself). */
static apr_status_t failed(socache_store_t *c, server_rec *s, apr_status_t rv,
                           const char *what)
{
    if (rv == APR_SUCCESS || APR_STATUS_IS_NOTFOUND(rv))
        return rv;
    if (rv >= APR_OS_START_USERERR && rv < APR_OS_START_USERERR + 1000) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "AO2S0025: token store %s: the %s provider could not %s "
                     "(its DBM error %d; mod_socache_%s logs the cause)",
                     c->base.spec, c->provider->name, what,
                     (int)(rv - APR_OS_START_USERERR), c->provider->name);
        return APR_EGENERAL;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                 "AO2S0025: token store %s: the %s provider could not %s",
                 c->base.spec, c->provider->name, what);
    return rv;
}

static void unlock(socache_store_t *c)
{
    if (c->mutex) {
        apr_global_mutex_unlock(c->mutex);
    }
}

/* Under the mutex when there is one. */
static apr_status_t retrieve(socache_store_t *c, server_rec *s,
                             const sc_id_t *id, apr_pool_t *p, char **val,
                             apr_size_t *len)
{
    unsigned char *buf = apr_palloc(p, AO2_STORE_MAX_VALUE + 1);
    unsigned int n = AO2_STORE_MAX_VALUE;
    apr_status_t rv;

    rv = c->provider->retrieve(c->instance, s, id->id, id->len, buf, &n, p);
    if (rv != APR_SUCCESS) {
        /* mod_socache_dbm answers a missing key with its DBM's fetch error;
         * its real failures (open) it logs itself. */
        return c->vague_miss && rv == APR_EGENERAL ? APR_NOTFOUND : rv;
    }
    buf[n] = '\0';
    *val = (char *)buf;
    *len = n;
    return APR_SUCCESS;
}

static apr_status_t sc_get(ao2_store_t *st, server_rec *s, const char *key,
                           apr_pool_t *p, char **val, apr_size_t *len)
{
    socache_store_t *c = (socache_store_t *)st;
    sc_id_t id;
    apr_status_t rv;

    if ((rv = make_id(c, key, p, &id)) != APR_SUCCESS ||
        (rv = lock(c, s)) != APR_SUCCESS) {
        return rv;
    }
    rv = retrieve(c, s, &id, p, val, len);
    unlock(c);
    return failed(c, s, rv, "read a record");
}

static apr_status_t sc_set(ao2_store_t *st, server_rec *s, const char *key,
                           const char *val, apr_size_t len, apr_time_t expiry,
                           apr_pool_t *p)
{
    socache_store_t *c = (socache_store_t *)st;
    apr_time_t now = apr_time_now();
    sc_id_t id;
    apr_status_t rv;

    if ((rv = make_id(c, key, p, &id)) != APR_SUCCESS) {
        return rv;
    }
    if (len > AO2_STORE_MAX_VALUE) {
        return APR_ENOSPC;
    }
    if (expiry < now + MIN_TTL) {
        expiry = now + MIN_TTL;
    }
    if (c->cap_ttl && expiry > now + MEMCACHE_MAX_TTL) {
        expiry = now + MEMCACHE_MAX_TTL;
    }
    if ((rv = lock(c, s)) != APR_SUCCESS) {
        return rv;
    }
    /* The providers take a non-const buffer but only copy from it. */
    rv = c->provider->store(c->instance, s, id.id, id.len, expiry,
                            (unsigned char *)val, (unsigned int)len, p);
    unlock(c);
    return failed(c, s, rv, "store a record");
}

static apr_status_t sc_remove(ao2_store_t *st, server_rec *s, const char *key,
                              apr_pool_t *p)
{
    socache_store_t *c = (socache_store_t *)st;
    sc_id_t id;
    apr_status_t rv;

    if ((rv = make_id(c, key, p, &id)) != APR_SUCCESS ||
        (rv = lock(c, s)) != APR_SUCCESS) {
        return rv;
    }
    rv = c->provider->remove(c->instance, s, id.id, id.len, p);
    unlock(c);
    return APR_STATUS_IS_NOTFOUND(rv) ? APR_SUCCESS
                                      : failed(c, s, rv, "delete a record");
}

/* With a mutex (shmcb, dbm) this is atomic. memcache and redis have no
 * mutex, and retrieve + remove is not atomic across processes or servers;
 * what keeps a value single-use there is that the remove (memcached
 * "delete", redis DEL) reports NOT_FOUND to every taker but the first, and
 * those others get APR_NOTFOUND. Left open: a set of the same key landing
 * between one taker's retrieve and its remove. */
static apr_status_t sc_take(ao2_store_t *st, server_rec *s, const char *key,
                            apr_pool_t *p, char **val, apr_size_t *len)
{
    socache_store_t *c = (socache_store_t *)st;
    sc_id_t id;
    apr_status_t rv;

    if ((rv = make_id(c, key, p, &id)) != APR_SUCCESS ||
        (rv = lock(c, s)) != APR_SUCCESS) {
        return rv;
    }
    rv = retrieve(c, s, &id, p, val, len);
    if (rv == APR_SUCCESS) {
        /* A value that could not be consumed must not be handed out. */
        rv = c->provider->remove(c->instance, s, id.id, id.len, p);
    }
    unlock(c);
    if (rv != APR_SUCCESS) {
        *val = NULL;
        *len = 0;
    }
    return failed(c, s, rv, "take a record");
}

/* mod_socache_dbm's files (it hands them to the run user itself); the
 * other providers keep no file the run user opens. */
static void sc_paths(const ao2_store_t *st, apr_pool_t *p,
                     apr_array_header_t *out)
{
    const socache_store_t *c = (const socache_store_t *)st;
    const char *used1 = NULL, *used2 = NULL;

    if (c->file == NULL)
        return;
    apr_dbm_get_usednames(p, c->file, &used1, &used2);
    ao2_store_path_add(out, used1, AO2_PC_R | AO2_PC_W);
    ao2_store_path_add(out, used2, AO2_PC_R | AO2_PC_W);
}

static const char *sc_dir(const ao2_store_t *st, apr_pool_t *p)
{
    return NULL;
}

/* By the socache provider: shmcb is this server's shared memory, a cyclic
 * buffer; memcache and redis are other servers every httpd can share,
 * memcached one that evicts. A Redis that evicts or forgets on a restart is
 * its operator's choice (maxmemory-policy, persistence). */
static void sc_traits(const ao2_store_t *st, ao2_store_traits_t *t)
{
    const char *name = ((const socache_store_t *)st)->provider->name;

    t->shared = !strcmp(name, "memcache") || !strcmp(name, "redis");
    if (!strcmp(name, "shmcb"))
        t->loses = "loses every record when httpd stops (a restart that is "
                   "not graceful) and pushes the oldest out when its memory "
                   "is full";
    else if (!strcmp(name, "memcache"))
        t->loses = "loses records when memcached runs out of memory (it "
                   "evicts) or restarts";
    else
        t->loses = NULL;
}

const ao2_store_type_t ao2_store_socache = {
    "socache", sc_create, sc_init,  sc_child_init, sc_get,    sc_set,
    sc_remove, sc_take,   sc_paths, sc_dir,        sc_traits,
};
