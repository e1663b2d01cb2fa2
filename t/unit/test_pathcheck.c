/* ao2_pathcheck: who can reach and who can replace a path, by permission
 * bits, on real files in a fresh directory under /tmp per case, with a
 * made-up run user. Needs root (to chown); skipped otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "ao2_pathcheck.h"
#include "tap.h"

#define RUN_UID   65534 /* nobody */
#define RUN_GID   65534
#define OTHER_GID 4242

static const ao2_pc_user_t run_user = {"nobody", RUN_UID, RUN_GID, NULL, 0};

static apr_status_t remove_tree(void *dir)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'",
             (const char *)dir, (const char *)dir);
    if (system(cmd) != 0)
        diag("cannot remove %s", (const char *)dir);
    return APR_SUCCESS;
}

/* A fresh directory, root 0755, removed with the pool. */
static const char *scratch(apr_pool_t *p)
{
    char *dir = apr_pstrdup(p, "/tmp/ao2-pathcheck.XXXXXX");

    if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0)
        return NULL;
    apr_pool_cleanup_register(p, dir, remove_tree, apr_pool_cleanup_null);
    return dir;
}

/* mkdir or a file, then mode and owner: a test's whole setup in one line. */
static const char *make(apr_pool_t *p, const char *base, const char *name,
                        int dir, mode_t mode, uid_t uid, gid_t gid)
{
    const char *path = apr_pstrcat(p, base, "/", name, NULL);

    if (dir) {
        if (mkdir(path, 0700) != 0)
            diag("mkdir %s: %s", path, strerror(errno));
    } else {
        FILE *f = fopen(path, "w");
        if (f == NULL || fputs("0123456789abcdef0123456789abcdef", f) < 0 ||
            fclose(f) != 0)
            diag("write %s: %s", path, strerror(errno));
    }
    if (chown(path, uid, gid) != 0 || chmod(path, mode) != 0)
        diag("chown/chmod %s: %s", path, strerror(errno));
    return path;
}

static int as_root(void)
{
    return geteuid() == 0;
}

/* Every row: a tree, the path checked, what the user needs, and the exact
 * words expected ("" for no problem); %s in a message stands for the
 * scratch directory. */
static void reach_rows(apr_pool_t *p)
{
    static const struct {
        const char *name;
        mode_t mode_a, mode_b;
        uid_t uid_b;
        gid_t gid_b;
        int need;
        const char *why, *fix;
    } rows[] = {
        {"all open", 0755, 0755, 0, 0, AO2_PC_X, "", ""},
        {"a component 0700 root", 0755, 0700, 0, 0, AO2_PC_X,
         "%s/a/b is not searchable by nobody (mode 0700, owner root)",
         "chown nobody %s/a/b"},
        {"a parent 0700 root", 0700, 0755, 0, 0, AO2_PC_X,
         "%s/a is not searchable by nobody (mode 0700, owner root)",
         "chmod o+x %s/a"},
        {"group bits, not a member", 0755, 0750, 0, OTHER_GID, AO2_PC_X,
         "%s/a/b is not searchable by nobody (mode 0750, owner root)",
         "chown nobody %s/a/b"},
        {"owner bits", 0755, 0600, RUN_UID, 0, AO2_PC_X,
         "%s/a/b is not searchable by nobody (mode 0600, owner nobody)",
         "chmod u+x %s/a/b"},
        {"a store the user cannot write", 0755, 0700, 0, 0,
         AO2_PC_R | AO2_PC_W | AO2_PC_X,
         "%s/a/b is not readable, writable and searchable by nobody (mode "
         "0700, owner root)",
         "chown nobody %s/a/b"},
        {"the user's own store", 0755, 0700, RUN_UID, RUN_GID,
         AO2_PC_R | AO2_PC_W | AO2_PC_X, "", ""},
        {"a dir x-only for others", 0755, 0711, 0, 0, AO2_PC_X, "", ""},
        {"a parent without x for others", 0754, 0755, 0, 0, AO2_PC_X,
         "%s/a is not searchable by nobody (mode 0754, owner root)",
         "chmod o+x %s/a"},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(rows); i++) {
        apr_pool_t *sub;
        const char *base, *b;
        const ao2_pc_problem_t *pr;

        apr_pool_create(&sub, p);
        base = scratch(sub);
        make(sub, base, "a", 1, 0755, 0, 0);
        b = make(sub, base, "a/b", 1, rows[i].mode_b, rows[i].uid_b,
                 rows[i].gid_b);
        chmod(apr_pstrcat(sub, base, "/a", NULL), rows[i].mode_a);
        pr = ao2_path_reach(sub, b, &run_user, rows[i].need);
        is_str(pr ? pr->why : "", apr_psprintf(sub, rows[i].why, base),
               "reach, %s: why", rows[i].name);
        is_str(pr && pr->fix ? pr->fix : "",
               apr_psprintf(sub, rows[i].fix, base), "reach, %s: fix",
               rows[i].name);
        apr_pool_destroy(sub);
    }
}

static void reach_groups_and_links(apr_pool_t *p)
{
    const char *base = scratch(p);
    gid_t groups[] = {100, OTHER_GID};
    ao2_pc_user_t member = {"nobody", RUN_UID, RUN_GID, groups, 2};
    const char *d = make(p, base, "g", 1, 0710, 0, OTHER_GID);
    const char *priv = make(p, base, "priv", 1, 0700, 0, 0);
    const char *link = apr_pstrcat(p, base, "/link", NULL);
    const ao2_pc_problem_t *pr;
    ao2_pc_user_t root = {"root", 0, 0, NULL, 0};

    ok(ao2_path_reach(p, d, &member, AO2_PC_X) == NULL,
       "a supplementary group's bits count");
    ok(ao2_path_reach(p, d, &run_user, AO2_PC_X) != NULL,
       "without the group, they do not");
    make(p, base, "g2", 1, 0740, 0, OTHER_GID);
    make(p, base, "g2/x", 1, 0755, 0, 0);
    pr = ao2_path_reach(p, apr_pstrcat(p, base, "/g2/x", NULL), &member,
                        AO2_PC_X);
    is_str(pr ? pr->fix : NULL, apr_pstrcat(p, "chmod g+x ", base, "/g2", NULL),
           "a member of the directory's group: the fix is g+x");
    make(p, base, "priv/store", 1, 0700, RUN_UID, RUN_GID);
    if (symlink(apr_pstrcat(p, priv, "/store", NULL), link) != 0)
        diag("symlink: %s", strerror(errno));
    pr = ao2_path_reach(p, link, &run_user, AO2_PC_X);
    is_str(pr ? pr->path : NULL, priv,
           "a link is followed: the directory behind it counts");
    pr = ao2_path_reach(p, apr_pstrcat(p, base, "/missing/x", NULL), &run_user,
                        AO2_PC_X);
    is_str(pr ? pr->why : NULL,
           apr_pstrcat(p, base, "/missing does not exist", NULL),
           "a missing component is named");
    pr = ao2_path_reach(p, "relative/path", &run_user, AO2_PC_X);
    is_str(pr ? pr->why : NULL, "relative/path is not an absolute path",
           "a relative path is refused");
    ok(ao2_path_reach(p, priv, &root, AO2_PC_R | AO2_PC_W | AO2_PC_X) == NULL,
       "root reaches everything");
}

static void replaceable_rows(apr_pool_t *p)
{
    static const struct {
        const char *name;
        mode_t dir_mode;
        uid_t dir_uid;
        mode_t file_mode;
        uid_t file_uid;
        const char *culprit; /* "" none, "d" the directory, "f" the file */
    } rows[] = {
        {"root file in a root dir", 0755, 0, 0600, 0, ""},
        {"file owned by the user", 0755, 0, 0600, RUN_UID, "f"},
        {"file writable by others", 0755, 0, 0602, 0, "f"},
        {"dir owned by the user", 0700, RUN_UID, 0600, 0, "d"},
        {"dir writable by others", 0777, 0, 0600, 0, "d"},
        {"sticky dir, root's file", 01777, 0, 0600, 0, ""},
        {"sticky dir, the user's file", 01777, 0, 0600, RUN_UID, "f"},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(rows); i++) {
        apr_pool_t *sub;
        const char *base, *d, *f, *want;
        const ao2_pc_problem_t *pr;

        apr_pool_create(&sub, p);
        base = scratch(sub);
        d = make(sub, base, "d", 1, rows[i].dir_mode, rows[i].dir_uid, 0);
        chmod(d, 0755);
        f = make(sub, base, "d/key", 0, rows[i].file_mode, rows[i].file_uid, 0);
        chmod(d, rows[i].dir_mode);
        pr = ao2_path_replaceable(sub, f, &run_user);
        want = !*rows[i].culprit ? NULL : *rows[i].culprit == 'd' ? d : f;
        is_str(pr ? pr->path : NULL, want, "replaceable, %s", rows[i].name);
        /* A directory of the run user's may be so on purpose (a store's):
         * the fix moves the file instead of taking the directory away. */
        if (*rows[i].culprit == 'd')
            is_str(pr ? pr->fix : NULL,
                   apr_psprintf(sub,
                                "move %s out of %s, into a directory only "
                                "root may write",
                                f, d),
                   "replaceable, %s: the fix moves the file", rows[i].name);
        apr_pool_destroy(sub);
    }
}

static void replaceable_missing(apr_pool_t *p)
{
    const char *base = scratch(p);
    const char *open_dir = make(p, base, "open", 1, 0777, 0, 0);
    const ao2_pc_problem_t *pr;

    pr = ao2_path_replaceable(p, apr_pstrcat(p, base, "/new.key", NULL),
                              &run_user);
    ok(pr == NULL, "a missing file in a root directory is safe to create");
    pr = ao2_path_replaceable(p, apr_pstrcat(p, open_dir, "/new.key", NULL),
                              &run_user);
    is_str(pr ? pr->why : NULL,
           apr_pstrcat(p, open_dir,
                       " is writable by nobody (mode 0777, owner root)", NULL),
           "a missing file in a writable directory is not");
}

static void secret_rows(apr_pool_t *p)
{
    const char *base = scratch(p);
    const char *good = make(p, base, "good", 0, 0600, 0, 0);
    const char *readable = make(p, base, "readable", 0, 0644, 0, 0);
    const char *gw = make(p, base, "gw", 0, 0620, 0, OTHER_GID);
    const char *ow = make(p, base, "ow", 0, 0602, 0, 0);
    const char *mine = make(p, base, "mine", 0, 0600, RUN_UID, 0);
    const char *other = make(p, base, "other", 0, 0600, 4243, 0);
    const char *dir = make(p, base, "dir", 1, 0700, 0, 0);
    const char *link = apr_pstrcat(p, base, "/link", NULL);
    const char *msg;
    int refuse = -1;

    if (symlink(good, link) != 0)
        diag("symlink: %s", strerror(errno));
    msg = ao2_path_secret(p, good, 0, &run_user, &refuse);
    ok(msg == NULL && refuse == 0, "0600 root: fine");
    msg = ao2_path_secret(p, readable, 0, &run_user, &refuse);
    is_str(msg,
           apr_pstrcat(p, readable,
                       " is readable by group or others (mode 0644, owner "
                       "root); make it 0600 root",
                       NULL),
           "0644: a warning");
    is_int(refuse, 0, "0644: not refused");
    msg = ao2_path_secret(p, gw, 0, &run_user, &refuse);
    ok(msg && strstr(msg, "is writable by its group") && refuse == 0,
       "g+w, another group: a warning (%s)", msg ? msg : "NULL");
    msg = ao2_path_secret(p, ow, 0, &run_user, &refuse);
    ok(msg && strstr(msg, "nobody could replace it") && refuse == 1,
       "o+w: refused (%s)", msg ? msg : "NULL");
    msg = ao2_path_secret(p, ow, 0, NULL, &refuse);
    ok(msg && strstr(msg, "writable by everyone") && refuse == 1,
       "o+w without a run user: refused (%s)", msg ? msg : "NULL");
    msg = ao2_path_secret(p, mine, 0, &run_user, &refuse);
    ok(msg && strstr(msg, "is owned by nobody") && refuse == 1,
       "owned by the run user: refused (%s)", msg ? msg : "NULL");
    msg = ao2_path_secret(p, other, 0, &run_user, &refuse);
    ok(msg && strstr(msg, "not root") && refuse == 0,
       "owned by someone else: a warning (%s)", msg ? msg : "NULL");
    msg = ao2_path_secret(p, other, 4243, &run_user, &refuse);
    ok(msg == NULL, "owned by the user httpd starts as: fine");
    msg = ao2_path_secret(p, link, 0, &run_user, &refuse);
    is_str(msg,
           apr_pstrcat(p, link,
                       " is a symbolic link; name the file "
                       "itself",
                       NULL),
           "a symbolic link: refused");
    is_int(refuse, 1, "a symbolic link: refuse set");
    msg = ao2_path_secret(p, dir, 0, &run_user, &refuse);
    is_str(msg, apr_pstrcat(p, dir, " is not a regular file", NULL),
           "a directory: refused");
    msg = ao2_path_secret(p, apr_pstrcat(p, base, "/none", NULL), 0, &run_user,
                          &refuse);
    ok(msg && strstr(msg, "does not exist") && refuse == 1, "missing: refused");
}

static void guarded(void (*fn)(apr_pool_t *), apr_pool_t *p)
{
    if (!as_root()) {
        ok(1, "# SKIP path checks need root to chown");
        return;
    }
    fn(p);
}

static void t_reach_rows(apr_pool_t *p)
{
    guarded(reach_rows, p);
}
static void t_reach_groups_and_links(apr_pool_t *p)
{
    guarded(reach_groups_and_links, p);
}
static void t_replaceable_rows(apr_pool_t *p)
{
    guarded(replaceable_rows, p);
}
static void t_replaceable_missing(apr_pool_t *p)
{
    guarded(replaceable_missing, p);
}
static void t_secret_rows(apr_pool_t *p)
{
    guarded(secret_rows, p);
}

const ao2_test_case_t ao2_suite_pathcheck[] = {
    {"reach", t_reach_rows},
    {"groups and links", t_reach_groups_and_links},
    {"replaceable", t_replaceable_rows},
    {"replaceable, missing file", t_replaceable_missing},
    {"secret files", t_secret_rows},
    {NULL, NULL},
};
