/* Start-up work, once all directives are read: the store (the default one
 * when none is configured), the caches, the store key (loaded, or generated
 * for a store that has none), and the checks that need the whole
 * configuration and the run user: can it reach every store path, and is
 * the key out of its reach. Runs as root in post_config. */
#include "ao2_config.h"
#include "ao2_discovery.h"
#include "ao2_metrics.h"
#include "ao2_pathcheck.h"

#include <apr_file_io.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <http_log.h>
#include <mpm_common.h>
#include <unixd.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

APLOG_USE_MODULE(api_oauth2);

#define AO2_MAX_KEY_FILE 4096

/* The key file's bytes are the master key: cleared on every way out,
 * with a write the compiler keeps (a memset before return is a dead store
 * it may drop). */
const char *ao2_key_load(apr_pool_t *p, const char *path, ao2_keys_t *keys)
{
    unsigned char buf[AO2_MAX_KEY_FILE];
    apr_file_t *f;
    apr_size_t n = sizeof(buf);
    apr_status_t rv;
    char ebuf[128];
    const char *err = NULL;

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p);
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "cannot read key file %s: %s", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
    rv = apr_file_read_full(f, buf, sizeof(buf), &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF)
        err = apr_psprintf(p, "cannot read key file %s: %s", path,
                           apr_strerror(rv, ebuf, sizeof(ebuf)));
    else if (n < AO2_MASTER_KEY_MIN)
        err = apr_psprintf(p,
                           "key file %s has %" APR_SIZE_T_FMT
                           " bytes; at least %d random bytes are needed",
                           path, n, AO2_MASTER_KEY_MIN);
    else if (ao2_keys_derive(keys, buf, n) != APR_SUCCESS)
        err = "cannot derive keys";
    ao2_cleanse(buf, sizeof(buf));
    return err;
}

/* The user the children run as. Started as root, httpd switches to
 * User/Group; otherwise it keeps running as the user it started as. */
static ao2_pc_user_t run_user(apr_pool_t *p)
{
    ao2_pc_user_t u;
    struct passwd pw, *found = NULL;
    char buf[1024];
    gid_t *groups;
    int n = 32;

    if (geteuid() == 0) {
        u.name = ap_unixd_config.user_name;
        u.uid = ap_unixd_config.user_id;
        u.gid = ap_unixd_config.group_id;
    } else {
        u.uid = geteuid();
        u.gid = getegid();
        u.name = getpwuid_r(u.uid, &pw, buf, sizeof(buf), &found) == 0 && found
                     ? apr_pstrdup(p, found->pw_name)
                     : apr_psprintf(p, "#%lu", (unsigned long)u.uid);
    }
    /* The supplementary groups of that user, as initgroups will set them. */
    groups = apr_palloc(p, n * sizeof(gid_t));
    if (getgrouplist(u.name, u.gid, groups, &n) < 0) {
        groups = apr_palloc(p, n * sizeof(gid_t));
        if (getgrouplist(u.name, u.gid, groups, &n) < 0)
            n = 0;
    }
    u.groups = groups;
    u.ngroups = n;
    return u;
}

/* Every file and directory of the store that the children open, checked
 * for the run user on every component of its path. */
static int check_store_paths(apr_pool_t *ptemp, server_rec *s,
                             const ao2_store_t *st, const ao2_pc_user_t *u)
{
    apr_array_header_t *paths =
        apr_array_make(ptemp, 4, sizeof(ao2_store_path_t));
    const char *other = strcmp(st->spec, AO2_DEFAULT_STORE)
                            ? AO2_DEFAULT_STORE
                            : "dbm:/a/directory/it/can/reach/tokens";
    int i;

    st->type->paths(st, ptemp, paths);
    for (i = 0; i < paths->nelts; i++) {
        const ao2_store_path_t *sp = &APR_ARRAY_IDX(paths, i, ao2_store_path_t);
        const ao2_pc_problem_t *pr =
            ao2_path_reach(ptemp, sp->path, u, sp->need);

        if (pr == NULL)
            continue;
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0030: the token store %s is not %s by user %s: %s; "
                     "move the store (ApiOAuth2TokenStore %s)%s%s",
                     st->spec,
                     strcmp(pr->path, sp->path) ? "reachable" : "usable",
                     u->name, pr->why, other, pr->fix ? " or " : "",
                     pr->fix ? pr->fix : "");
        return !OK;
    }
    return OK;
}

/* Where a generated key goes: beside the store's directory, in its parent
 * (the directory itself belongs to the run user, who must not be able to
 * replace the key); for a store without one, DefaultRuntimeDir. */
static const char *default_key_path(apr_pool_t *p, const ao2_store_t *st)
{
    const char *dir = st->type->dir(st, p);

    if (dir && strcmp(dir, "/") != 0)
        return apr_pstrcat(p, dir, ".key", NULL);
    return ap_runtime_dir_relative(p, AO2_DEFAULT_RUNTIME_KEY);
}

/* A new random key, 0600, owned by the user httpd starts as (root). */
static int generate_key(apr_pool_t *ptemp, server_rec *s, const char *path)
{
    unsigned char key[AO2_MASTER_KEY_MIN];
    apr_file_t *f;
    apr_size_t n = sizeof(key);
    apr_status_t rv;

    if ((rv = ao2_random_bytes(key, sizeof(key))) != APR_SUCCESS ||
        (rv = apr_file_open(&f, path,
                            APR_FOPEN_WRITE | APR_FOPEN_CREATE |
                                APR_FOPEN_EXCL | APR_FOPEN_BINARY,
                            APR_FPROT_UREAD | APR_FPROT_UWRITE, ptemp)) ||
        (rv = apr_file_write_full(f, key, sizeof(key), &n)) ||
        (rv = apr_file_close(f))) {
        ao2_cleanse(key, sizeof(key));
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     "AO2C0002: cannot create the store key %s; set "
                     "ApiOAuth2StoreKey",
                     path);
        return !OK;
    }
    ao2_cleanse(key, sizeof(key));
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 "AO2C0003: generated the store key %s (0600, owner %s); set "
                 "ApiOAuth2StoreKey to keep it elsewhere or to share it "
                 "between servers",
                 path, geteuid() == 0 ? "root" : "the user httpd runs as");
    return OK;
}

/* The key for a store set up without ApiOAuth2StoreKey: made once, kept
 * beside the store, so records stay readable across restarts. */
static int default_key(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                       ao2_global_t *g, const ao2_pc_user_t *u)
{
    const char *path = default_key_path(ptemp, g->store);
    const ao2_pc_problem_t *pr;
    const char *err;
    apr_finfo_t fi;

    if (u && (pr = ao2_path_replaceable(ptemp, path, u))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0031: the store key for %s would be %s, which user "
                     "%s could replace: %s; set ApiOAuth2StoreKey "
                     "file:/etc/apache2/api_oauth2.key (head -c 32 "
                     "/dev/urandom, 0600 root), or %s",
                     g->store->spec, path, u->name, pr->why,
                     /* the key goes where the store is: only a key file
                      * of its own can be fixed in place */
                     pr->fix && strcmp(pr->path, path) == 0 ? pr->fix
                                                            : "move the store");
        return !OK;
    }
    if (apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_LINK, ptemp) !=
            APR_SUCCESS &&
        generate_key(ptemp, s, path) != OK)
        return !OK;
    if ((err = ao2_key_load(pconf, path, &g->keys))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0004: the generated store key cannot be used: %s; "
                     "remove it to have a new one made (stored values are "
                     "then lost), or set ApiOAuth2StoreKey",
                     err);
        return !OK;
    }
    g->key_file = path;
    return OK;
}

/* The key file, now that the run user is known: refused where a worker
 * could replace it, a warning for the softer problems. */
static int check_key(apr_pool_t *ptemp, server_rec *s, const char *path,
                     const ao2_pc_user_t *u)
{
    int refuse = 0;
    const char *why = ao2_path_secret(ptemp, path, geteuid(), u, &refuse);

    if (why && refuse) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0032: the store key %s cannot be used: %s", path,
                     why);
        return !OK;
    }
    if (why)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "AO2C0001: store key %s: %s", path, why);
    return OK;
}

/* A shared cache (memcache) carries the cluster revocation log; its
 * node-local half lives in anonymous shared memory every child inherits,
 * on pconf like the shm cache (a restart starts it anew). */
static int setup_revlog(apr_pool_t *pconf, server_rec *s, ao2_global_t *g)
{
    apr_size_t size = ao2_revlog_size(AO2_REVLOG_TOMBSTONES);
    apr_uint64_t seed;
    apr_shm_t *shm;
    apr_status_t rv;

    g->revlog = NULL;
    if (g->cache->type->incr == NULL)
        return OK;
    rv = apr_shm_create(&shm, size, NULL, pconf);
    if (rv == APR_SUCCESS)
        rv = apr_generate_random_bytes((unsigned char *)&seed, sizeof(seed));
    if (rv == APR_SUCCESS)
        rv = ao2_revlog_init(&g->revlog, pconf, apr_shm_baseaddr_get(shm),
                             apr_shm_size_get(shm), AO2_REVLOG_TOMBSTONES, seed,
                             g->cache, &g->keys,
                             apr_time_from_msec(AO2_REVLOG_INTERVAL_MS));
    if (rv != APR_SUCCESS) {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, rv, s,
            "AO2C0033: cannot set up the revocation log's %" APR_SIZE_T_FMT
            " bytes of shared memory for ApiOAuth2Cache %s; raise the "
            "system's shared memory limits",
            size, g->cache->spec);
        return !OK;
    }
    return OK;
}

static apr_status_t journal_close(void *fd)
{
    close((int)(intptr_t)fd);
    return APR_SUCCESS;
}

/* The journal at path, opened for reading and writing (created 0600), in
 * *fd; or why it cannot be used, *fd -1 and errno the system's error or 0.
 * Like a generated key, it is refused where u (the run user) could replace
 * it: it or a directory on the way owned or writable by u. What was
 * opened must be a regular file of this user with no group or other bits
 * (O_NOFOLLOW: not a symbolic link). */
static const char *open_journal(apr_pool_t *p, const char *path,
                                const ao2_pc_user_t *u, int *fd)
{
    const ao2_pc_problem_t *pr;
    struct stat sb;

    *fd = -1;
    if (u && (pr = ao2_path_replaceable(p, path, u))) {
        errno = 0; /* the lstat of a missing file is no reason to give */
        /* Without a fix it is no replacement: a directory is missing. */
        return pr->fix ? apr_psprintf(p, "%s could replace it: %s (fix: %s)",
                                      u->name, pr->why, pr->fix)
                       : pr->why;
    }
    *fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (*fd >= 0 && (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
                     sb.st_uid != geteuid() || (sb.st_mode & 077))) {
        close(*fd);
        *fd = -1;
        errno = EPERM;
    }
    return *fd < 0 ? "it must be a regular file of this user, mode 0600, not "
                     "a symbolic link"
                   : NULL;
}

/* The revocation log's tombstones on disk: opened here, by root, and
 * inherited by the children, so the file stays root's (0600) and nobody
 * but httpd's processes can write it. A default path that cannot be used
 * only costs what a restart forgets (a warning); one the operator named
 * stops the start. */
static int setup_journal(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                         ao2_global_t *g, const ao2_pc_user_t *u)
{
    const char *path = g->journal_path, *why;
    apr_uint32_t n;
    int fd, named = path != NULL;

    if (g->revlog == NULL || (path && *path == '\0'))
        return OK;
    if (path == NULL)
        path = ap_runtime_dir_relative(pconf, AO2_DEFAULT_REVLOG_JOURNAL);
    fd = -1;
    errno = 0;
    why = path ? open_journal(ptemp, path, u, &fd)
               : "no path in DefaultRuntimeDir can be made for it";
    if (why) {
        ap_log_error(APLOG_MARK, named ? APLOG_EMERG : APLOG_WARNING,
                     APR_FROM_OS_ERROR(errno), s,
                     "AO2C0034: the revocation journal %s cannot be used: %s; "
                     "a restart forgets what this node learned from the "
                     "revocation log%s",
                     path ? path : AO2_DEFAULT_REVLOG_JOURNAL, why,
                     named ? "; set ApiOAuth2RevocationJournal off to go on "
                             "without"
                           : "");
        return named ? !OK : OK;
    }
    apr_pool_cleanup_register(pconf, (void *)(intptr_t)fd, journal_close,
                              apr_pool_cleanup_null);
    n = ao2_revlog_journal(g->revlog, fd, apr_time_sec(apr_time_now()));
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 "AO2C0035: revocation journal %s: %u tombstones read back",
                 path, n);
    return OK;
}

static int setup_caches(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                        ao2_global_t *g)
{
    const char *err;

    if (g->cache == NULL &&
        (err = ao2_cache_create(&g->cache, AO2_DEFAULT_CACHE, pconf))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0009: the default validation cache: %s; set "
                     "ApiOAuth2Cache",
                     err);
        return !OK;
    }
    if (g->cache_local_ttl > 0 && strcmp(g->cache->type->name, "shm") != 0 &&
        (err = ao2_cache_create(&g->local_cache, "shm", pconf))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0011: the node-local cache of "
                     "ApiOAuth2CacheLocalTTL: %s; set ApiOAuth2CacheLocalTTL 0",
                     err);
        return !OK;
    }
    if (g->cache->type->init(g->cache, s, pconf, ptemp) != APR_SUCCESS ||
        (g->local_cache && g->local_cache->type->init(g->local_cache, s, pconf,
                                                      ptemp) != APR_SUCCESS)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0010: cannot set up the validation cache %s; the "
                     "AO2K line before says why",
                     g->cache->spec);
        return !OK;
    }
    return setup_revlog(pconf, s, g);
}

/* Warnings about choices that work but deserve a second look. */
static void warn_weak_settings(server_rec *s, const ao2_global_t *g)
{
    int i;

    for (i = 0; i < g->providers->nelts; i++) {
        const ao2_provider_t *pv =
            APR_ARRAY_IDX(g->providers, i, ao2_provider_t *);
        const char *url = pv->token_url ? pv->token_url : pv->issuer;
        if (strncasecmp(url, "http:", 5) == 0)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "AO2C0007: provider %s is reached over plain http; "
                         "use https outside a test bed",
                         pv->name);
    }
    for (i = 0; i < g->client_dirs->nelts; i++) {
        const ao2_dir_conf_t *dc =
            APR_ARRAY_IDX(g->client_dirs, i, ao2_dir_conf_t *);
        if (dc->binding && dc->binding->introspectors_ambiguous &&
            dc->binding->introspector == NULL)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "AO2C0036: %s has clients of several providers that "
                         "introspect: an opaque Bearer token there is refused "
                         "without asking any (one of them would learn the "
                         "others' tokens); ApiOAuth2IntrospectWith PROVIDER "
                         "names the one to ask",
                         dc->path ? dc->path : "a section");
    }
    /* Where it was written, not per API location: a nested or enclosing
     * section merges into an endpoint's configuration at request time. */
    for (i = 0; i < g->auth_off->nelts; i++) {
        const ao2_conf_site_t *w =
            &APR_ARRAY_IDX(g->auth_off, i, ao2_conf_site_t);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "AO2C0008: ApiOAuth2ClientAuthentication is off for %s "
                     "(%s:%d): anyone who knows a client_id and a "
                     "client_user_identity can get that user's tokens on the "
                     "API endpoints it reaches",
                     w->section, w->file, w->line);
    }
}

/* What the store cannot keep, said once at start-up with the fix: a
 * tombstone lost before its token expires lets the token back in, and a
 * store shared with other servers tells this one of their revokes only
 * through the revocation log, which a node-local cache does not have. */
static void warn_store(server_rec *s, const ao2_global_t *g)
{
    ao2_store_traits_t t;

    g->store->type->traits(g->store, &t);
    if (t.shared && g->revlog == NULL)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "AO2C0071: ApiOAuth2TokenStore %s is shared with other "
                     "servers, but ApiOAuth2Cache %s is this server's own: "
                     "a revoke or refresh on another server counts here only "
                     "once the cached verdict expires (ApiOAuth2CacheTTL, "
                     "%d s), not within 1 s; set ApiOAuth2Cache "
                     "memcache:HOST:PORT (one memcached for every server) to "
                     "have the revocation log",
                     g->store->spec, g->cache->spec, g->cache_ttl);
    if (t.loses)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "AO2C0072: ApiOAuth2TokenStore %s %s: the tombstones of "
                     "revoked and refreshed-away tokens go with them, and a "
                     "token its provider still accepts (a JWT access token, "
                     "a provider without a revocation endpoint) is accepted "
                     "again until it expires%s; use dbm:PATH, or "
                     "socache:redis with persistence and no eviction",
                     g->store->spec, t.loses,
                     g->revlog ? " (servers that learned the revoke from the "
                                 "revocation log keep refusing it)"
                               : "");
}

/* Before anything records: the table has a slot per provider. */
static int setup_metrics(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                         const ao2_global_t *g)
{
    const char **names =
        apr_palloc(ptemp, sizeof(char *) * (g->providers->nelts + 1));
    apr_status_t rv;
    int i;

    for (i = 0; i < g->providers->nelts; i++)
        names[i] = APR_ARRAY_IDX(g->providers, i, ao2_provider_t *)->name;
    rv = ao2_metrics_init(pconf, names, g->providers->nelts, g->metrics);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     "AO2C0012: cannot create shared memory for the metrics; "
                     "raise the system's shared memory limits or set "
                     "ApiOAuth2Metrics off");
        return !OK;
    }
    return OK;
}

int ao2_config_post(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    ao2_global_t *g = ao2_global_get(pconf);
    const ao2_pc_user_t *privsep;
    ao2_pc_user_t u;
    const char *err;

    ao2_config_finish(s);
    if (setup_metrics(pconf, ptemp, s, g) != OK)
        return !OK;
    /* Zero here, each child's own after the fork. */
    g->provider_gates = apr_pcalloc(pconf, sizeof(*g->provider_gates) *
                                               (g->providers->nelts + 1));
    if (g->apis->nelts == 0 && g->store == NULL && g->providers->nelts == 0)
        return OK; /* loaded, not used: create no files */
    if (g->store == NULL &&
        (err = ao2_store_create(&g->store, AO2_DEFAULT_STORE, pconf))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0005: the default token store: %s; set "
                     "ApiOAuth2TokenStore",
                     err);
        return !OK;
    }
    if (setup_caches(pconf, ptemp, s, g) != OK)
        return !OK;
    if (g->store->type->init(g->store, s, pconf, ptemp) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0006: cannot open the token store %s; the AO2S "
                     "line before says why",
                     g->store->spec);
        return !OK;
    }
    u = run_user(ptemp);
    if (check_store_paths(ptemp, s, g->store, &u) != OK)
        return !OK;
    /* Without a privilege drop the children are the user who owns the
     * files: there is nobody to keep out. */
    privsep = geteuid() == 0 && u.uid != 0 ? &u : NULL;
    if (g->key_file == NULL && default_key(pconf, ptemp, s, g, privsep) != OK)
        return !OK;
    if (check_key(ptemp, s, g->key_file, privsep) != OK)
        return !OK;
    /* Its records are MACed: after the key. */
    if (setup_journal(pconf, ptemp, s, g, privsep) != OK)
        return !OK;
    if (ao2_discovery_init(pconf, s, g->providers) != APR_SUCCESS)
        return !OK;
    warn_weak_settings(s, g);
    warn_store(s, g);
    return OK;
}
