/* Token store in an APR DBM file (gdbm), shared by the processes of one
 * server and kept across restarts.
 *
 * Writes (and take, remove) open, work on and close the file under one
 * global mutex, and announce themselves in a change counter in shared
 * memory. Reads (a Bearer check of a token issued here) take no mutex and
 * open nothing: each thread keeps a read-only handle, reopened when the
 * counter moved, and a read that overlapped a write is done again under
 * the mutex (ao2_dbm_read.c). Under the mutex the file is opened read-only
 * for reading because gdbm fsyncs a writer on close.
 *
 * A lookup of a key the file never held (a made-up Bearer token: the bulk
 * of a flood) is answered before any of that: a Bloom filter of every key
 * written (ao2_keyfilter.c), in shared memory made once per httpd parent
 * and filled from the file at the first start. It and the counter live on
 * the process pool so that graceful restarts keep them: children of the
 * old generation still write while the new one reads. */
#include "ao2_store.h"
#include "ao2_dbm_read.h"
#include "ao2_defaults.h"
#include "ao2_keyfilter.h"
#include "ao2_pathcheck.h"

#include <httpd.h>
#include <http_config.h>

#include <http_log.h>
#include <unixd.h>

#include <apr_dbm.h>
#include <apr_general.h>
#include <apr_shm.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include <errno.h>

#include <sys/stat.h>

#include <sys/types.h>
#include <unistd.h>

APLOG_USE_MODULE(api_oauth2);

#define DBM_TYPE        "gdbm" /* sdbm's 1 KB record limit is too small */
#define EXPIRY_LEN      8      /* big-endian apr_time_t before each value */
#define OPEN_TRIES      20
#define OPEN_RETRY_WAIT apr_time_from_msec(5)
/* Records nobody reads again (abandoned logins) are dropped this often, by
 * each process, on a write. */
#define PURGE_INTERVAL apr_time_from_sec(3600)

typedef struct dbm_store {
    ao2_store_t base;
    const char *path;
    apr_global_mutex_t *mutex;
    int inited;
    int child_inited;
    apr_time_t last_purge;      /* this process's; guarded by the mutex */
    ao2_keyfilter_t *filter;    /* NULL: every lookup reads the file */
    ao2_dbm_changes_t *changes; /* NULL: every read takes the mutex */
    ao2_dbm_reader_t *reader;   /* this child's, when changes is set */
    const char *kept_key;       /* of the segment in the process pool */
} dbm_store_t;

/* The shared segment of this httpd parent for one file, kept across
 * configuration cycles as user data of the process pool: httpd reloads
 * the module's DSO on a restart, which resets its static variables. */
typedef struct kept {
    ao2_keyfilter_t *filter;
    ao2_dbm_changes_t *changes;
} kept_t;
#define KEPT_KEY "api_oauth2 dbm segment "

static const char *dbm_create(ao2_store_t **st, const char *arg,
                              apr_pool_t *pconf)
{
    dbm_store_t *d;
    const char *path;

    if (!*arg) {
        return "dbm store needs a file: dbm:/path/to/file";
    }
    path = ap_server_root_relative(pconf, arg);
    if (!path) {
        return apr_psprintf(pconf, "invalid dbm store path \"%s\"", arg);
    }
    d = apr_pcalloc(pconf, sizeof(*d));
    d->path = path;
    d->kept_key = apr_pstrcat(pconf, KEPT_KEY, path, NULL);
    *st = &d->base;
    return NULL;
}

static void put_be64(unsigned char *b, apr_uint64_t v)
{
    int i;

    for (i = EXPIRY_LEN - 1; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static apr_uint64_t get_be64(const unsigned char *b)
{
    apr_uint64_t v = 0;
    int i;

    for (i = 0; i < EXPIRY_LEN; i++) {
        v = (v << 8) | b[i];
    }
    return v;
}

static int expired(const apr_datum_t *v, apr_time_t now)
{
    return v->dsize < EXPIRY_LEN ||
           (apr_time_t)get_be64((const unsigned char *)v->dptr) <= now;
}

/* Under the mutex, on a handle open for writing. Keys are collected first:
 * deleting while walking a gdbm file can skip records. */
static void purge(apr_dbm_t *db, apr_pool_t *p)
{
    apr_array_header_t *dead = apr_array_make(p, 16, sizeof(apr_datum_t));
    apr_time_t now = apr_time_now();
    apr_datum_t k, v;
    int i;

    memset(&k, 0, sizeof(k));
    for (apr_dbm_firstkey(db, &k); k.dptr; apr_dbm_nextkey(db, &k)) {
        memset(&v, 0, sizeof(v));
        if (apr_dbm_fetch(db, k, &v) == APR_SUCCESS && v.dptr) {
            if (expired(&v, now)) {
                apr_datum_t *kd = apr_array_push(dead);
                kd->dsize = k.dsize;
                kd->dptr = apr_pmemdup(p, k.dptr, k.dsize);
            }
            apr_dbm_freedatum(db, v);
        }
    }
    for (i = 0; i < dead->nelts; i++) {
        apr_dbm_delete(db, APR_ARRAY_IDX(dead, i, apr_datum_t));
    }
}

/* The store's directory, without a trailing slash. */
static const char *store_dir(apr_pool_t *p, const dbm_store_t *d)
{
    char *dir = ap_make_dirstr_parent(p, d->path);
    apr_size_t n = strlen(dir);

    if (n > 1 && dir[n - 1] == '/')
        dir[n - 1] = '\0';
    return dir;
}

/* mkdir with exactly this mode, whatever the umask; an existing directory
 * is left alone. 1 when it was made. */
static apr_status_t make_dir(const char *dir, mode_t mode, int *made)
{
    *made = 0;
    if (mkdir(dir, mode) != 0)
        return errno == EEXIST ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
    *made = 1;
    return chmod(dir, mode) == 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
}

/* Makes what is missing of the store's directory: parents as ordinary
 * system directories (0755, owned by the user httpd starts as), the
 * directory itself 0700 for the run user. An existing directory is left as
 * the operator made it; the start-up check (ao2_startup.c) then says
 * whether the run user can use it. */
static apr_status_t prepare_dir(dbm_store_t *d, server_rec *s, apr_pool_t *p)
{
    const char *dir = store_dir(p, d);
    const char *c;
    apr_finfo_t fi;
    apr_status_t rv;
    int made;

    rv = apr_stat(&fi, dir, APR_FINFO_TYPE, p);
    if (rv == APR_SUCCESS && fi.filetype != APR_DIR) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "AO2S0001: %s: not a directory (ApiOAuth2TokenStore %s); "
                     "move it away or choose another store path",
                     dir, d->base.spec);
        return APR_ENOTDIR;
    }
    if (rv == APR_SUCCESS)
        return APR_SUCCESS;
    /* Each missing component in turn; made ends up saying whether the
     * store directory itself was. */
    for (c = strchr(dir + 1, '/');; c = strchr(c + 1, '/')) {
        const char *sub = c ? apr_pstrmemdup(p, dir, c - dir) : dir;
        if ((rv = make_dir(sub, c ? 0755 : 0700, &made)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                         "AO2S0004: cannot create directory %s "
                         "(ApiOAuth2TokenStore %s); create it, 0700 for the "
                         "run user",
                         sub, d->base.spec);
            return rv;
        }
        if (c == NULL)
            break;
    }
    if (made && geteuid() == 0 &&
        chown(dir, ap_unixd_config.user_id, ap_unixd_config.group_id) < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2S0005: cannot chown %s to %s; chown it yourself", dir,
                     ap_unixd_config.user_name);
        return rv;
    }
    if (made)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "AO2S0010: created the token store directory %s (0700, "
                     "owner %s)",
                     dir, ap_unixd_config.user_name);
    return APR_SUCCESS;
}

/* APR passes gdbm's own error number up (APR_OS_START_USERERR + n), which
 * apr_strerror cannot put in words; the OS error under it can. */
static apr_status_t os_error(apr_status_t rv, int err)
{
    if (rv >= APR_OS_START_USERERR && rv < APR_OS_START_USERERR + 1000)
        return err ? APR_FROM_OS_ERROR(err) : APR_EGENERAL;
    return rv;
}

/* gdbm refuses to open a file another process holds (its own flock). Under
 * our mutex that only happens across a graceful restart, while a child of
 * the old generation, which holds the old mutex, still finishes a request:
 * wait briefly instead of failing. Other failures (permissions, a missing
 * file) are not retried. */
static apr_status_t dbm_open(dbm_store_t *d, server_rec *s, apr_int32_t mode,
                             apr_pool_t *p, apr_dbm_t **db)
{
    apr_status_t rv = APR_EGENERAL;
    int i, err = 0;

    for (i = 0; i < OPEN_TRIES; i++) {
        errno = 0;
        rv = apr_dbm_open_ex(db, DBM_TYPE, d->path, mode,
                             APR_FPROT_UREAD | APR_FPROT_UWRITE, p);
        err = errno;
        if (rv == APR_SUCCESS || (err != EAGAIN && err != EWOULDBLOCK))
            break;
        apr_sleep(OPEN_RETRY_WAIT);
    }
    if (rv == APR_SUCCESS)
        return rv;
    rv = os_error(rv, err);
    if (s)
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2S0011: token store %s: cannot open %s for %s",
                     d->base.spec, d->path,
                     mode == APR_DBM_READONLY ? "reading" : "writing");
    return rv;
}

/* A failed operation on an open file, in gdbm's words. */
static apr_status_t op_failed(dbm_store_t *d, server_rec *s, apr_dbm_t *db,
                              apr_status_t rv, int err, const char *what)
{
    char buf[128];
    int code = 0;

    apr_dbm_geterror(db, &code, buf, sizeof(buf));
    rv = os_error(rv, err);
    ap_log_error(APLOG_MARK, APLOG_ERR, err ? rv : 0, s,
                 "AO2S0012: token store %s: cannot %s %s: %s", d->base.spec,
                 what, d->path, buf);
    return rv;
}

/* The file's keys into a fresh filter; before any child exists. */
static void fill_filter(ao2_keyfilter_t *f, apr_dbm_t *db)
{
    apr_datum_t k;

    for (apr_dbm_firstkey(db, &k); k.dptr; apr_dbm_nextkey(db, &k))
        ao2_keyfilter_add(f, k.dptr, k.dsize);
}

/* The change counter, then the filter, one cache line apart. */
#define FILTER_OFFSET 64

/* Reused when this parent made them for the same file (old children still
 * write, and bump the counter the new generation's readers look at);
 * otherwise made and the filter filled now. Without them, every lookup
 * reads the file under the mutex. */
static void attach_shared(dbm_store_t *d, server_rec *s, apr_dbm_t *db)
{
    apr_pool_t *pp = s->process->pool;
    apr_size_t size = FILTER_OFFSET + ao2_keyfilter_size(AO2_STORE_FILTER_BITS);
    apr_uint64_t seed;
    apr_shm_t *shm;
    char *base;
    kept_t *kept = NULL;

    apr_pool_userdata_get((void **)&kept, d->kept_key, pp);
    if (kept) {
        d->filter = kept->filter;
        d->changes = kept->changes;
        return;
    }
    d->filter = NULL;
    d->changes = NULL;
    if (db == NULL || apr_shm_create(&shm, size, NULL, pp) != APR_SUCCESS ||
        apr_generate_random_bytes((unsigned char *)&seed, sizeof(seed)) !=
            APR_SUCCESS ||
        ao2_keyfilter_init(
            &d->filter, (base = apr_shm_baseaddr_get(shm)) + FILTER_OFFSET,
            size - FILTER_OFFSET, AO2_STORE_FILTER_BITS, seed) != APR_SUCCESS) {
        d->filter = NULL;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "AO2S0030: no key filter for %s: every lookup reads "
                     "the file under the store mutex (slower, above all "
                     "under a flood)",
                     d->path);
        return;
    }
    d->changes = (ao2_dbm_changes_t *)base;
    ao2_dbm_changes_init(d->changes);
    fill_filter(d->filter, db);
    kept = apr_palloc(pp, sizeof(*kept));
    kept->filter = d->filter;
    kept->changes = d->changes;
    apr_pool_userdata_setn(kept, apr_pstrdup(pp, d->kept_key), NULL, pp);
}

static void write_begin(dbm_store_t *d)
{
    if (d->changes)
        ao2_dbm_write_begin(d->changes);
}

static void write_end(dbm_store_t *d)
{
    if (d->changes)
        ao2_dbm_write_end(d->changes);
}

static apr_status_t dbm_init(ao2_store_t *st, server_rec *s, apr_pool_t *pconf,
                             apr_pool_t *ptemp)
{
    dbm_store_t *d = (dbm_store_t *)st;
    const char *used1 = NULL, *used2 = NULL;
    apr_finfo_t fi;
    apr_dbm_t *db;
    apr_status_t rv;

    if (d->inited) {
        return APR_SUCCESS;
    }
    rv = prepare_dir(d, s, ptemp);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_dbm_get_usednames_ex(ptemp, DBM_TYPE, d->path, &used1, &used2);
    /* Quiet: a busy file on a graceful restart is no error (below). */
    rv = dbm_open(d, NULL, APR_DBM_RWCREATE, ptemp, &db);
    if (rv == APR_SUCCESS) {
        attach_shared(d, s, db);
        /* Old children may be reading: a write like any other. */
        write_begin(d);
        purge(db, ptemp);
        apr_dbm_close(db);
        write_end(d);
    } else if (apr_stat(&fi, used1, APR_FINFO_TYPE, ptemp) == APR_SUCCESS) {
        /* On a graceful restart, children of the old generation still
         * work on the file under the old mutex; it exists, and the purge
         * can wait for the next write. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     "AO2S0009: %s is busy, start-up purge skipped", d->path);
        attach_shared(d, s, NULL);
    } else {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2S0006: cannot create the " DBM_TYPE
                     " file %s (ApiOAuth2TokenStore %s); check the "
                     "directory's space and permissions",
                     d->path, st->spec);
        return rv;
    }

    /* Children run as the run user and must open the file read-write. */
    if (geteuid() == 0) {
        const char *names[2];
        int i;

        names[0] = used1;
        names[1] = used2;
        for (i = 0; i < 2; i++) {
            if (names[i] &&
                chown(names[i], ap_unixd_config.user_id,
                      ap_unixd_config.group_id) < 0 &&
                errno != ENOENT) {
                rv = APR_FROM_OS_ERROR(errno);
                ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                             "AO2S0007: cannot chown %s to %s; chown it "
                             "yourself",
                             names[i], ap_unixd_config.user_name);
                return rv;
            }
        }
    }

    rv = ao2_store_mutex_create(&d->mutex, st, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2S0008: cannot create the store mutex; check "
                     "\"Mutex api-oauth2-store\" and DefaultRuntimeDir");
        return rv;
    }
    d->inited = 1;
    return APR_SUCCESS;
}

static apr_status_t dbm_child_init(ao2_store_t *st, server_rec *s,
                                   apr_pool_t *pchild)
{
    dbm_store_t *d = (dbm_store_t *)st;
    apr_status_t rv;

    if (d->child_inited) {
        return APR_SUCCESS;
    }
    /* The parent purged at start-up; children start the clock afresh. */
    d->last_purge = apr_time_now();
    rv = ao2_store_mutex_child_init(&d->mutex, pchild);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (d->changes && ao2_dbm_reader_create(&d->reader, d->path, d->changes,
                                            pchild) != APR_SUCCESS) {
        d->reader = NULL; /* reads take the mutex */
    }
    d->child_inited = 1;
    return APR_SUCCESS;
}

static apr_status_t lock(dbm_store_t *d, server_rec *s)
{
    return ao2_store_mutex_lock(d->mutex, &d->base, s);
}

static void unlock(dbm_store_t *d)
{
    if (d->mutex) {
        apr_global_mutex_unlock(d->mutex);
    }
}

/* Under the mutex. APR_SUCCESS with *val, or APR_NOTFOUND with *stale set
 * when an expired or unreadable record is there to be removed. */
static apr_status_t locked_fetch(dbm_store_t *d, server_rec *s, apr_datum_t *k,
                                 apr_pool_t *p, char **val, apr_size_t *len,
                                 int *stale)
{
    apr_pool_t *tmp;
    apr_dbm_t *db;
    apr_datum_t v;
    apr_status_t rv;

    *stale = 0;
    /* The file handle and gdbm's copy of the value die with tmp, right
     * after the value is copied out. */
    rv = apr_pool_create(&tmp, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = dbm_open(d, s, APR_DBM_READONLY, tmp, &db);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(tmp);
        return rv;
    }
    memset(&v, 0, sizeof(v));
    /* APR's gdbm fetch says EGENERAL for a missing key: ask first, so that
     * an error is an error. */
    if (!apr_dbm_exists(db, *k)) {
        rv = APR_NOTFOUND;
    } else if ((rv = apr_dbm_fetch(db, *k, &v)) != APR_SUCCESS || !v.dptr) {
        rv = op_failed(d, s, db, rv ? rv : APR_EGENERAL, 0,
                       "read a record from");
    } else {
        if (expired(&v, apr_time_now())) {
            *stale = 1;
            rv = APR_NOTFOUND;
        } else {
            *len = v.dsize - EXPIRY_LEN;
            *val = apr_palloc(p, *len + 1);
            memcpy(*val, v.dptr + EXPIRY_LEN, *len);
            (*val)[*len] = '\0';
        }
        apr_dbm_freedatum(db, v);
    }
    apr_dbm_close(db);
    apr_pool_destroy(tmp);
    return rv;
}

/* Under the mutex. Stores v, or deletes k when v is NULL. */
static apr_status_t locked_write(dbm_store_t *d, server_rec *s, apr_datum_t *k,
                                 apr_datum_t *v, apr_pool_t *p)
{
    apr_pool_t *tmp;
    apr_dbm_t *db;
    apr_status_t rv;
    apr_time_t now = apr_time_now();

    rv = apr_pool_create(&tmp, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    write_begin(d);
    rv = dbm_open(d, s, APR_DBM_READWRITE, tmp, &db);
    if (rv == APR_SUCCESS) {
        errno = 0;
        rv = v ? apr_dbm_store(db, *k, *v) : apr_dbm_delete(db, *k);
        if (rv != APR_SUCCESS)
            rv = op_failed(d, s, db, rv, errno,
                           v ? "write a record to" : "delete a record from");
        if (rv == APR_SUCCESS && v && now - d->last_purge > PURGE_INTERVAL) {
            d->last_purge = now;
            purge(db, tmp);
        }
        apr_dbm_close(db);
    }
    write_end(d);
    apr_pool_destroy(tmp);
    return rv;
}

static apr_status_t make_key(const char *key, apr_datum_t *k)
{
    apr_size_t klen;
    apr_status_t rv = ao2_store_check_key(key, &klen);

    k->dptr = (char *)key;
    k->dsize = klen;
    return rv;
}

/* Without the mutex, on this thread's handle. APR_EAGAIN: ask under the
 * mutex (a write under way; an expired record, which that path removes). */
static apr_status_t lockfree_fetch(dbm_store_t *d, apr_datum_t *k,
                                   apr_pool_t *p, char **val, apr_size_t *len)
{
    apr_datum_t v;
    apr_size_t n;
    char *raw;
    apr_status_t rv =
        ao2_dbm_reader_get(d->reader, k->dptr, k->dsize, p, &raw, &n);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    v.dptr = raw;
    v.dsize = n;
    if (expired(&v, apr_time_now())) {
        return APR_EAGAIN;
    }
    *val = raw + EXPIRY_LEN; /* NUL-terminated by the reader */
    *len = n - EXPIRY_LEN;
    return APR_SUCCESS;
}

/* get, and take when remove is set, under one mutex hold; a get first
 * without it. */
static apr_status_t fetch(dbm_store_t *d, server_rec *s, const char *key,
                          apr_pool_t *p, char **val, apr_size_t *len,
                          int remove)
{
    apr_datum_t k;
    apr_status_t rv, rv2;
    int stale;

    rv = make_key(key, &k);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (d->filter && !ao2_keyfilter_maybe(d->filter, k.dptr, k.dsize)) {
        return APR_NOTFOUND; /* never written: no mutex, no file */
    }
    if (!remove && d->reader) {
        rv = lockfree_fetch(d, &k, p, val, len);
        if (rv != APR_EAGAIN) {
            return rv;
        }
    }
    rv = lock(d, s);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = locked_fetch(d, s, &k, p, val, len, &stale);
    if (rv == APR_SUCCESS ? remove : stale) {
        rv2 = locked_write(d, s, &k, NULL, p);
        /* A value that could not be consumed must not be handed out. */
        if (rv == APR_SUCCESS && rv2 != APR_SUCCESS) {
            rv = rv2;
        }
    }
    unlock(d);
    return rv;
}

static apr_status_t dbm_get(ao2_store_t *st, server_rec *s, const char *key,
                            apr_pool_t *p, char **val, apr_size_t *len)
{
    return fetch((dbm_store_t *)st, s, key, p, val, len, 0);
}

static apr_status_t dbm_take(ao2_store_t *st, server_rec *s, const char *key,
                             apr_pool_t *p, char **val, apr_size_t *len)
{
    return fetch((dbm_store_t *)st, s, key, p, val, len, 1);
}

static apr_status_t dbm_set(ao2_store_t *st, server_rec *s, const char *key,
                            const char *val, apr_size_t len, apr_time_t expiry,
                            apr_pool_t *p)
{
    dbm_store_t *d = (dbm_store_t *)st;
    apr_datum_t k, v;
    apr_status_t rv;

    rv = make_key(key, &k);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (len > AO2_STORE_MAX_VALUE) {
        return APR_ENOSPC;
    }
    v.dsize = EXPIRY_LEN + len;
    v.dptr = apr_palloc(p, v.dsize);
    put_be64((unsigned char *)v.dptr, (apr_uint64_t)expiry);
    memcpy(v.dptr + EXPIRY_LEN, val, len);

    /* Before the write: a reader that finds the key has found its bits. */
    if (d->filter) {
        ao2_keyfilter_add(d->filter, k.dptr, k.dsize);
    }
    rv = lock(d, s);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = locked_write(d, s, &k, &v, p);
    unlock(d);
    return rv;
}

static apr_status_t dbm_remove(ao2_store_t *st, server_rec *s, const char *key,
                               apr_pool_t *p)
{
    dbm_store_t *d = (dbm_store_t *)st;
    apr_datum_t k;
    apr_pool_t *tmp;
    apr_dbm_t *db;
    apr_status_t rv;
    int exists = 0;

    rv = make_key(key, &k);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = lock(d, s);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Look first, read-only: deleting an absent key would cost a writer's
     * fsync and, with gdbm, an error. */
    rv = apr_pool_create(&tmp, p);
    if (rv == APR_SUCCESS) {
        rv = dbm_open(d, s, APR_DBM_READONLY, tmp, &db);
        if (rv == APR_SUCCESS) {
            exists = apr_dbm_exists(db, k);
            apr_dbm_close(db);
        }
        apr_pool_destroy(tmp);
    }
    if (rv == APR_SUCCESS && exists) {
        rv = locked_write(d, s, &k, NULL, p);
    }
    unlock(d);
    return rv;
}

/* The run user opens the files read-write, in a directory it can enter. */
static void dbm_paths(const ao2_store_t *st, apr_pool_t *p,
                      apr_array_header_t *out)
{
    const dbm_store_t *d = (const dbm_store_t *)st;
    const char *used1 = NULL, *used2 = NULL;

    ao2_store_path_add(out, store_dir(p, d), AO2_PC_X);
    apr_dbm_get_usednames_ex(p, DBM_TYPE, d->path, &used1, &used2);
    ao2_store_path_add(out, used1, AO2_PC_R | AO2_PC_W);
    ao2_store_path_add(out, used2, AO2_PC_R | AO2_PC_W);
}

static const char *dbm_dir(const ao2_store_t *st, apr_pool_t *p)
{
    return store_dir(p, (const dbm_store_t *)st);
}

/* A file of this server's: kept until records expire, across restarts. */
static void dbm_traits(const ao2_store_t *st, ao2_store_traits_t *t)
{
    t->shared = 0;
    t->loses = NULL;
}

const ao2_store_type_t ao2_store_dbm = {
    "dbm",      dbm_create, dbm_init,  dbm_child_init, dbm_get,    dbm_set,
    dbm_remove, dbm_take,   dbm_paths, dbm_dir,        dbm_traits,
};
