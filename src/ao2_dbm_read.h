/* Lock-free reads of the token store's gdbm file.
 *
 * Writers (ao2_store_dbm.c) change the file under the store's global mutex
 * and announce every write in a small shared counter: "writing" while one
 * is under way, "count" bumped once it is done. A reader keeps one
 * read-only handle per thread (a gdbm handle is not thread-safe), opened
 * without gdbm's own lock so that it never blocks a writer, and reopens it
 * when the count has moved since it was opened: a handle caches the file's
 * directory and buckets, so an old one would not see the new records.
 * A read that overlapped a write (writing set, or the count moved during
 * it) is thrown away, as a seqlock reader would; the caller then asks
 * under the mutex. */
#ifndef AO2_DBM_READ_H
#define AO2_DBM_READ_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_pools.h>

/* In memory shared by every process that reads or writes the file. */
typedef struct ao2_dbm_changes {
    apr_uint32_t writing; /* writes under way */
    apr_uint32_t count;   /* writes done */
} ao2_dbm_changes_t;

void ao2_dbm_changes_init(ao2_dbm_changes_t *c);
/* Around every change of the file (store, delete, purge): begin before
 * opening it for writing, end after closing it. */
void ao2_dbm_write_begin(ao2_dbm_changes_t *c);
void ao2_dbm_write_end(ao2_dbm_changes_t *c);

/* Lock-free: 1 with *seen set when no write is under way, else 0. */
int ao2_dbm_read_begin(const ao2_dbm_changes_t *c, apr_uint32_t *seen);
/* Whether nothing was written since ao2_dbm_read_begin gave seen. */
int ao2_dbm_read_still(const ao2_dbm_changes_t *c, apr_uint32_t seen);

typedef struct ao2_dbm_reader ao2_dbm_reader_t;

/* The readers of one process for the gdbm file at path; handles are opened
 * on first use in each thread and closed when the thread ends. */
apr_status_t ao2_dbm_reader_create(ao2_dbm_reader_t **r, const char *path,
                                   ao2_dbm_changes_t *c, apr_pool_t *p);
/* The value of key as the file holds it, copied into p (with a NUL after
 * it), or APR_NOTFOUND. APR_EAGAIN: no answer without the writers' lock (a
 * write under way, a read overlapping one, a file that does not open or
 * read); the caller reads under the mutex. */
apr_status_t ao2_dbm_reader_get(ao2_dbm_reader_t *r, const char *key,
                                apr_size_t klen, apr_pool_t *p, char **val,
                                apr_size_t *len);

#endif
