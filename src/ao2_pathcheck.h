/* Can a given user reach a path, or replace it? Unix permission bits along
 * every component, for the start-up checks of the store, key and socket
 * paths. No httpd: the user is passed in, so unit tests make one up. POSIX
 * ACLs and LSMs (AppArmor, SELinux) are not looked at. */
#ifndef AO2_PATHCHECK_H
#define AO2_PATHCHECK_H

#include <apr_pools.h>
#include <sys/types.h>

typedef struct ao2_pc_user {
    const char *name; /* for messages */
    uid_t uid;
    gid_t gid;
    const gid_t *groups; /* supplementary groups */
    int ngroups;
} ao2_pc_user_t;

/* What the user needs on the path itself. */
#define AO2_PC_R 4
#define AO2_PC_W 2
#define AO2_PC_X 1

typedef struct ao2_pc_problem {
    const char *path; /* the component at fault */
    /* In words, e.g. "/root is not searchable by www-data (mode 0700, owner
     * root)" */
    const char *why;
    const char *fix; /* a command that cures it, e.g. "chmod o+x /root" */
} ao2_pc_problem_t;

/* NULL when u can search every directory on the way to path (as written and
 * with symbolic links resolved) and has the need bits on path itself;
 * otherwise the first problem. A path that does not exist is one. */
const ao2_pc_problem_t *ao2_path_reach(apr_pool_t *p, const char *path,
                                       const ao2_pc_user_t *u, int need);

/* NULL unless u could replace path or what it names: u owns or may write
 * the path, or owns or may write a directory on the way (a sticky
 * directory counts only when u owns the entry in it). path may be missing:
 * then only the directories are looked at. */
const ao2_pc_problem_t *ao2_path_replaceable(apr_pool_t *p, const char *path,
                                             const ao2_pc_user_t *u);

/* A secret that root reads at start-up (the store key). NULL when it is a
 * plain file, owned by root or starter, not readable or writable by group
 * or others, and (u not NULL) out of u's reach. Otherwise the problems in
 * words, worst first; *refuse is set when the file cannot serve as a key
 * or u could replace it, cleared when they are only worth a warning. */
const char *ao2_path_secret(apr_pool_t *p, const char *path, uid_t starter,
                            const ao2_pc_user_t *u, int *refuse);

#endif
