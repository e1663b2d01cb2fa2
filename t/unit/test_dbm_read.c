/* ao2_dbm_read: lock-free reads of the store's gdbm file see every write
 * that was announced (by this process, another thread or another process,
 * with a handle already open), never block a writer, and never hand out a
 * half-written record. Writes go through apr_dbm, as ao2_store_dbm.c's do. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_dbm.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "ao2_dbm_read.h"
#include "tap.h"

static const char *fresh_path(apr_pool_t *p)
{
    char *dir = apr_pstrdup(p, "/tmp/ao2-dbm-read-XXXXXX");

    if (mkdtemp(dir) == NULL)
        return NULL;
    return apr_pstrcat(p, dir, "/tokens", NULL);
}

static void cleanup_path(apr_pool_t *p, const char *path)
{
    const char *u1 = NULL, *u2 = NULL;

    apr_dbm_get_usednames_ex(p, "gdbm", path, &u1, &u2);
    if (u1)
        unlink(u1);
    if (u2)
        unlink(u2);
    rmdir(apr_pstrndup(p, path, strrchr(path, '/') - path));
}

/* One announced write: value NULL deletes. 0 on success. */
static int put(apr_pool_t *p, ao2_dbm_changes_t *c, const char *path,
               const char *key, const char *value)
{
    apr_pool_t *tmp;
    apr_dbm_t *db;
    apr_datum_t k, v;
    apr_status_t rv;

    apr_pool_create(&tmp, p);
    ao2_dbm_write_begin(c);
    rv = apr_dbm_open_ex(&db, "gdbm", path, APR_DBM_RWCREATE, 0600, tmp);
    if (rv == APR_SUCCESS) {
        k.dptr = (char *)key;
        k.dsize = strlen(key);
        if (value) {
            v.dptr = (char *)value;
            v.dsize = strlen(value);
            rv = apr_dbm_store(db, k, v);
        } else {
            rv = apr_dbm_delete(db, k);
        }
        apr_dbm_close(db);
    }
    ao2_dbm_write_end(c);
    apr_pool_destroy(tmp);
    return rv != APR_SUCCESS;
}

static apr_status_t get(ao2_dbm_reader_t *r, apr_pool_t *p, const char *key,
                        const char **val)
{
    char *v = NULL;
    apr_size_t n = 0;
    apr_status_t rv = ao2_dbm_reader_get(r, key, strlen(key), p, &v, &n);

    *val = rv == APR_SUCCESS && strlen(v) == n ? v : NULL;
    return rv;
}

static void test_counter(apr_pool_t *p)
{
    ao2_dbm_changes_t c;
    apr_uint32_t seen, later;

    ao2_dbm_changes_init(&c);
    ok(ao2_dbm_read_begin(&c, &seen), "no write: a read may start");
    ok(ao2_dbm_read_still(&c, seen), "nothing written since");
    ao2_dbm_write_begin(&c);
    ok(!ao2_dbm_read_begin(&c, &later), "a write under way: no read");
    ok(!ao2_dbm_read_still(&c, seen), "a read overlapping a write fails");
    ao2_dbm_write_end(&c);
    ok(ao2_dbm_read_begin(&c, &later) && later != seen,
       "after the write: a read may start, with a new count");
    ok(!ao2_dbm_read_still(&c, seen), "a read from before the write fails");
    ao2_dbm_write_begin(&c);
    ao2_dbm_write_begin(&c);
    ao2_dbm_write_end(&c);
    ok(!ao2_dbm_read_begin(&c, &seen), "two writers, one done: still no read");
    ao2_dbm_write_end(&c);
    ok(ao2_dbm_read_begin(&c, &seen), "both done: reads again");
}

static void test_sees_own_writes(apr_pool_t *p)
{
    const char *path = fresh_path(p), *v;
    ao2_dbm_changes_t c;
    ao2_dbm_reader_t *r;

    ao2_dbm_changes_init(&c);
    ok(path && put(p, &c, path, "i:a", "first") == 0, "a record written");
    if (!path)
        return;
    ok(ao2_dbm_reader_create(&r, path, &c, p) == APR_SUCCESS, "a reader");
    is_int(get(r, p, "i:a", &v), APR_SUCCESS, "read");
    is_str(v, "first", "its value");
    is_int(get(r, p, "i:none", &v), APR_NOTFOUND, "an absent key: NOTFOUND");
    put(p, &c, path, "i:a", "second, longer than the first");
    is_int(get(r, p, "i:a", &v), APR_SUCCESS, "read after a rewrite");
    is_str(v, "second, longer than the first", "the new value, not the old");
    put(p, &c, path, "i:a", NULL);
    is_int(get(r, p, "i:a", &v), APR_NOTFOUND, "deleted: NOTFOUND");
    ao2_dbm_write_begin(&c);
    is_int(get(r, p, "i:a", &v), APR_EAGAIN, "a write under way: EAGAIN");
    ao2_dbm_write_end(&c);
    cleanup_path(p, path);
}

static void test_missing_file(apr_pool_t *p)
{
    ao2_dbm_changes_t c;
    ao2_dbm_reader_t *r;
    const char *v;

    ao2_dbm_changes_init(&c);
    ao2_dbm_reader_create(&r, "/nonexistent/ao2/tokens", &c, p);
    is_int(get(r, p, "i:a", &v), APR_EAGAIN,
           "a file that does not open: EAGAIN (the caller asks under the "
           "mutex and reports it)");
}

/* An open read handle must not keep a writer out: without GDBM_NOLOCK
 * gdbm's shared lock would, and every refresh would fail. */
static void test_writer_not_blocked(apr_pool_t *p)
{
    const char *path = fresh_path(p), *v;
    ao2_dbm_changes_t c;
    ao2_dbm_reader_t *r;
    apr_dbm_t *db;
    apr_status_t rv;

    ao2_dbm_changes_init(&c);
    if (!path || put(p, &c, path, "i:a", "x") != 0) {
        ok(0, "a record written");
        return;
    }
    ao2_dbm_reader_create(&r, path, &c, p);
    is_int(get(r, p, "i:a", &v), APR_SUCCESS, "read: the handle is open");
    rv = apr_dbm_open_ex(&db, "gdbm", path, APR_DBM_READWRITE, 0600, p);
    is_int(rv, APR_SUCCESS, "a writer opens the file meanwhile");
    if (rv == APR_SUCCESS)
        apr_dbm_close(db);
    cleanup_path(p, path);
}

/* As in httpd: one child revokes (rewrites) and another deletes while this
 * process holds a read handle opened before. */
static void test_other_process_writes(apr_pool_t *p)
{
    ao2_dbm_changes_t *c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const char *path = fresh_path(p), *v;
    ao2_dbm_reader_t *r;
    int status = -1;
    pid_t kid;

    if (c == MAP_FAILED || !path) {
        ok(0, "shared counter and a file");
        return;
    }
    ao2_dbm_changes_init(c);
    put(p, c, path, "i:tok", "valid");
    ao2_dbm_reader_create(&r, path, c, p);
    is_int(get(r, p, "i:tok", &v), APR_SUCCESS, "read before");
    is_str(v, "valid", "the record as issued");
    if ((kid = fork()) == 0)
        _exit(put(p, c, path, "i:tok", "revoked"));
    waitpid(kid, &status, 0);
    is_int(status, 0, "another process rewrote the record");
    is_int(get(r, p, "i:tok", &v), APR_SUCCESS, "read after");
    is_str(v, "revoked", "its write is seen through the open handle's reader");
    if ((kid = fork()) == 0)
        _exit(put(p, c, path, "i:tok", NULL));
    waitpid(kid, &status, 0);
    is_int(get(r, p, "i:tok", &v), APR_NOTFOUND,
           "another process's delete is seen");
    munmap(c, sizeof(*c));
    cleanup_path(p, path);
}

/* Readers in threads while a writer rewrites one key with ever longer
 * values and adds others (bucket splits): every answer is a value that was
 * written whole, or EAGAIN; never a torn one, never NOTFOUND. */
#define READERS 3
#define WRITES  300

typedef struct race {
    const char *path;
    ao2_dbm_changes_t *c;
    ao2_dbm_reader_t *r;
    volatile int stop;
    int bad, good, again;
} race_t;

static int well_formed(const char *v)
{
    int n;
    char tail[16];

    /* "<n>:" then n times 'x' */
    if (sscanf(v, "%d:", &n) != 1 || n < 0)
        return 0;
    snprintf(tail, sizeof(tail), "%d:", n);
    v += strlen(tail);
    return (int)strlen(v) == n && strspn(v, "x") == (size_t)n;
}

static void *APR_THREAD_FUNC reader_main(apr_thread_t *t, void *data)
{
    race_t *rc = data;
    apr_pool_t *p;
    const char *v;
    int bad = 0, good = 0, again = 0;

    apr_pool_create(&p, NULL);
    while (!rc->stop) {
        apr_status_t rv = get(rc->r, p, "i:hot", &v);
        if (rv == APR_SUCCESS && v && well_formed(v))
            good++;
        else if (rv == APR_EAGAIN)
            again++;
        else
            bad++;
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    __atomic_add_fetch(&rc->bad, bad, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&rc->good, good, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&rc->again, again, __ATOMIC_SEQ_CST);
    /* A return, not apr_thread_exit: pthread_exit's unwinding leaves the
     * stack poisoned for ASan, which then trips over it in its own thread
     * teardown. The thread's pool goes with p. */
    return NULL;
}

static void test_threads_and_writer(apr_pool_t *p)
{
    race_t rc;
    ao2_dbm_changes_t c;
    apr_thread_t *th[READERS];
    apr_status_t trv;
    char *val = apr_palloc(p, WRITES + 16);
    int i, failed = 0;

    memset(&rc, 0, sizeof(rc));
    ao2_dbm_changes_init(&c);
    rc.c = &c;
    rc.path = fresh_path(p);
    if (!rc.path || put(p, &c, rc.path, "i:hot", "0:") != 0) {
        ok(0, "a record written");
        return;
    }
    ao2_dbm_reader_create(&rc.r, rc.path, &c, p);
    for (i = 0; i < READERS; i++)
        apr_thread_create(&th[i], NULL, reader_main, &rc, p);
    for (i = 1; i <= WRITES; i++) {
        int n = snprintf(val, WRITES + 16, "%d:", i);
        memset(val + n, 'x', i);
        val[n + i] = '\0';
        failed += put(p, &c, rc.path, "i:hot", val);
        failed += put(p, &c, rc.path, apr_psprintf(p, "i:other-%d", i), val);
    }
    rc.stop = 1;
    for (i = 0; i < READERS; i++)
        apr_thread_join(&trv, th[i]);
    is_int(failed, 0, "%d writes, all done", 2 * WRITES);
    is_int(rc.bad, 0, "no torn or missing value (%d whole, %d EAGAIN)", rc.good,
           rc.again);
    ok(rc.good > 0, "readers read whole values meanwhile");
    cleanup_path(p, rc.path);
}

const ao2_test_case_t ao2_suite_dbm_read[] = {
    {"the change counter", test_counter},
    {"sees its own writes", test_sees_own_writes},
    {"a missing file", test_missing_file},
    {"an open handle does not block a writer", test_writer_not_blocked},
    {"another process's writes", test_other_process_writes},
    {"threads read while a writer writes", test_threads_and_writer},
    {NULL, NULL},
};
