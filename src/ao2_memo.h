/* A connection's last good verdict: a keep-alive client sends the same
 * token on every request, and the memo answers it again without hashing
 * the token or reading the cache.
 *
 * It stands in for a node-local cache tier (shm, or memcache's node-local
 * copy) and holds only as long as that tier would answer the same:
 * - the same token (compared in constant time) at the same location
 *   binding;
 * - no verdict forgotten in that tier since the memo was made (its forget
 *   count unchanged: every revoke and refresh forgets), and, with a
 *   revocation log, no tombstone learned since (its epoch unchanged) and
 *   the log read lately;
 * - at most until the verdict expires, and for the second it was made in
 *   (AO2_MEMO_SECONDS): a verdict the tier drops at the end of its TTL is
 *   not kept here much longer.
 * One memo per connection, used by one thread at a time; its buffers live
 * in the connection's pool and grow at most to the largest token. Pure: no
 * httpd. */
#ifndef AO2_MEMO_H
#define AO2_MEMO_H

#include <apr_pools.h>

#include "ao2_verdict.h"

/* Seconds a memo is believed after it was made, in whole seconds of the
 * caller's clock: 1 ends it when that second does. */
#define AO2_MEMO_SECONDS 1

typedef struct ao2_memo ao2_memo_t;

/* What a memo holds for: the tier's state when the check that made it
 * started (read before any lookup, so a forget or a tombstone during the
 * check makes the memo stale at once). */
typedef struct ao2_memo_stamp {
    /* The location binding's id (ao2_binding_t.id, AO2_SHA256_B64URL_LEN
     * characters): compared by content, since a binding made per request
     * (ao2_dir_binding) may come back at another location's old address. */
    const char *binding;
    apr_uint32_t forgets; /* the tier's forget count */
    apr_uint32_t epoch;   /* the revocation log's epoch; 0 without one */
} ao2_memo_stamp_t;

ao2_memo_t *ao2_memo_make(apr_pool_t *p);

/* 1 and *v filled (its strings point into the memo, valid until the next
 * ao2_memo_put) when the memo holds a good verdict of token under st at
 * now (Unix seconds). */
int ao2_memo_get(const ao2_memo_t *m, const ao2_memo_stamp_t *st,
                 const char *token, apr_size_t len, apr_int64_t now,
                 ao2_verdict_t *v);

/* Keeps v, a good verdict of token reached at now under st; a verdict
 * whose strings do not fit (AO2_VERDICT_MAX) or a token over 4 KiB leaves
 * the memo empty. */
void ao2_memo_put(ao2_memo_t *m, const ao2_memo_stamp_t *st, const char *token,
                  apr_size_t len, apr_int64_t now, const ao2_verdict_t *v);

#endif
