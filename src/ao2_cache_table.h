/* The shm cache's table, apart from the shared memory that holds it: it
 * works on any block of memory the caller provides, so the unit tests run
 * it on plain memory and the shm back-end on a segment every httpd process
 * maps. No allocation, no pool, no httpd header. */
#ifndef AO2_CACHE_TABLE_H
#define AO2_CACHE_TABLE_H

#include <apr.h>
#include <apr_errno.h>

/* Equal to AO2_CACHE_MAX_KEY and _VALUE (ao2_cache_shm.c checks); this
 * header stays free of ao2_cache.h. Multiples of 8, at most 65535. */
#define AO2_CACHE_TABLE_MAX_KEY     64
#define AO2_CACHE_TABLE_MAX_VALUE   512
#define AO2_CACHE_TABLE_WAYS        16 /* entries per set */
#define AO2_CACHE_TABLE_MIN_ENTRIES 64
#define AO2_CACHE_TABLE_MAX_ENTRIES (1u << 20)

typedef struct ao2_cache_table ao2_cache_table_t;

/* Bytes a table of that many entries needs (rounded up to whole sets), or 0
 * when entries is out of [MIN_ENTRIES, MAX_ENTRIES]. */
apr_size_t ao2_cache_table_size(apr_uint32_t entries);

/* Formats mem (at least ao2_cache_table_size(entries) bytes, which leaves
 * room to align it to a cache line, so any address does) as an empty
 * table. seed keys the set hash, so that nobody who does not
 * know it can aim keys at one set. The locks live in mem and are usable
 * from every process that maps it; they need no destroying (see the .c). */
apr_status_t ao2_cache_table_init(ao2_cache_table_t **t, void *mem,
                                  apr_size_t size, apr_uint32_t entries,
                                  apr_uint64_t seed);

/* Entries the table holds (entries rounded up to whole sets). */
apr_uint32_t ao2_cache_table_capacity(const ao2_cache_table_t *t);

typedef struct ao2_cache_table_stats {
    apr_uint64_t evictions; /* live entries dropped to make room */
    apr_uint64_t repairs;   /* sets emptied after a writer died in them */
} ao2_cache_table_stats_t;

/* Which set (of capacity / WAYS) a key falls in; for tests and tools. */
apr_uint32_t ao2_cache_table_set_index(const ao2_cache_table_t *t,
                                       const char *key, apr_size_t klen);

/* Since init, over every process. */
void ao2_cache_table_stats(const ao2_cache_table_t *t,
                           ao2_cache_table_stats_t *st);

/* now and expiry are seconds on one clock (the caller's); an entry lives
 * while now < expiry. Keys are 1..AO2_CACHE_TABLE_MAX_KEY bytes, else
 * APR_EINVAL.
 *
 * get: copies at most *len bytes into buf and sets *len to the value's
 * length; APR_NOTFOUND when absent or expired, and also when a writer held
 * the set for too long (a miss is always allowed). */
apr_status_t ao2_cache_table_get(ao2_cache_table_t *t, const char *key,
                                 apr_size_t klen, char *buf, apr_size_t *len,
                                 apr_int64_t now);
/* Replaces any value under key. A value longer than
 * AO2_CACHE_TABLE_MAX_VALUE is refused with APR_ENOSPC, and an expiry not
 * after now stores nothing (APR_SUCCESS); both remove what was there, so no
 * older value outlives a set. */
apr_status_t ao2_cache_table_set(ao2_cache_table_t *t, const char *key,
                                 apr_size_t klen, const char *val,
                                 apr_size_t len, apr_int64_t expiry,
                                 apr_int64_t now);
/* Stores only when no live value is under key, as one step for every
 * process: APR_SUCCESS, or APR_EEXIST and nothing changed. APR_ENOSPC for
 * an oversized value, APR_EINVAL for an expiry not after now. */
apr_status_t ao2_cache_table_add(ao2_cache_table_t *t, const char *key,
                                 apr_size_t klen, const char *val,
                                 apr_size_t len, apr_int64_t expiry,
                                 apr_int64_t now);
/* A count shared by every process: advance 1 moves it on and returns the
 * new value, 0 reads it. */
apr_uint32_t ao2_cache_table_forgets(ao2_cache_table_t *t, int advance);
/* APR_SUCCESS whether or not the key was there. */
apr_status_t ao2_cache_table_remove(ao2_cache_table_t *t, const char *key,
                                    apr_size_t klen);

#endif
