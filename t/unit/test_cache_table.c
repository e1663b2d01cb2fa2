/* ao2_cache_table: the shm cache's table on plain memory (and, for the
 * crash case, on a shared mapping between two processes). */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "ao2_cache_table.h"
#include "tap.h"

#define NOW  1000000
#define SEED APR_UINT64_C(0x5eed)

static ao2_cache_table_t *make_table(apr_pool_t *p, apr_uint32_t entries)
{
    apr_size_t size = ao2_cache_table_size(entries);
    ao2_cache_table_t *t = NULL;
    /* Deliberately not aligned to a line: init aligns inside the block. */
    char *mem = (char *)apr_palloc(p, size + 8) + 8;

    ok(ao2_cache_table_init(&t, mem, size, entries, SEED) == APR_SUCCESS,
       "init %u entries", entries);
    return t;
}

/* get into a NUL-terminated string; NULL on a miss. */
static const char *get_str(apr_pool_t *p, ao2_cache_table_t *t, const char *key,
                           apr_int64_t now)
{
    char buf[AO2_CACHE_TABLE_MAX_VALUE];
    apr_size_t len = sizeof(buf);

    if (ao2_cache_table_get(t, key, strlen(key), buf, &len, now) !=
        APR_SUCCESS) {
        return NULL;
    }
    return apr_pstrmemdup(p, buf, len);
}

static apr_status_t set_str(ao2_cache_table_t *t, const char *key,
                            const char *val, apr_int64_t expiry)
{
    return ao2_cache_table_set(t, key, strlen(key), val, strlen(val), expiry,
                               NOW);
}

static void sizes(apr_pool_t *p)
{
    ao2_cache_table_t *t;

    is_int(ao2_cache_table_size(AO2_CACHE_TABLE_MIN_ENTRIES - 1), 0,
           "too few entries");
    is_int(ao2_cache_table_size(AO2_CACHE_TABLE_MAX_ENTRIES + 1), 0,
           "too many entries");
    ok(ao2_cache_table_size(8192) > 8192 * (apr_size_t)576, "8192 fit");
    t = make_table(p, 100);
    is_int(ao2_cache_table_capacity(t),
           (100 + AO2_CACHE_TABLE_WAYS - 1) / AO2_CACHE_TABLE_WAYS *
               AO2_CACHE_TABLE_WAYS,
           "rounded up to whole sets");
    ok(ao2_cache_table_init(&t, apr_palloc(p, 64), 64, 64, SEED) == APR_EINVAL,
       "init refuses a block too small");
}

static void set_get(apr_pool_t *p)
{
    ao2_cache_table_t *t = make_table(p, 8192);
    char buf[4];
    apr_size_t len;

    is_str(get_str(p, t, "k1", NOW), NULL, "miss on an empty table");
    ok(set_str(t, "k1", "value one", NOW + 10) == APR_SUCCESS, "set");
    is_str(get_str(p, t, "k1", NOW), "value one", "get");
    is_str(get_str(p, t, "k2", NOW), NULL, "other key misses");

    ok(set_str(t, "k1", "v1", NOW + 10) == APR_SUCCESS, "overwrite");
    is_str(get_str(p, t, "k1", NOW), "v1", "shorter value replaces longer");
    ok(set_str(t, "k1", "a longer value now", NOW + 10) == APR_SUCCESS,
       "overwrite again");
    is_str(get_str(p, t, "k1", NOW), "a longer value now", "longer value");

    len = sizeof(buf);
    ok(ao2_cache_table_get(t, "k1", 2, buf, &len, NOW) == APR_SUCCESS &&
           len == 18 && memcmp(buf, "a lo", 4) == 0,
       "small buffer: first bytes copied, full length told");

    ok(set_str(t, "empty", "", NOW + 10) == APR_SUCCESS, "empty value");
    is_str(get_str(p, t, "empty", NOW), "", "empty value read back");
}

static void keys(apr_pool_t *p)
{
    ao2_cache_table_t *t = make_table(p, 64);
    char key[AO2_CACHE_TABLE_MAX_KEY + 1];
    char buf[8];
    apr_size_t len = sizeof(buf);

    memset(key, 'k', sizeof(key));
    ok(ao2_cache_table_set(t, key, AO2_CACHE_TABLE_MAX_KEY, "max", 3, NOW + 10,
                           NOW) == APR_SUCCESS,
       "longest key stored");
    ok(ao2_cache_table_get(t, key, AO2_CACHE_TABLE_MAX_KEY, buf, &len, NOW) ==
               APR_SUCCESS &&
           len == 3,
       "longest key read back");
    ok(ao2_cache_table_set(t, key, sizeof(key), "x", 1, NOW + 10, NOW) ==
           APR_EINVAL,
       "key too long refused");
    ok(ao2_cache_table_set(t, key, 0, "x", 1, NOW + 10, NOW) == APR_EINVAL,
       "empty key refused");
    len = sizeof(buf);
    ok(ao2_cache_table_get(t, key, sizeof(key), buf, &len, NOW) == APR_EINVAL,
       "get with a key too long refused");

    /* Keys are bytes, compared with their length: no prefix, no NUL end. */
    ok(ao2_cache_table_set(t, "ab\0c", 4, "nul", 3, NOW + 10, NOW) ==
           APR_SUCCESS,
       "key with a NUL byte");
    is_str(get_str(p, t, "ab", NOW), NULL, "its prefix is another key");
    ok(set_str(t, "abcdefgh", "8", NOW + 10) == APR_SUCCESS &&
           set_str(t, "abcdefghi", "9", NOW + 10) == APR_SUCCESS,
       "keys one word and one byte apart");
    is_str(get_str(p, t, "abcdefgh", NOW), "8", "8-byte key");
    is_str(get_str(p, t, "abcdefghi", NOW), "9", "9-byte key");
    len = sizeof(buf);
    ok(ao2_cache_table_get(t, "ab\0c", 4, buf, &len, NOW) == APR_SUCCESS &&
           len == 3 && memcmp(buf, "nul", 3) == 0,
       "NUL key read back");
}

static void expiry(apr_pool_t *p)
{
    ao2_cache_table_t *t = make_table(p, 64);

    ok(set_str(t, "k", "v", NOW + 5) == APR_SUCCESS, "set for 5 s");
    is_str(get_str(p, t, "k", NOW + 4), "v", "alive a second before");
    is_str(get_str(p, t, "k", NOW + 5), NULL, "gone at its expiry");
    is_str(get_str(p, t, "k", NOW + 100), NULL, "and after");

    ok(set_str(t, "k", "v2", NOW + 5) == APR_SUCCESS, "set again");
    ok(set_str(t, "k", "v3", NOW) == APR_SUCCESS, "set already expired");
    is_str(get_str(p, t, "k", NOW - 1), NULL, "... removed the old value");
}

static void remove_cases(apr_pool_t *p)
{
    ao2_cache_table_t *t = make_table(p, 64);

    ok(set_str(t, "k", "v", NOW + 5) == APR_SUCCESS &&
           set_str(t, "l", "w", NOW + 5) == APR_SUCCESS,
       "set two");
    ok(ao2_cache_table_remove(t, "k", 1) == APR_SUCCESS, "remove");
    is_str(get_str(p, t, "k", NOW), NULL, "removed");
    is_str(get_str(p, t, "l", NOW), "w", "the other stays");
    ok(ao2_cache_table_remove(t, "k", 1) == APR_SUCCESS, "remove again");
    ok(ao2_cache_table_remove(t, "never", 5) == APR_SUCCESS, "remove absent");
    ok(ao2_cache_table_remove(t, "", 0) == APR_EINVAL, "remove empty key");
}

static void forgets(apr_pool_t *p)
{
    ao2_cache_table_t *t = make_table(p, 64);

    is_int(ao2_cache_table_forgets(t, 0), 0, "a new table: no forget");
    ok(set_str(t, "k", "v", NOW + 5) == APR_SUCCESS &&
           ao2_cache_table_remove(t, "k", 1) == APR_SUCCESS,
       "a set and a remove");
    is_int(ao2_cache_table_forgets(t, 0), 0,
           "a remove is no forget (the single-flight lock removes too)");
    is_int(ao2_cache_table_forgets(t, 1), 1, "advanced");
    is_int(ao2_cache_table_forgets(t, 0), 1, "and read back");
}

static void oversized(apr_pool_t *p)
{
    ao2_cache_table_t *t = make_table(p, 64);
    char big[AO2_CACHE_TABLE_MAX_VALUE + 1];
    char buf[AO2_CACHE_TABLE_MAX_VALUE];
    apr_size_t len = sizeof(buf), i;

    for (i = 0; i < sizeof(big); i++) {
        big[i] = (char)('a' + i % 26);
    }
    ok(ao2_cache_table_set(t, "k", 1, big, AO2_CACHE_TABLE_MAX_VALUE, NOW + 5,
                           NOW) == APR_SUCCESS,
       "largest value stored");
    ok(ao2_cache_table_get(t, "k", 1, buf, &len, NOW) == APR_SUCCESS &&
           len == AO2_CACHE_TABLE_MAX_VALUE && memcmp(buf, big, len) == 0,
       "largest value read back intact");
    ok(ao2_cache_table_set(t, "k", 1, big, sizeof(big), NOW + 5, NOW) ==
           APR_ENOSPC,
       "one byte more refused");
    is_str(get_str(p, t, "k", NOW), NULL, "and the older value is gone");
    ok(ao2_cache_table_add(t, "k", 1, big, sizeof(big), NOW + 5, NOW) ==
           APR_ENOSPC,
       "add refuses it too");
}

static void add_cases(apr_pool_t *p)
{
    ao2_cache_table_t *t = make_table(p, 64);

    ok(ao2_cache_table_add(t, "lock", 4, "1", 1, NOW + 5, NOW) == APR_SUCCESS,
       "add absent");
    ok(ao2_cache_table_add(t, "lock", 4, "2", 1, NOW + 5, NOW) == APR_EEXIST,
       "add present");
    is_str(get_str(p, t, "lock", NOW), "1", "first value kept");
    ok(ao2_cache_table_add(t, "lock", 4, "3", 1, NOW + 10, NOW + 5) ==
           APR_SUCCESS,
       "add over an expired value");
    is_str(get_str(p, t, "lock", NOW + 5), "3", "new value");
    ok(ao2_cache_table_remove(t, "lock", 4) == APR_SUCCESS &&
           ao2_cache_table_add(t, "lock", 4, "4", 1, NOW + 5, NOW) ==
               APR_SUCCESS,
       "add after remove");
    ok(ao2_cache_table_add(t, "x", 1, "1", 1, NOW, NOW) == APR_EINVAL,
       "add with no time to live refused");
}

/* Keys that fall in one set, found through the table's own placement. */
static const char **same_set(apr_pool_t *p, ao2_cache_table_t *t, int n)
{
    apr_uint32_t sets = ao2_cache_table_capacity(t) / AO2_CACHE_TABLE_WAYS;
    apr_uint32_t target = 0, s;
    const char **keys = apr_pcalloc(p, n * sizeof(*keys));
    int found = 0, out = 0, i;

    for (i = 0; found < n && i < 100000; i++) {
        const char *k = apr_psprintf(p, "key-%d", i);
        s = ao2_cache_table_set_index(t, k, strlen(k));
        out += s >= sets;
        if (found == 0) {
            target = s;
        }
        if (s == target) {
            keys[found++] = k;
        }
    }
    is_int(out, 0, "every set index in range");
    is_int(found, n, "found %d keys of one set", n);
    return keys;
}

static void eviction(apr_pool_t *p)
{
    ao2_cache_table_t *t = make_table(p, 64);
    const int W = AO2_CACHE_TABLE_WAYS;
    const char **k = same_set(p, t, W + 2);
    ao2_cache_table_stats_t st;
    int i, alive;

    /* Fill the set; k[3] expires first. */
    for (i = 0; i < W; i++) {
        set_str(t, k[i], k[i], i == 3 ? NOW + 50 : NOW + 100 + i);
    }
    for (i = 0, alive = 0; i < W; i++) {
        alive += get_str(p, t, k[i], NOW) != NULL;
    }
    is_int(alive, W, "a full set holds %d", W);

    ok(set_str(t, k[W], "new", NOW + 1000) == APR_SUCCESS, "one more");
    is_str(get_str(p, t, k[W], NOW), "new", "the newcomer is in");
    is_str(get_str(p, t, k[3], NOW), NULL, "the one nearest expiry left");
    for (i = 0, alive = 0; i < W; i++) {
        alive += i != 3 && get_str(p, t, k[i], NOW) != NULL;
    }
    is_int(alive, W - 1, "the others stayed");
    ao2_cache_table_stats(t, &st);
    is_int(st.evictions, 1, "one eviction counted");

    /* At NOW + 100, k[0] is dead: its place is taken before any live
     * entry's, and that is no eviction. */
    ok(ao2_cache_table_set(t, k[W + 1], strlen(k[W + 1]), "later", 5,
                           NOW + 1000, NOW + 100) == APR_SUCCESS,
       "one more, later");
    is_str(get_str(p, t, k[W + 1], NOW + 100), "later", "it is in");
    for (i = 1, alive = 0; i < W; i++) {
        alive += i != 3 && get_str(p, t, k[i], NOW + 100) != NULL;
    }
    is_int(alive, W - 2, "it took the expired entry's place");
    ao2_cache_table_stats(t, &st);
    is_int(st.evictions, 1, "no eviction counted");

    /* A removed entry's place is free. */
    ok(ao2_cache_table_remove(t, k[W], strlen(k[W])) == APR_SUCCESS &&
           set_str(t, k[3], "back", NOW + 1000) == APR_SUCCESS,
       "remove one, set another");
    ao2_cache_table_stats(t, &st);
    is_int(st.evictions, 1, "it took the freed place");
    for (i = 1, alive = 0; i < W; i++) {
        alive += get_str(p, t, k[i], NOW) != NULL;
    }
    is_int(alive, W - 1, "nobody else left");
}

static void many_keys(apr_pool_t *p)
{
    ao2_cache_table_t *t = make_table(p, 8192);
    int i, hits = 0, wrong = 0;

    /* Half full: with 16 ways a set overflows only by rare bad luck. */
    for (i = 0; i < 4096; i++) {
        const char *k = apr_psprintf(p, "tok:%08d", i);
        set_str(t, k, apr_psprintf(p, "v%d", i), NOW + 300);
    }
    for (i = 0; i < 4096; i++) {
        const char *v = get_str(p, t, apr_psprintf(p, "tok:%08d", i), NOW);
        hits += v != NULL;
        wrong += v && strcmp(v, apr_psprintf(p, "v%d", i)) != 0;
    }
    ok(hits >= 4090, "4096 keys in 8192 entries: %d found", hits);
    is_int(wrong, 0, "no key returns another's value");

    /* Twice the capacity: the table stays full and right. */
    for (i = 0; i < 16384; i++) {
        const char *k = apr_psprintf(p, "more:%08d", i);
        set_str(t, k, apr_psprintf(p, "m%d", i), NOW + 300 + i);
    }
    for (i = 0, hits = 0; i < 16384; i++) {
        const char *v = get_str(p, t, apr_psprintf(p, "more:%08d", i), NOW);
        hits += v != NULL;
        wrong += v && strcmp(v, apr_psprintf(p, "m%d", i)) != 0;
    }
    ok(hits > 8192 * 9 / 10 && hits <= 8192,
       "16384 keys in 8192 entries: %d found", hits);
    is_int(wrong, 0, "still no wrong value");
}

/* Readers run against writers that keep rewriting a few keys with values
 * whose bytes are all one letter and whose length depends on it: a torn
 * read would show mixed letters or a wrong length. */
typedef struct race {
    ao2_cache_table_t *t;
    volatile int stop;
    int torn, hits;
} race_t;

static const char *race_keys[] = {"ra", "rb", "rc", "rd"};

static void *race_writer(void *arg)
{
    race_t *r = arg;
    char val[AO2_CACHE_TABLE_MAX_VALUE];
    unsigned n = 0;

    while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
        char c = (char)('a' + n % 26);
        apr_size_t len = 100 + (apr_size_t)(c - 'a') * 16;
        const char *k = race_keys[n % 4];
        memset(val, c, len);
        ao2_cache_table_set(r->t, k, 2, val, len, NOW + 10, NOW);
        if (n % 7 == 0) {
            ao2_cache_table_remove(r->t, k, 2);
        }
        n++;
    }
    return NULL;
}

static void *race_reader(void *arg)
{
    race_t *r = arg;
    char buf[AO2_CACHE_TABLE_MAX_VALUE];
    int torn = 0, hits = 0;
    unsigned n = 0;
    apr_size_t i;

    while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
        apr_size_t len = sizeof(buf);
        if (ao2_cache_table_get(r->t, race_keys[n++ % 4], 2, buf, &len, NOW) ==
            APR_SUCCESS) {
            hits++;
            if (len != 100 + (apr_size_t)(buf[0] - 'a') * 16) {
                torn++;
            }
            for (i = 1; i < len && i < sizeof(buf); i++) {
                torn += buf[i] != buf[0];
            }
        }
    }
    __atomic_fetch_add(&r->torn, torn, __ATOMIC_RELAXED);
    __atomic_fetch_add(&r->hits, hits, __ATOMIC_RELAXED);
    return NULL;
}

static void concurrent(apr_pool_t *p)
{
    race_t r;
    pthread_t th[6];
    int i;

    memset(&r, 0, sizeof(r));
    r.t = make_table(p, 64);
    for (i = 0; i < 6; i++) {
        pthread_create(&th[i], NULL, i < 2 ? race_writer : race_reader, &r);
    }
    usleep(300 * 1000);
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
    for (i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
    }
    ok(r.hits > 0, "readers found values while writers wrote (%d)", r.hits);
    is_int(r.torn, 0, "no torn value");
}

/* A process killed while it writes must not wedge the table for others:
 * the robust lock hands the set to the next writer, who empties it. */
static void crashed_writer(apr_pool_t *p)
{
    apr_size_t size = ao2_cache_table_size(64);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ao2_cache_table_t *t = NULL;
    ao2_cache_table_stats_t st;
    int round, i, good = 1;

    ok(mem != MAP_FAILED, "shared mapping");
    if (mem == MAP_FAILED) {
        return;
    }
    ok(ao2_cache_table_init(&t, mem, size, 64, SEED) == APR_SUCCESS, "init");
    for (round = 0; round < 30 && good; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            char val[AO2_CACHE_TABLE_MAX_VALUE];
            unsigned n = 0;
            memset(val, 'x', sizeof(val));
            for (;;) {
                char k[2] = {(char)('a' + n % 4), 0};
                ao2_cache_table_set(t, k, 1, val, sizeof(val), NOW + 10, NOW);
                n++;
            }
        }
        usleep(2000 + round * 300);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        /* A wedged lock would hang here: the alarm turns that into a
         * failure the run reports. */
        alarm(10);
        for (i = 0; i < 4; i++) {
            char k[2] = {(char)('a' + i), 0};
            good &= ao2_cache_table_set(t, k, 1, "after", 5, NOW + 10, NOW) ==
                    APR_SUCCESS;
            good &= strcmp(get_str(p, t, k, NOW) ? get_str(p, t, k, NOW) : "",
                           "after") == 0;
        }
        alarm(0);
    }
    ok(good, "after %d killed writers, every set still works", round);
    ao2_cache_table_stats(t, &st);
    diag("sets repaired after a writer died: %" APR_UINT64_T_FMT, st.repairs);
    munmap(mem, size);
}

const ao2_test_case_t ao2_suite_cache_table[] = {
    {"sizes", sizes},
    {"set, get, overwrite", set_get},
    {"keys", keys},
    {"expiry", expiry},
    {"remove", remove_cases},
    {"the forget count", forgets},
    {"oversized value", oversized},
    {"add", add_cases},
    {"eviction", eviction},
    {"many keys", many_keys},
    {"readers against writers", concurrent},
    {"a writer killed mid-write", crashed_writer},
    {NULL, NULL},
};
