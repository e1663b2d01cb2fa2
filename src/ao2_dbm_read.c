#include "ao2_dbm_read.h"

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <gdbm.h>
#include <stdlib.h>
#include <string.h>

/* A read that overlapped a write is tried again this often (with a fresh
 * handle) before the caller is sent to the mutex. */
#define READ_TRIES 2

#define LOAD(p)   __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define ADD(p, n) __atomic_add_fetch((p), (n), __ATOMIC_SEQ_CST)
#define FENCE()   __atomic_thread_fence(__ATOMIC_SEQ_CST)

void ao2_dbm_changes_init(ao2_dbm_changes_t *c)
{
    __atomic_store_n(&c->writing, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&c->count, 0, __ATOMIC_SEQ_CST);
}

/* A count, not a flag: writers of two configuration generations (a
 * graceful restart) hold different mutexes and may overlap here; gdbm's
 * own lock then orders their writes to the file. */
void ao2_dbm_write_begin(ao2_dbm_changes_t *c)
{
    ADD(&c->writing, 1);
}

/* The count moves before writing drops: a reader that saw writing at 0
 * both times and the same count read no half-written file. */
void ao2_dbm_write_end(ao2_dbm_changes_t *c)
{
    ADD(&c->count, 1);
    ADD(&c->writing, (apr_uint32_t)-1);
}

int ao2_dbm_read_begin(const ao2_dbm_changes_t *c, apr_uint32_t *seen)
{
    *seen = LOAD(&c->count);
    return LOAD(&c->writing) == 0;
}

int ao2_dbm_read_still(const ao2_dbm_changes_t *c, apr_uint32_t seen)
{
    /* The reads of the file before the loads below. */
    FENCE();
    return LOAD(&c->writing) == 0 && LOAD(&c->count) == seen;
}

struct ao2_dbm_reader {
    const char *path;
    ao2_dbm_changes_t *changes;
    apr_threadkey_t *key; /* -> this thread's handle_t */
};

typedef struct handle {
    GDBM_FILE db;      /* NULL: not open */
    apr_uint32_t seen; /* the count when it was opened */
} handle_t;

static void handle_close(handle_t *h)
{
    if (h->db)
        gdbm_close(h->db);
    h->db = NULL;
}

/* At the end of a thread that read. */
static void handle_free(void *data)
{
    handle_t *h = data;

    handle_close(h);
    free(h);
}

/* With the pool: the handle of the thread that clears it (the others
 * closed theirs when they ended), and the key. */
static apr_status_t reader_cleanup(void *data)
{
    ao2_dbm_reader_t *r = data;
    void *h = NULL;

    if (apr_threadkey_private_get(&h, r->key) == APR_SUCCESS && h) {
        apr_threadkey_private_set(NULL, r->key);
        handle_free(h);
    }
    apr_threadkey_private_delete(r->key);
    return APR_SUCCESS;
}

apr_status_t ao2_dbm_reader_create(ao2_dbm_reader_t **r, const char *path,
                                   ao2_dbm_changes_t *c, apr_pool_t *p)
{
    ao2_dbm_reader_t *rd = apr_pcalloc(p, sizeof(*rd));
    apr_status_t rv;

    rd->path = apr_pstrdup(p, path);
    rd->changes = c;
    rv = apr_threadkey_private_create(&rd->key, handle_free, p);
    if (rv != APR_SUCCESS)
        return rv;
    apr_pool_cleanup_register(p, rd, reader_cleanup, apr_pool_cleanup_null);
    *r = rd;
    return APR_SUCCESS;
}

static handle_t *this_thread(ao2_dbm_reader_t *r)
{
    void *data = NULL;
    handle_t *h;

    if (apr_threadkey_private_get(&data, r->key) == APR_SUCCESS && data)
        return data;
    h = calloc(1, sizeof(*h));
    if (h && apr_threadkey_private_set(h, r->key) != APR_SUCCESS) {
        free(h);
        h = NULL;
    }
    return h;
}

/* Without gdbm's lock (it would keep writers out for as long as the handle
 * is open), without mmap (a file cut short under a mapping is SIGBUS), and
 * not inherited by CGI children. */
static int handle_open(ao2_dbm_reader_t *r, handle_t *h, apr_uint32_t seen)
{
    handle_close(h);
    h->db = gdbm_open(r->path, 0,
                      GDBM_READER | GDBM_NOLOCK | GDBM_NOMMAP | GDBM_CLOEXEC, 0,
                      NULL);
    h->seen = seen;
    return h->db != NULL;
}

apr_status_t ao2_dbm_reader_get(ao2_dbm_reader_t *r, const char *key,
                                apr_size_t klen, apr_pool_t *p, char **val,
                                apr_size_t *len)
{
    handle_t *h = this_thread(r);
    apr_uint32_t seen;
    datum k, v;
    int tries, missing;

    if (h == NULL)
        return APR_EAGAIN;
    k.dptr = (char *)key;
    k.dsize = (int)klen;
    for (tries = 0; tries < READ_TRIES; tries++) {
        if (!ao2_dbm_read_begin(r->changes, &seen))
            return APR_EAGAIN;
        if ((h->db == NULL || h->seen != seen) && !handle_open(r, h, seen))
            return APR_EAGAIN;
        v = gdbm_fetch(h->db, k);
        missing =
            v.dptr == NULL && gdbm_last_errno(h->db) == GDBM_ITEM_NOT_FOUND;
        if (!ao2_dbm_read_still(r->changes, seen)) {
            free(v.dptr);
            handle_close(h);
            continue;
        }
        if (v.dptr == NULL) {
            if (missing)
                return APR_NOTFOUND;
            /* Whatever it was, the next read starts from a new handle. */
            handle_close(h);
            return APR_EAGAIN;
        }
        *len = (apr_size_t)v.dsize;
        *val = apr_palloc(p, *len + 1);
        memcpy(*val, v.dptr, *len);
        (*val)[*len] = '\0';
        free(v.dptr);
        return APR_SUCCESS;
    }
    return APR_EAGAIN;
}
