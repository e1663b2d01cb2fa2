/* The one lock primitive: a short entry in the validation cache, taken with
 * the back-end's atomic add, shared by every process (and every server with
 * memcache). It serves the single flight of Bearer lookups
 * (ao2_validate.c) and the refresh lock (ao2_endpoints.c).
 *
 * - Keys are HMACs under a key derived from ApiOAuth2StoreKey: nobody who
 *   can write to memcached can compute, and so plant, the lock of a token
 *   or of an identity.
 * - The value names its holder (random): a waiter that gives up never
 *   removes a lock it does not hold.
 * - A holder whose work failed can leave the failure in the entry for a
 *   moment: waiters and callers arriving meanwhile answer it at once
 *   instead of each trying the failing provider in turn.
 * - Waiters poll with a backoff (2 ms doubling to 50 ms) and give up at a
 *   deadline. A lock can bound how many wait for it (a waiting room): the
 *   others do not wait at all. Pure: no httpd, unit-tested with a fake cache.
 */
#ifndef AO2_LOCK_H
#define AO2_LOCK_H

#include <apr_time.h>

#include "ao2_cache.h"
#include "ao2_crypto.h"
#include "ao2_gate.h"

#define AO2_LOCK_KEY_LEN (5 + AO2_SHA256_B64URL_LEN)
/* The refresh lock's prefix; waits for it are counted apart from the
 * others' (the Bearer lookups' single flight) in the metrics. */
#define AO2_LOCK_REFRESH_PREFIX "ao2r"

#define AO2_LOCK_VALUE_LEN 17 /* 'L' and 16 hex digits, or "F" + status */

typedef struct ao2_lock {
    char key[AO2_LOCK_KEY_LEN + 1];
    char value[AO2_LOCK_VALUE_LEN + 1]; /* ours, when taken */
    apr_status_t rv; /* APR_SUCCESS ours; APR_EEXIST another's; else no cache */
    int failed;      /* with APR_EEXIST: the holder's failure (HTTP status) */
    /* Set after ao2_lock_key, NULL: any number wait. A waiter must get in
     * before it waits (ao2_gate.h); one that cannot returns at once with
     * APR_EEXIST and full set. */
    const ao2_gate_t *room;
    int full;
} ao2_lock_t;

/* The key of the lock for name (a token, a record key) under a 4-character
 * prefix such as "ao2l". */
void ao2_lock_key(ao2_lock_t *lk, const ao2_keys_t *keys, const char *prefix,
                  const char *name, apr_size_t len);

/* Takes the lock for ttl seconds. While another holds it, waits until wait
 * has passed, the holder leaves a failure, or done(baton) returns 1 (what
 * the holder was to produce has appeared); not at all when lk->room is
 * full. Returns lk->rv. */
apr_status_t ao2_lock_take(ao2_cache_t *c, ao2_lock_t *lk, int ttl,
                           apr_interval_time_t wait, int (*done)(void *),
                           void *baton);

/* Ours only: removed, or, with failure (an HTTP status), left holding it
 * for fail_ttl seconds. The entry is read first and kept when it is no
 * longer ours (it expired and someone else took it). */
void ao2_lock_release(ao2_cache_t *c, const ao2_lock_t *lk, int failure,
                      int fail_ttl);

#endif
