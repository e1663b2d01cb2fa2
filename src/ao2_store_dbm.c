/* Token store in an APR DBM file (gdbm), shared by the processes of one
 * server and kept across restarts.
 *
 * Every operation opens, works on and closes the file under one global
 * mutex: a DBM handle caches pages, so a handle kept open would not see the
 * other processes' writes. Reads open the file read-only because gdbm
 * fsyncs a writer on close. */
#include "ao2_store.h"

#include <http_log.h>
#include <unixd.h>

#include <apr_dbm.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include <errno.h>

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
    apr_time_t last_purge; /* this process's; guarded by the mutex */
} dbm_store_t;

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

/* Creates the directory (mode 0700, owned by the run user) when it is
 * missing. An existing one is left as the operator made it, since it may
 * be shared (/var/lib); then the run user must at least be able to enter
 * it. */
static apr_status_t prepare_dir(dbm_store_t *d, server_rec *s, apr_pool_t *p)
{
    const char *dir = ap_make_dirstr_parent(p, d->path);
    const char *parent;
    apr_finfo_t fi;
    apr_status_t rv;
    int as_root = geteuid() == 0;

    rv = apr_stat(&fi, dir, APR_FINFO_TYPE | APR_FINFO_OWNER | APR_FINFO_PROT,
                  p);
    if (rv == APR_SUCCESS) {
        if (fi.filetype != APR_DIR) {
            ap_log_error(
                APLOG_MARK, APLOG_ERR, 0, s,
                "AO2S0001: %s: not a directory (ApiOAuth2TokenStore %s)", dir,
                d->base.spec);
            return APR_ENOTDIR;
        }
        if (as_root && fi.user != ap_unixd_config.user_id &&
            !(fi.group == ap_unixd_config.group_id &&
              (fi.protection & APR_FPROT_GEXECUTE)) &&
            !(fi.protection & APR_FPROT_WEXECUTE)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                         "AO2S0002: directory %s is not accessible to user "
                         "%s (ApiOAuth2TokenStore %s): chown it, or remove it "
                         "and let the module create it",
                         dir, ap_unixd_config.user_name, d->base.spec);
            return APR_EACCES;
        }
        return APR_SUCCESS;
    }
    if (!APR_STATUS_IS_ENOENT(rv)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "AO2S0003: cannot stat %s",
                     dir);
        return rv;
    }

    /* Parents are ordinary system directories: world-traversable. */
    parent = ap_make_dirstr_parent(p, apr_pstrmemdup(p, dir, strlen(dir) - 1));
    rv = apr_dir_make_recursive(parent, APR_FPROT_OS_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_dir_make(
            dir, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE, p);
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2S0004: cannot create directory %s", dir);
        return rv;
    }
    if (as_root &&
        chown(dir, ap_unixd_config.user_id, ap_unixd_config.group_id) < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2S0005: cannot chown %s to %s", dir,
                     ap_unixd_config.user_name);
        return rv;
    }
    return APR_SUCCESS;
}

/* gdbm refuses to open a file another process holds (its own flock). Under
 * our mutex that only happens across a graceful restart, while a child of
 * the old generation, which holds the old mutex, still finishes a request:
 * wait briefly instead of failing. */
static apr_status_t dbm_open(dbm_store_t *d, apr_int32_t mode, apr_pool_t *p,
                             apr_dbm_t **db)
{
    apr_status_t rv = APR_EGENERAL;
    int i;

    for (i = 0; i < OPEN_TRIES; i++) {
        rv = apr_dbm_open_ex(db, DBM_TYPE, d->path, mode,
                             APR_FPROT_UREAD | APR_FPROT_UWRITE, p);
        if (rv == APR_SUCCESS) {
            break;
        }
        apr_sleep(OPEN_RETRY_WAIT);
    }
    return rv;
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
    rv = dbm_open(d, APR_DBM_RWCREATE, ptemp, &db);
    if (rv == APR_SUCCESS) {
        purge(db, ptemp);
        apr_dbm_close(db);
    } else if (apr_stat(&fi, used1, APR_FINFO_TYPE, ptemp) == APR_SUCCESS) {
        /* On a graceful restart, children of the old generation still
         * work on the file under the old mutex; it exists, and the purge
         * can wait for the next write. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     "AO2S0009: %s is busy, start-up purge skipped", d->path);
    } else {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2S0006: cannot create the " DBM_TYPE
                     " file %s (ApiOAuth2TokenStore %s)",
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
                             "AO2S0007: cannot chown %s to %s", names[i],
                             ap_unixd_config.user_name);
                return rv;
            }
        }
    }

    rv = ao2_store_mutex_create(&d->mutex, st, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2S0008: cannot create the store mutex");
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
    if (rv == APR_SUCCESS) {
        d->child_inited = 1;
    }
    return rv;
}

static apr_status_t lock(dbm_store_t *d)
{
    return d->mutex ? apr_global_mutex_lock(d->mutex) : APR_SUCCESS;
}

static void unlock(dbm_store_t *d)
{
    if (d->mutex) {
        apr_global_mutex_unlock(d->mutex);
    }
}

/* Under the mutex. APR_SUCCESS with *val, or APR_NOTFOUND with *stale set
 * when an expired or unreadable record is there to be removed. */
static apr_status_t locked_fetch(dbm_store_t *d, apr_datum_t *k, apr_pool_t *p,
                                 char **val, apr_size_t *len, int *stale)
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
    rv = dbm_open(d, APR_DBM_READONLY, tmp, &db);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(tmp);
        return rv;
    }
    memset(&v, 0, sizeof(v));
    /* APR's gdbm fetch says EGENERAL for a missing key: ask first, so that
     * an error is an error. */
    if (!apr_dbm_exists(db, *k)) {
        rv = APR_NOTFOUND;
    } else if ((rv = apr_dbm_fetch(db, *k, &v)) == APR_SUCCESS && !v.dptr) {
        rv = APR_EGENERAL;
    } else if (rv == APR_SUCCESS) {
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
static apr_status_t locked_write(dbm_store_t *d, apr_datum_t *k, apr_datum_t *v,
                                 apr_pool_t *p)
{
    apr_pool_t *tmp;
    apr_dbm_t *db;
    apr_status_t rv;
    apr_time_t now = apr_time_now();

    rv = apr_pool_create(&tmp, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = dbm_open(d, APR_DBM_READWRITE, tmp, &db);
    if (rv == APR_SUCCESS) {
        rv = v ? apr_dbm_store(db, *k, *v) : apr_dbm_delete(db, *k);
        if (rv == APR_SUCCESS && v && now - d->last_purge > PURGE_INTERVAL) {
            d->last_purge = now;
            purge(db, tmp);
        }
        apr_dbm_close(db);
    }
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

/* get, and take when remove is set, under one mutex hold. */
static apr_status_t fetch(dbm_store_t *d, const char *key, apr_pool_t *p,
                          char **val, apr_size_t *len, int remove)
{
    apr_datum_t k;
    apr_status_t rv, rv2;
    int stale;

    rv = make_key(key, &k);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = lock(d);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = locked_fetch(d, &k, p, val, len, &stale);
    if (rv == APR_SUCCESS ? remove : stale) {
        rv2 = locked_write(d, &k, NULL, p);
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
    return fetch((dbm_store_t *)st, key, p, val, len, 0);
}

static apr_status_t dbm_take(ao2_store_t *st, server_rec *s, const char *key,
                             apr_pool_t *p, char **val, apr_size_t *len)
{
    return fetch((dbm_store_t *)st, key, p, val, len, 1);
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

    rv = lock(d);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = locked_write(d, &k, &v, p);
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
    rv = lock(d);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Look first, read-only: deleting an absent key would cost a writer's
     * fsync and, with gdbm, an error. */
    rv = apr_pool_create(&tmp, p);
    if (rv == APR_SUCCESS) {
        rv = dbm_open(d, APR_DBM_READONLY, tmp, &db);
        if (rv == APR_SUCCESS) {
            exists = apr_dbm_exists(db, k);
            apr_dbm_close(db);
        }
        apr_pool_destroy(tmp);
    }
    if (rv == APR_SUCCESS && exists) {
        rv = locked_write(d, &k, NULL, p);
    }
    unlock(d);
    return rv;
}

const ao2_store_type_t ao2_store_dbm = {
    "dbm",   dbm_create, dbm_init,   dbm_child_init,
    dbm_get, dbm_set,    dbm_remove, dbm_take,
};
