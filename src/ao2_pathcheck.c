/* Path checks by permission bits. A user reaches a file when it may search
 * (x) every directory from / down to it; it can replace a file when it may
 * write the file or any of those directories, since whoever writes a
 * directory can rename what is in it. */
#include "ao2_pathcheck.h"

#include <apr_strings.h>
#include <apr_tables.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Which class of the mode applies to u: 6 owner, 3 group, 0 other. */
static int mode_shift(const struct stat *st, const ao2_pc_user_t *u)
{
    int i;

    if (st->st_uid == u->uid)
        return 6;
    if (st->st_gid == u->gid)
        return 3;
    for (i = 0; i < u->ngroups; i++) {
        if (u->groups[i] == st->st_gid)
            return 3;
    }
    return 0;
}

/* The rwx bits of st's mode that apply to u. */
static int granted(const struct stat *st, const ao2_pc_user_t *u)
{
    return (int)((st->st_mode >> mode_shift(st, u)) & 7);
}

static int may(const struct stat *st, const ao2_pc_user_t *u, int bits)
{
    if (u->uid == 0)
        return 1; /* root passes any permission bit check on a directory */
    return (granted(st, u) & bits) == bits;
}

static const char *owner_name(apr_pool_t *p, uid_t uid)
{
    struct passwd pw, *found = NULL;
    char buf[1024];

    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found)
        return apr_pstrdup(p, found->pw_name);
    return apr_psprintf(p, "%lu", (unsigned long)uid);
}

static const char *describe(apr_pool_t *p, const struct stat *st)
{
    return apr_psprintf(p, "mode %04o, owner %s",
                        (unsigned)(st->st_mode & 07777),
                        owner_name(p, st->st_uid));
}

/* "readable", "writable and searchable", ... */
static const char *bit_words(apr_pool_t *p, int bits, int dir)
{
    const char *w[3];
    int n = 0;

    if (bits & AO2_PC_R)
        w[n++] = "readable";
    if (bits & AO2_PC_W)
        w[n++] = "writable";
    if (bits & AO2_PC_X)
        w[n++] = dir ? "searchable" : "executable";
    if (n == 3)
        return apr_psprintf(p, "%s, %s and %s", w[0], w[1], w[2]);
    if (n == 2)
        return apr_psprintf(p, "%s and %s", w[0], w[1]);
    return n ? w[0] : "usable";
}

static const char *bit_letters(apr_pool_t *p, int bits)
{
    return apr_pstrcat(p, (bits & AO2_PC_R) ? "r" : "",
                       (bits & AO2_PC_W) ? "w" : "",
                       (bits & AO2_PC_X) ? "x" : "", NULL);
}

static ao2_pc_problem_t *problem(apr_pool_t *p, const char *path,
                                 const char *why, const char *fix)
{
    ao2_pc_problem_t *pr = apr_pcalloc(p, sizeof(*pr));

    pr->path = path;
    pr->why = why;
    pr->fix = fix;
    return pr;
}

static ao2_pc_problem_t *stat_problem(apr_pool_t *p, const char *path, int err)
{
    if (err == ENOENT)
        return problem(p, path, apr_pstrcat(p, path, " does not exist", NULL),
                       NULL);
    if (err == ENOTDIR)
        return problem(
            p, path,
            apr_pstrcat(p, path, ": a component is not a directory", NULL),
            NULL);
    return problem(
        p, path,
        apr_psprintf(p, "%s cannot be examined: %s", path, strerror(err)),
        NULL);
}

/* u lacks bits on path (stat st): the problem, with a fix. A directory on
 * the way gets the bit for u's class; the path itself is what u works on,
 * so the fix there hands it to u. */
static ao2_pc_problem_t *lacks(apr_pool_t *p, const char *path,
                               const struct stat *st, const ao2_pc_user_t *u,
                               int bits, int last)
{
    static const char classes[] = {'o', 0, 0, 'g', 0, 0, 'u'};
    int missing = bits & ~granted(st, u);
    const char *why = apr_psprintf(p, "%s is not %s by %s (%s)", path,
                                   bit_words(p, missing, S_ISDIR(st->st_mode)),
                                   u->name, describe(p, st));
    const char *fix =
        last && st->st_uid != u->uid
            ? apr_psprintf(p, "chown %s %s", u->name, path)
            : apr_psprintf(p, "chmod %c+%s %s", classes[mode_shift(st, u)],
                           bit_letters(p, missing), path);

    return problem(p, path, why, fix);
}

/* The directories on the way to path, outermost first: "/", "/a", "/a/b"
 * for "/a/b/c". */
static apr_array_header_t *ancestors(apr_pool_t *p, const char *path)
{
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(const char *));
    const char *s;

    APR_ARRAY_PUSH(out, const char *) = "/";
    for (s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
        if (s[-1] != '/')
            APR_ARRAY_PUSH(out, const char *) =
                apr_pstrmemdup(p, path, s - path);
    }
    return out;
}

static const ao2_pc_problem_t *not_absolute(apr_pool_t *p, const char *path)
{
    return problem(
        p, path, apr_pstrcat(p, path, " is not an absolute path", NULL), NULL);
}

static const ao2_pc_problem_t *reach_one(apr_pool_t *p, const char *path,
                                         const ao2_pc_user_t *u, int need)
{
    apr_array_header_t *dirs = ancestors(p, path);
    struct stat st;
    int i;

    for (i = 0; i < dirs->nelts; i++) {
        const char *d = APR_ARRAY_IDX(dirs, i, const char *);
        if (stat(d, &st) != 0)
            return stat_problem(p, d, errno);
        if (!S_ISDIR(st.st_mode))
            return problem(p, d, apr_pstrcat(p, d, " is not a directory", NULL),
                           NULL);
        if (!may(&st, u, AO2_PC_X))
            return lacks(p, d, &st, u, AO2_PC_X, 0);
    }
    if (stat(path, &st) != 0)
        return stat_problem(p, path, errno);
    if (need && !may(&st, u, need))
        return lacks(p, path, &st, u, need, 1);
    return NULL;
}

/* The path with every symbolic link resolved, or NULL when that is the
 * path itself or cannot be made. */
static const char *resolved(apr_pool_t *p, const char *path)
{
    char buf[PATH_MAX];

    if (realpath(path, buf) == NULL || strcmp(buf, path) == 0)
        return NULL;
    return apr_pstrdup(p, buf);
}

const ao2_pc_problem_t *ao2_path_reach(apr_pool_t *p, const char *path,
                                       const ao2_pc_user_t *u, int need)
{
    const ao2_pc_problem_t *pr;
    const char *real;

    if (path == NULL || path[0] != '/')
        return not_absolute(p, path ? path : "");
    if ((pr = reach_one(p, path, u, need)))
        return pr;
    real = resolved(p, path);
    return real ? reach_one(p, real, u, need) : NULL;
}

/* Can u rename or rewrite path (lstat st)? */
static ao2_pc_problem_t *replace_self(apr_pool_t *p, const char *path,
                                      const struct stat *st,
                                      const ao2_pc_user_t *u)
{
    if (st->st_uid == u->uid)
        return problem(p, path,
                       apr_psprintf(p, "%s is owned by %s (%s)", path, u->name,
                                    describe(p, st)),
                       apr_psprintf(p, "chown root %s", path));
    if (!S_ISLNK(st->st_mode) && may(st, u, AO2_PC_W))
        return problem(p, path,
                       apr_psprintf(p, "%s is writable by %s (%s)", path,
                                    u->name, describe(p, st)),
                       apr_psprintf(p, "chmod go-w %s", path));
    return NULL;
}

static const ao2_pc_problem_t *replaceable_one(apr_pool_t *p, const char *path,
                                               const ao2_pc_user_t *u)
{
    apr_array_header_t *dirs = ancestors(p, path);
    struct stat st, below;
    int i, below_known;

    below_known = lstat(path, &below) == 0;
    if (below_known) {
        ao2_pc_problem_t *pr = replace_self(p, path, &below, u);
        if (pr)
            return pr;
    }
    /* Innermost first: the closest directory is the likeliest culprit. */
    for (i = dirs->nelts - 1; i >= 0; i--) {
        const char *d = APR_ARRAY_IDX(dirs, i, const char *);
        ao2_pc_problem_t *pr = NULL;
        if (lstat(d, &st) != 0)
            return stat_problem(p, d, errno);
        if (st.st_uid == u->uid || S_ISLNK(st.st_mode))
            pr = replace_self(p, d, &st, u);
        else if (may(&st, u, AO2_PC_W) &&
                 !((st.st_mode & S_ISVTX) && below_known &&
                   below.st_uid != u->uid))
            pr = problem(p, d,
                         apr_psprintf(p, "%s is writable by %s (%s)", d,
                                      u->name, describe(p, &st)),
                         NULL);
        if (pr) {
            /* The directory is likely the run user's on purpose (a store's
             * own directory, which AO2C0030 wants writable): taking it
             * away would break that and the hints would go round in a
             * circle. Moving the file is the cure that always holds. */
            pr->fix = apr_psprintf(p,
                                   "move %s out of %s, into a directory "
                                   "only root may write",
                                   path, d);
            return pr;
        }
        below = st;
        below_known = 1;
    }
    return NULL;
}

const ao2_pc_problem_t *ao2_path_replaceable(apr_pool_t *p, const char *path,
                                             const ao2_pc_user_t *u)
{
    const ao2_pc_problem_t *pr;
    const char *real;

    if (path == NULL || path[0] != '/')
        return not_absolute(p, path ? path : "");
    if (u->uid == 0)
        return NULL; /* root can replace anything: nothing to protect */
    if ((pr = replaceable_one(p, path, u)))
        return pr;
    real = resolved(p, path);
    return real ? replaceable_one(p, real, u) : NULL;
}

static const char *joined(apr_pool_t *p, const char *a, const char *b)
{
    return a ? apr_pstrcat(p, a, "; ", b, NULL) : b;
}

const char *ao2_path_secret(apr_pool_t *p, const char *path, uid_t starter,
                            const ao2_pc_user_t *u, int *refuse)
{
    const ao2_pc_problem_t *pr;
    const char *soft = NULL;
    struct stat st;

    *refuse = 1;
    if (lstat(path, &st) != 0)
        return stat_problem(p, path, errno)->why;
    if (S_ISLNK(st.st_mode))
        return apr_pstrcat(p, path, " is a symbolic link; name the file itself",
                           NULL);
    if (!S_ISREG(st.st_mode))
        return apr_pstrcat(p, path, " is not a regular file", NULL);
    if (u && (pr = ao2_path_replaceable(p, path, u)))
        return apr_psprintf(p, "%s could replace it: %s (fix: %s)", u->name,
                            pr->why, pr->fix);
    if (st.st_mode & S_IWOTH)
        return apr_psprintf(p, "%s is writable by everyone (%s)", path,
                            describe(p, &st));
    *refuse = 0;
    if (st.st_mode & S_IWGRP)
        soft = apr_psprintf(p, "%s is writable by its group (%s)", path,
                            describe(p, &st));
    if (st.st_uid != 0 && st.st_uid != starter)
        soft = joined(p, soft,
                      apr_psprintf(p, "%s is owned by %s, not root", path,
                                   owner_name(p, st.st_uid)));
    if (st.st_mode & (S_IRGRP | S_IROTH))
        soft = joined(p, soft,
                      apr_psprintf(p,
                                   "%s is readable by group or others (%s); "
                                   "make it 0600 root",
                                   path, describe(p, &st)));
    return soft;
}
