#include "ao2_lock.h"

#include <apr_strings.h>
#include <string.h>
#include <unistd.h>

#include "ao2_metrics.h"

#define POLL_FIRST apr_time_from_msec(2)
#define POLL_MAX   apr_time_from_msec(50)

void ao2_lock_key(ao2_lock_t *lk, const ao2_keys_t *keys, const char *prefix,
                  const char *name, apr_size_t len)
{
    unsigned char mac[AO2_SHA256_LEN];

    memset(lk, 0, sizeof(*lk));
    /* A MAC key of its own, not a plain hash: the lock of a known token or
     * identity cannot be computed without ApiOAuth2StoreKey. */
    ao2_hmac_sha256(keys->mac[AO2_MAC_LOCK], sizeof(keys->mac[AO2_MAC_LOCK]),
                    prefix, 4, name, len, mac);
    memcpy(lk->key, prefix, 4);
    lk->key[4] = ':';
    ao2_digest_b64url_into(mac, lk->key + 5);
}

/* The holder's failure recorded in the entry ("F503"), or 0. */
static int failure_of(const char *v, apr_size_t len)
{
    int status = 0;
    apr_size_t i;

    if (len != 4 || v[0] != 'F')
        return 0;
    for (i = 1; i < 4; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        status = status * 10 + (v[i] - '0');
    }
    return status >= 500 && status <= 599 ? status : 0;
}

static int held_failure(ao2_cache_t *c, const ao2_lock_t *lk)
{
    char v[AO2_LOCK_VALUE_LEN + 1];
    apr_size_t len = sizeof(v);

    if (c->type->get(c, lk->key, AO2_LOCK_KEY_LEN, v, &len) != APR_SUCCESS)
        return 0;
    return failure_of(v, len);
}

/* A value no other holder of the lock has: a random base drawn once per
 * thread (again in a forked child), plus the thread's counter. Unique is
 * all it must be: it only tells the holder's entry from another's at
 * release, and whoever can read memcached sees it anyway. A CSPRNG call per
 * lookup cost more than the rest of taking the lock. */
static int lock_value(char out[AO2_LOCK_VALUE_LEN + 1])
{
    static __thread apr_uint64_t base, counter;
    static __thread pid_t base_pid;
    apr_uint64_t v;
    int i;

    if (base_pid != getpid()) {
        if (ao2_random_bytes(&base, sizeof(base)) != APR_SUCCESS)
            return 0;
        base_pid = getpid();
    }
    v = base + counter++;
    out[0] = 'L';
    for (i = 0; i < 16; i++)
        out[1 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
    out[AO2_LOCK_VALUE_LEN] = '\0';
    return 1;
}

apr_status_t ao2_lock_take(ao2_cache_t *c, ao2_lock_t *lk, int ttl,
                           apr_interval_time_t wait, int (*done)(void *),
                           void *baton)
{
    apr_time_t deadline = apr_time_now() + wait;
    apr_interval_time_t poll = POLL_FIRST;
    ao2_metric_wait_e end = AO2_MW_ACQUIRED;
    int waited = 0, in_room = 0;

    lk->failed = lk->full = 0;
    if (!lock_value(lk->value))
        return lk->rv = APR_EGENERAL;
    while ((lk->rv = c->type->add(c, lk->key, AO2_LOCK_KEY_LEN, lk->value,
                                  AO2_LOCK_VALUE_LEN, ttl)) == APR_EEXIST) {
        waited = 1;
        if ((lk->failed = held_failure(c, lk)) != 0) {
            end = AO2_MW_FAILURE;
            break;
        }
        if (lk->room && !in_room && !(in_room = ao2_gate_enter(lk->room))) {
            /* Not a wait: answered at once. */
            lk->full = 1;
            waited = 0;
            break;
        }
        if (apr_time_now() >= deadline) {
            end = AO2_MW_TIMEOUT;
            break;
        }
        apr_sleep(poll);
        if (done && done(baton)) {
            end = AO2_MW_APPEARED;
            break;
        }
        poll = poll * 2 > POLL_MAX ? POLL_MAX : poll * 2;
    }
    if (in_room)
        ao2_gate_leave(lk->room);
    /* Only waits: a lock taken at once costs nothing here. */
    if (waited)
        ao2_metrics_lock_wait(memcmp(lk->key, AO2_LOCK_REFRESH_PREFIX, 4) == 0
                                  ? AO2_ML_REFRESH
                                  : AO2_ML_LOOKUP,
                              end, apr_time_now() - (deadline - wait));
    return lk->rv;
}

void ao2_lock_release(ao2_cache_t *c, const ao2_lock_t *lk, int failure,
                      int fail_ttl)
{
    char v[AO2_LOCK_VALUE_LEN + 1];
    apr_size_t len = sizeof(v);

    if (lk->rv != APR_SUCCESS)
        return;
    /* Not a compare-and-delete (the cache has none): the window is a lock
     * that expired under us and was taken between these two calls. A read
     * that fails (a miss and an error look the same) removes all the same:
     * a lock left behind would hold every waiter to its deadline. */
    if (c->type->get(c, lk->key, AO2_LOCK_KEY_LEN, v, &len) == APR_SUCCESS &&
        (len != AO2_LOCK_VALUE_LEN || memcmp(v, lk->value, len) != 0))
        return;
    if (failure >= 500 && failure <= 599 && fail_ttl > 0) {
        apr_snprintf(v, sizeof(v), "F%03d", failure);
        /* Taken anew rather than overwritten: a lock may live in more than
         * one place (memcache: node-wide and cluster-wide,
         * ao2_cache_memcache.c), and a set reaches only one of them. */
        c->type->remove(c, lk->key, AO2_LOCK_KEY_LEN);
        c->type->add(c, lk->key, AO2_LOCK_KEY_LEN, v, 4, fail_ttl);
        return;
    }
    c->type->remove(c, lk->key, AO2_LOCK_KEY_LEN);
}
