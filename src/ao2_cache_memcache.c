/* The shared cache: memcached servers through libmemcached, so that several
 * httpd servers see one cache (a revoke on one purges it for all).
 *
 * A memcached_st is not thread-safe. Each child process has a pool
 * (libmemcachedutil) of clones of one configured handle, as many as the MPM
 * has threads per child, so a request thread always finds one free; each
 * call takes one, uses it alone and gives it back.
 *
 * The cache is an optimisation in front of the token store: when memcached
 * is slow or gone, a Bearer check must go on, a little slower, not hang. So
 * the timeouts are short, every error is a miss (get) or ignored and
 * counted (set, remove, add), and a failing server is left alone for a few
 * seconds rather than tried on every request:
 *
 * - libmemcached's own back-off (RETRY_TIMEOUT) covers a server that
 *   refuses connections, but each pooled handle learns it on its own, and
 *   it does nothing for a server that accepts connections and never
 *   answers (hung, stopped, partitioned after the handshake): the handle
 *   reconnects, which succeeds, and every request waits out the poll
 *   timeout again. Hence a small breaker per server and process in front
 *   of it: after a connection-level failure the process keeps away from
 *   that server for BREAK_SECONDS, then lets one request try it.
 * - A failed server's keys are not moved to the others (no
 *   REMOVE_FAILED_SERVERS). Ejection is decided per handle, so handles of
 *   one process, and other httpd servers, would disagree on where a key
 *   lives: a revoke's delete could go to one server while a stale verdict
 *   is still read from another. Without it, a dead server's share of the
 *   keys would just miss until it is back.
 * - A miss is not free, though: a rejected token whose negative verdict
 *   lived on the dead server would cost a provider call on every request,
 *   and concurrent first requests would lose their single flight. So while
 *   a key's server is failing, its operations go to a small node-local
 *   shared-memory table instead (the outage table), with every entry
 *   capped at OUTAGE_TTL: a revoke elsewhere cannot reach this node while
 *   the server is away, and a verdict kept here must not outlive the
 *   cross-server revocation bound. A get that misses in memcached looks
 *   there too: a set that failed may have put the value there while the
 *   server is, for this process, still up. Locks (add) are taken there
 *   always, and in memcached too when it answers (see mc_add). */
#include "ao2_cache.h"

#include <httpd.h>
#include <http_config.h>

#include <http_log.h>
#include <ap_mpm.h>

#include <apr_atomic.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include <libmemcached/memcached.h>
#include <libmemcached/util.h>

#include <errno.h>
#include <stdlib.h>
#include <time.h>

APLOG_USE_MODULE(api_oauth2);

/* libmemcached counts connect and poll timeouts in milliseconds, socket
 * send and receive timeouts in microseconds. */
#define CONNECT_TIMEOUT_MS 100
#define IO_TIMEOUT_MS      150
/* A lock (add) is on the slow path (a refresh, a first-seen token) and its
 * loss costs more than a wait: a refresh lock that times out on a busy
 * memcached would let two servers spend one rotating refresh token. So an
 * add waits this long for its answer; a server that does not answer then is
 * left alone by the breaker like any other. */
#define LOCK_IO_TIMEOUT_MS 1000
/* libmemcached, per handle: failures before it stops connecting to a
 * server, and the seconds before it tries again. */
#define FAILURE_LIMIT 2
#define RETRY_SECONDS 2
/* The breaker: seconds a process keeps away from a failing server, and
 * how long the one request that tries it again has before another may. */
#define BREAK_SECONDS 2
#define PROBE_SECONDS 1
/* The pool has a handle per thread, so waiting should never happen. The
 * library anchors this wait on whole seconds (time(NULL)), so it is at
 * most this long, maybe less: a miss either way. */
#define POOL_WAIT_NS (20 * 1000 * 1000)
/* memcached reads an expiry above 30 days as an absolute time. */
#define MAX_TTL (30 * 24 * 3600)
/* Seconds an entry kept in the outage table lives at most: SPEC's bound on
 * how late a revoke on another server may count. */
#define OUTAGE_TTL     1
#define OUTAGE_ENTRIES "shm:4096"
#define MAX_KEY                                                                \
    (AO2_CACHE_MAX_KEY < MEMCACHED_MAX_KEY - 1 ? AO2_CACHE_MAX_KEY             \
                                               : MEMCACHED_MAX_KEY - 1)

typedef struct mc_server {
    const char *host;
    apr_port_t port;
} mc_server_t;

typedef struct mc_cache {
    ao2_cache_t base;
    apr_array_header_t *servers; /* of mc_server_t */
    /* Per server, in the order given (libmemcached's indices): the time
     * (time(NULL)) until which this process keeps away from it, 0 when it
     * is fine. Each child has its own copy. */
    apr_uint32_t *down_until;
    /* Node-local stand-in for keys whose server is failing. */
    ao2_cache_t *outage;
    /* Per child, from child_init to pchild's cleanup. */
    server_rec *s;
    memcached_st *master;
    memcached_pool_st *pool;
    /* This process's trouble, for the log at its exit. */
    apr_uint32_t no_handle, get_errors, set_errors, remove_errors, add_errors;
} mc_cache_t;

static const char *parse_server(apr_pool_t *p, const char *word,
                                mc_server_t *sv)
{
    const char *colon, *h;
    char *end;
    apr_int64_t port;
    const char *usage = "memcache cache: \"%s\" is not HOST:PORT "
                        "(memcache:HOST:PORT[,HOST:PORT...])";

    /* [v6]:port, or host:port where host has no ':'. */
    if (*word == '[') {
        const char *close = strchr(word, ']');
        if (!close || close == word + 1 || close[1] != ':') {
            return apr_psprintf(p, usage, word);
        }
        sv->host = apr_pstrmemdup(p, word + 1, close - word - 1);
        colon = close + 1;
        for (h = sv->host; *h; h++) {
            if (!apr_isxdigit(*h) && *h != ':' && *h != '.') {
                return apr_psprintf(p, usage, word);
            }
        }
    } else {
        colon = strchr(word, ':');
        if (!colon || colon == word || strchr(colon + 1, ':')) {
            return apr_psprintf(p, usage, word);
        }
        sv->host = apr_pstrmemdup(p, word, colon - word);
        for (h = sv->host; *h; h++) {
            if (!apr_isalnum(*h) && *h != '.' && *h != '-' && *h != '_') {
                return apr_psprintf(p, usage, word);
            }
        }
    }
    errno = 0;
    port = apr_isdigit(colon[1]) ? apr_strtoi64(colon + 1, &end, 10) : -1;
    if (port < 1 || port > 65535 || errno || *end) {
        return apr_psprintf(p, "memcache cache: bad port in \"%s\"", word);
    }
    sv->port = (apr_port_t)port;
    return NULL;
}

static const char *mc_create(ao2_cache_t **c, const char *arg,
                             apr_pool_t *pconf)
{
    mc_cache_t *mc = apr_pcalloc(pconf, sizeof(*mc));
    const char *word = arg, *comma, *err;

    if (!*arg) {
        return "memcache cache needs servers: "
               "memcache:HOST:PORT[,HOST:PORT...]";
    }
    mc->servers = apr_array_make(pconf, 2, sizeof(mc_server_t));
    do {
        comma = strchr(word, ',');
        err = parse_server(
            pconf, comma ? apr_pstrmemdup(pconf, word, comma - word) : word,
            apr_array_push(mc->servers));
        if (err) {
            return err;
        }
        word = comma + 1;
    } while (comma);
    mc->down_until =
        apr_pcalloc(pconf, mc->servers->nelts * sizeof(apr_uint32_t));
    err = ao2_cache_create(&mc->outage, OUTAGE_ENTRIES, pconf);
    if (err) {
        return err;
    }
    *c = &mc->base;
    return NULL;
}

static apr_status_t mc_init(ao2_cache_t *c, server_rec *s, apr_pool_t *pconf,
                            apr_pool_t *ptemp)
{
    mc_cache_t *mc = (mc_cache_t *)c;

    /* Connections belong to the children; the outage table is shared
     * memory, made here so that every child inherits it. */
    return mc->outage->type->init(mc->outage, s, pconf, ptemp);
}

static apr_status_t mc_cleanup(void *data)
{
    mc_cache_t *mc = data;

    if (mc->no_handle || mc->get_errors || mc->set_errors ||
        mc->remove_errors || mc->add_errors) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, mc->s,
                     "AO2K0011: memcache cache, this process: %u get, %u set, "
                     "%u remove, %u add errors, %u times no free handle; "
                     "non-zero counts mean memcached was slow or "
                     "unreachable: check the servers of ApiOAuth2Cache",
                     mc->get_errors, mc->set_errors, mc->remove_errors,
                     mc->add_errors, mc->no_handle);
    }
    /* Request threads are gone when pchild is destroyed. */
    if (mc->pool) {
        memcached_pool_destroy(mc->pool);
        mc->pool = NULL;
    }
    if (mc->master) {
        memcached_free(mc->master);
        mc->master = NULL;
    }
    return APR_SUCCESS;
}

static memcached_return_t configure(memcached_st *m, mc_cache_t *mc)
{
    static const struct {
        memcached_behavior_t flag;
        uint64_t value;
    } behaviors[] = {
        {MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1},
        /* ketama with MD5 (libketama's ring): keys are spread the same
         * way whatever order the servers are listed in, by every httpd
         * that lists them, and adding or dropping one moves only its
         * share. */
        {MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1},
        {MEMCACHED_BEHAVIOR_TCP_NODELAY, 1},
        {MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, CONNECT_TIMEOUT_MS},
        {MEMCACHED_BEHAVIOR_POLL_TIMEOUT, IO_TIMEOUT_MS},
        {MEMCACHED_BEHAVIOR_SND_TIMEOUT, IO_TIMEOUT_MS * 1000},
        {MEMCACHED_BEHAVIOR_RCV_TIMEOUT, IO_TIMEOUT_MS * 1000},
        {MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, FAILURE_LIMIT},
        {MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, RETRY_SECONDS},
    };
    memcached_return_t rc;
    apr_size_t i;
    int n;

    for (i = 0; i < sizeof(behaviors) / sizeof(behaviors[0]); i++) {
        rc = memcached_behavior_set(m, behaviors[i].flag, behaviors[i].value);
        if (memcached_failed(rc)) {
            return rc;
        }
    }
    for (n = 0; n < mc->servers->nelts; n++) {
        const mc_server_t *sv = &APR_ARRAY_IDX(mc->servers, n, mc_server_t);
        rc = memcached_server_add(m, sv->host, sv->port);
        if (memcached_failed(rc)) {
            return rc;
        }
    }
    return MEMCACHED_SUCCESS;
}

static apr_status_t mc_child_init(ao2_cache_t *c, server_rec *s,
                                  apr_pool_t *pchild)
{
    mc_cache_t *mc = (mc_cache_t *)c;
    memcached_return_t rc;
    int threads = 1;

    if (mc->pool) {
        return APR_SUCCESS;
    }
    mc->s = s;
    mc->outage->type->child_init(mc->outage, s, pchild);
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS ||
        threads < 1) {
        threads = 1;
    }
    /* Registered first, so it also tidies up after a failure below. */
    apr_pool_cleanup_register(pchild, mc, mc_cleanup, apr_pool_cleanup_null);

    mc->master = memcached_create(NULL);
    if (!mc->master) {
        return APR_ENOMEM;
    }
    rc = configure(mc->master, mc);
    if (memcached_failed(rc)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "AO2K0012: cannot configure libmemcached for "
                     "ApiOAuth2Cache %s: %s; check the server list",
                     c->spec, memcached_last_error_message(mc->master));
        return APR_EGENERAL;
    }
    /* Clones are made as threads first need them, up to one per thread. */
    mc->pool = memcached_pool_create(mc->master, 1, (uint32_t)threads);
    if (!mc->pool) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "AO2K0013: cannot create a memcached pool of %d for "
                     "ApiOAuth2Cache %s (out of memory?)",
                     threads, c->spec);
        return APR_ENOMEM;
    }
    return APR_SUCCESS;
}

/* memcached keys: 1..250 bytes, no space or control character. */
static int key_ok(const char *key, apr_size_t klen)
{
    apr_size_t i;

    if (!key || klen == 0 || klen > MAX_KEY) {
        return 0;
    }
    for (i = 0; i < klen; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (ch <= 0x20 || ch >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* One operation: a handle of our own and the server the key lives on. */
typedef struct op {
    memcached_st *m;
    int server;
    apr_uint32_t now;
} op_t;

/* An operation memcached did not do: counted for this process's AO2K0011
 * line and in the metrics. */
static void failed(volatile apr_uint32_t *count, ao2_metric_op_e op)
{
    apr_atomic_inc32(count);
    ao2_metrics_cache_error(AO2_MT_MEMCACHE, op);
}

/* APR_SUCCESS with a handle to use, or the reason to behave as a miss. */
static apr_status_t op_begin(mc_cache_t *mc, const char *key, apr_size_t klen,
                             op_t *op)
{
    struct timespec wait = {0, POOL_WAIT_NS};
    memcached_return_t rc;
    apr_uint32_t until, i;

    if (!key_ok(key, klen)) {
        return APR_EINVAL;
    }
    if (!mc->pool) {
        return APR_EINIT;
    }
    if (!(op->m = memcached_pool_fetch(mc->pool, &wait, &rc))) {
        apr_atomic_inc32(&mc->no_handle);
        return APR_EAGAIN;
    }
    /* The server's index in the list; one server needs no hashing. */
    i = mc->servers->nelts > 1 ? memcached_generate_hash(op->m, key, klen) : 0;
    op->server = i < (apr_uint32_t)mc->servers->nelts ? (int)i : 0;
    op->now = (apr_uint32_t)time(NULL);

    until = apr_atomic_read32(&mc->down_until[op->server]);
    /* Broken: keep away until `until`, then one thread (the one whose
     * compare-and-swap moves it on) tries while the others keep away. */
    if (until != 0 &&
        (op->now < until ||
         apr_atomic_cas32(&mc->down_until[op->server], op->now + PROBE_SECONDS,
                          until) != until)) {
        memcached_pool_release(mc->pool, op->m);
        return APR_ECONNREFUSED;
    }
    return APR_SUCCESS;
}

/* Gives the handle back; rc opens or closes the server's breaker. */
static void op_end(mc_cache_t *mc, op_t *op, memcached_return_t rc)
{
    apr_uint32_t *until = &mc->down_until[op->server], was;
    const mc_server_t *sv =
        &APR_ARRAY_IDX(mc->servers, op->server, mc_server_t);

    /* memcached_fatal: the connection failed, not the command. */
    if (memcached_fatal(rc)) {
        /* Said as the breaker opens, and when the one request let through
         * after it fails again: meanwhile this process does not see what
         * memcached holds, so a lookup another process made may be made
         * again. */
        was = apr_atomic_xchg32(until, op->now + BREAK_SECONDS);
        if (was == 0 || was == op->now + PROBE_SECONDS)
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, mc->s,
                         "AO2K0014: memcached %s:%u failed (%s); this "
                         "process keeps away from it for %d s, the outage "
                         "table standing in",
                         sv->host, (unsigned)sv->port,
                         memcached_strerror(op->m, rc), BREAK_SECONDS);
        memcached_pool_release(mc->pool, op->m);
        return;
    }
    memcached_pool_release(mc->pool, op->m);
    if (apr_atomic_read32(until) != 0 && apr_atomic_xchg32(until, 0) != 0)
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, mc->s,
                     "AO2K0015: memcached %s:%u answers this process again",
                     sv->host, (unsigned)sv->port);
}

static apr_status_t mc_get(ao2_cache_t *c, const char *key, apr_size_t klen,
                           char *buf, apr_size_t *len)
{
    mc_cache_t *mc = (mc_cache_t *)c;
    memcached_return_t rc;
    apr_status_t rv;
    uint32_t flags;
    size_t vlen;
    char *v;
    op_t op;

    if ((rv = op_begin(mc, key, klen, &op)) != APR_SUCCESS) {
        if (rv == APR_EINVAL) {
            return rv;
        }
        /* Not asked (breaker open, no free handle): a get memcached did
         * not answer, for the metrics; the process counts only its own. */
        ao2_metrics_cache_error(AO2_MT_MEMCACHE, AO2_MO_GET);
        return mc->outage->type->get(mc->outage, key, klen, buf, len);
    }
    v = memcached_get(op.m, key, klen, &vlen, &flags, &rc);
    op_end(mc, &op, rc);
    if (!v) {
        if (rc != MEMCACHED_NOTFOUND) {
            failed(&mc->get_errors, AO2_MO_GET);
        }
        /* Also on a plain miss: a value whose set failed went to the
         * outage table while this process still reads memcached. */
        return mc->outage->type->get(mc->outage, key, klen, buf, len);
    }
    memcpy(buf, v, vlen < *len ? vlen : *len);
    *len = vlen;
    free(v); /* libmemcached's default allocator is malloc */
    return APR_SUCCESS;
}

static apr_status_t mc_remove(ao2_cache_t *c, const char *key, apr_size_t klen)
{
    mc_cache_t *mc = (mc_cache_t *)c;
    memcached_return_t rc;
    apr_status_t rv;
    op_t op;

    /* Always here too: this node's own revoke must purge what it kept
     * during an outage, whether or not the server is back. */
    mc->outage->type->remove(mc->outage, key, klen);
    if ((rv = op_begin(mc, key, klen, &op)) != APR_SUCCESS) {
        if (rv != APR_EINVAL) {
            failed(&mc->remove_errors, AO2_MO_REMOVE);
        }
        return rv;
    }
    rc = memcached_delete(op.m, key, klen, 0);
    op_end(mc, &op, rc);
    if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_NOTFOUND) {
        failed(&mc->remove_errors, AO2_MO_REMOVE);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static time_t expiry_of(int ttl_seconds)
{
    return (time_t)(ttl_seconds < MAX_TTL ? ttl_seconds : MAX_TTL);
}

static int outage_ttl(int ttl_seconds)
{
    return ttl_seconds < OUTAGE_TTL ? ttl_seconds : OUTAGE_TTL;
}

static apr_status_t mc_set(ao2_cache_t *c, const char *key, apr_size_t klen,
                           const char *val, apr_size_t len, int ttl_seconds)
{
    mc_cache_t *mc = (mc_cache_t *)c;
    memcached_return_t rc;
    apr_status_t rv;
    op_t op;

    /* memcached would keep a TTL of 0 forever: for us it means "do not
     * keep", and like a refused value it must not leave an older one. */
    if (ttl_seconds <= 0 || len > AO2_CACHE_MAX_VALUE) {
        rv = mc_remove(c, key, klen);
        return len > AO2_CACHE_MAX_VALUE ? APR_ENOSPC : rv;
    }
    if ((rv = op_begin(mc, key, klen, &op)) != APR_SUCCESS) {
        if (rv == APR_EINVAL) {
            return rv;
        }
        failed(&mc->set_errors, AO2_MO_SET);
        return mc->outage->type->set(mc->outage, key, klen, val, len,
                                     outage_ttl(ttl_seconds));
    }
    rc = memcached_set(op.m, key, klen, val, len, expiry_of(ttl_seconds), 0);
    op_end(mc, &op, rc);
    if (rc != MEMCACHED_SUCCESS) {
        failed(&mc->set_errors, AO2_MO_SET);
        return memcached_fatal(rc)
                   ? mc->outage->type->set(mc->outage, key, klen, val, len,
                                           outage_ttl(ttl_seconds))
                   : APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static apr_status_t mc_add(ao2_cache_t *c, const char *key, apr_size_t klen,
                           const char *val, apr_size_t len, int ttl_seconds)
{
    mc_cache_t *mc = (mc_cache_t *)c;
    memcached_return_t rc;
    apr_status_t rv;
    op_t op;

    if (ttl_seconds <= 0) {
        return APR_EINVAL;
    }
    if (len > AO2_CACHE_MAX_VALUE) {
        return APR_ENOSPC;
    }
    /* A lock is taken node-wide first, in the outage table, then
     * cluster-wide in memcached when it answers. Each process's breaker
     * judges memcached on its own: were the lock in one place or the other
     * by that judgement, two processes of one server could both hold it
     * (and refresh one rotating token twice). The node-wide entry keeps the
     * whole TTL: it is a lease, not a cached answer. */
    rv = mc->outage->type->add(mc->outage, key, klen, val, len, ttl_seconds);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = op_begin(mc, key, klen, &op)) != APR_SUCCESS) {
        if (rv == APR_EINVAL) {
            mc->outage->type->remove(mc->outage, key, klen);
            return rv;
        }
        failed(&mc->add_errors, AO2_MO_ADD);
        return APR_SUCCESS; /* node-wide only, while the server is away */
    }
    memcached_behavior_set(op.m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT,
                           LOCK_IO_TIMEOUT_MS);
    rc = memcached_add(op.m, key, klen, val, len, expiry_of(ttl_seconds), 0);
    memcached_behavior_set(op.m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT,
                           IO_TIMEOUT_MS);
    op_end(mc, &op, rc);
    switch (rc) {
        case MEMCACHED_SUCCESS:
            return APR_SUCCESS;
        /* The binary protocol says "exists", the text one "not stored". */
        case MEMCACHED_DATA_EXISTS:
        case MEMCACHED_NOTSTORED:
            mc->outage->type->remove(mc->outage, key, klen);
            return APR_EEXIST;
        default:
            failed(&mc->add_errors, AO2_MO_ADD);
            if (memcached_fatal(rc)) {
                return APR_SUCCESS; /* node-wide only */
            }
            mc->outage->type->remove(mc->outage, key, klen);
            return APR_EGENERAL;
    }
}

/* The revocation log's counter (ao2_revlog.c). No outage stand-in: a
 * counter only this node could see would tell the others nothing, so an
 * error is reported and the log says what that means. */
static apr_status_t mc_incr(ao2_cache_t *c, const char *key, apr_size_t klen,
                            apr_uint64_t delta, apr_uint64_t initial,
                            apr_uint64_t *value)
{
    mc_cache_t *mc = (mc_cache_t *)c;
    memcached_return_t rc;
    apr_status_t rv;
    uint64_t v = 0;
    op_t op;

    if ((rv = op_begin(mc, key, klen, &op)) != APR_SUCCESS) {
        return rv;
    }
    /* Expiry 0: the counter never expires (it may still be evicted, or
     * lost with a restart: the log reads that as a reset). */
    rc = memcached_increment_with_initial(op.m, key, klen, delta, initial, 0,
                                          &v);
    op_end(mc, &op, rc);
    if (rc != MEMCACHED_SUCCESS) {
        return APR_EGENERAL;
    }
    *value = v;
    return APR_SUCCESS;
}

/* A revocation log entry: memcached add, never the outage table (whose
 * entries are leases and short answers, not log entries). */
static apr_status_t mc_put_new(ao2_cache_t *c, const char *key, apr_size_t klen,
                               const char *val, apr_size_t len, int ttl_seconds)
{
    mc_cache_t *mc = (mc_cache_t *)c;
    memcached_return_t rc;
    apr_status_t rv;
    op_t op;

    if (ttl_seconds <= 0 || len > AO2_CACHE_MAX_VALUE) {
        return APR_EINVAL;
    }
    if ((rv = op_begin(mc, key, klen, &op)) != APR_SUCCESS) {
        return rv;
    }
    rc = memcached_add(op.m, key, klen, val, len, expiry_of(ttl_seconds), 0);
    op_end(mc, &op, rc);
    if (rc == MEMCACHED_DATA_EXISTS || rc == MEMCACHED_NOTSTORED) {
        return APR_EEXIST;
    }
    return rc == MEMCACHED_SUCCESS ? APR_SUCCESS : APR_EGENERAL;
}

/* No forget count: another server's forget never shows here. */
const ao2_cache_type_t ao2_cache_memcache = {
    "memcache", mc_create, mc_init, mc_child_init,   mc_get,  mc_set,
    mc_remove,  mc_add,    1,       AO2_MT_MEMCACHE, mc_incr, mc_put_new,
    NULL,
};
