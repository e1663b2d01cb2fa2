/* The cluster revocation log: how a revoke or refresh on one server reaches
 * every other server within a bound, and why nothing revoked validates
 * again on a node that has learned it, whatever old values are written
 * back into memcached afterwards.
 *
 * In the shared cache (memcached): a counter, the generation, that only
 * grows (incr; created at the current time in microseconds, so that a
 * counter lost with a memcached restart comes back higher than any value
 * seen before), and per generation an entry naming one buried token (its
 * hash, until when), MACed under a key derived from ApiOAuth2StoreKey and
 * the entry's own key, written once (add), never over.
 *
 * On each node, in shared memory every process maps:
 * - the tombstones learned, kept until the tokens would have expired;
 * - the generation learned; a counter read lower than it (put back: a
 *   writer that learned less may write below it) is a gap, and the
 *   entries after it are read anyway; one further ahead of the clock than
 *   AO2_REVLOG_AHEAD is forged: never learned, it is reset, and until it
 *   reads right nothing cached answers here (the log counts as lost);
 * - an epoch that moves whenever a tombstone is learned: a node-local copy
 *   of a verdict made at the epoch now current cannot name a token learned
 *   since, so it answers without looking anything up;
 * - a floor: verdicts in memcached stamped with a generation below it were
 *   made before something this node could not learn (entries evicted,
 *   memcached restarted, this node just started), so they count as misses.
 *   A node's first read writes an entry naming no token (a mark) and takes
 *   its generation as the floor: whatever the counter was put back to, no
 *   verdict made before the node started is believed there.
 *
 * The tombstones also go to a file (ao2_journal.h) that a restart reads
 * back, so what a node learned outlives its shared memory.
 *
 * One request per node reads the log at most every interval (the others go
 * on meanwhile). Pure: no httpd; unit-tested with a fake cache on plain
 * memory. */
#ifndef AO2_REVLOG_H
#define AO2_REVLOG_H

#include <apr_pools.h>
#include <apr_time.h>

#include "ao2_cache.h"
#include "ao2_crypto.h"

typedef struct ao2_revlog ao2_revlog_t;

/* Level (httpd's APLOG_* numbers), status, message without secrets. */
typedef void (*ao2_revlog_log_fn)(void *baton, int level, apr_status_t rv,
                                  const char *msg);

/* What one Bearer check works with, read once at its start. */
typedef struct ao2_revlog_view {
    apr_uint32_t epoch;   /* stamp of the node-local copies made now */
    apr_uint32_t flushed; /* node-local copies stamped below: misses */
    apr_uint64_t gen;     /* stamp of the memcached verdicts made now */
    apr_uint64_t floor;   /* memcached verdicts stamped below: misses */
    int fresh; /* the log was read lately: node-local copies may answer */
} ao2_revlog_view_t;

/* Bytes of shared memory for that many tombstones, 0 when out of range. */
apr_size_t ao2_revlog_size(apr_uint32_t tombstones);

/* Formats mem (ao2_revlog_size bytes; made before the children fork) and
 * makes this process's handle in p. cache: the shared cache (its incr,
 * put_new, get). interval: how often a node reads the log at most. */
apr_status_t ao2_revlog_init(ao2_revlog_t **rl, apr_pool_t *p, void *mem,
                             apr_size_t size, apr_uint32_t tombstones,
                             apr_uint64_t seed, ao2_cache_t *cache,
                             const ao2_keys_t *keys,
                             apr_interval_time_t interval);

/* Reads the log first when it is due (one caller per node at a time), then
 * fills *v. now: apr_time_now()'s clock. */
void ao2_revlog_view(ao2_revlog_t *rl, apr_time_t now, ao2_revlog_log_fn log,
                     void *baton, ao2_revlog_view_t *v);

/* 1 when this node knows hash (base64url SHA-256 of a token) as buried. */
int ao2_revlog_buried(ao2_revlog_t *rl, const char *hash, apr_int64_t now_sec);

/* A token buried here (revoked, refreshed away) until until (Unix
 * seconds): known to every process of this node at once, then written to
 * the log for the others. */
void ao2_revlog_bury(ao2_revlog_t *rl, const char *hash, apr_int64_t until,
                     apr_time_t now, ao2_revlog_log_fn log, void *baton);

/* From now on every tombstone learned is also written to the journal fd
 * (ao2_journal.h; opened for reading and writing), after what it holds
 * was read back into the table. Once, before the children fork. Returns
 * how many live tombstones were read back. */
apr_uint32_t ao2_revlog_journal(ao2_revlog_t *rl, int fd, apr_int64_t now_sec);

/* How long after a revoke elsewhere this node refuses the token at most,
 * leaving out memcached's own round trips: the local copies answer only
 * while the log was read successfully this recently. */
apr_interval_time_t ao2_revlog_bound(const ao2_revlog_t *rl);

#endif
