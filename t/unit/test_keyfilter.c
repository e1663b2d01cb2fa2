/* ao2_keyfilter: no false negatives ever, few false positives, sizes
 * checked, and a filter shared by forked processes sees their keys. */
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "ao2_keyfilter.h"
#include "tap.h"

#define BITS (1u << 16)

static ao2_keyfilter_t *fresh(apr_pool_t *p, apr_uint64_t seed)
{
    apr_size_t size = ao2_keyfilter_size(BITS);
    ao2_keyfilter_t *f = NULL;

    if (ao2_keyfilter_init(&f, apr_palloc(p, size), size, BITS, seed) !=
        APR_SUCCESS)
        return NULL;
    return f;
}

static void test_added_keys_are_maybe(apr_pool_t *p)
{
    ao2_keyfilter_t *f = fresh(p, 42);
    int i, missing = 0;

    for (i = 0; i < 4096; i++) {
        const char *k = apr_psprintf(p, "i:token-%d", i);
        ao2_keyfilter_add(f, k, strlen(k));
    }
    for (i = 0; i < 4096; i++) {
        const char *k = apr_psprintf(p, "i:token-%d", i);
        missing += !ao2_keyfilter_maybe(f, k, strlen(k));
    }
    is_int(missing, 0, "every added key answers maybe (4096 keys)");
}

static void test_unknown_keys_mostly_absent(apr_pool_t *p)
{
    ao2_keyfilter_t *f = fresh(p, 7);
    int i, maybe = 0;

    /* One key per 16 bits: the load the store is sized for. */
    for (i = 0; i < (int)(BITS / 16); i++) {
        const char *k = apr_psprintf(p, "i:issued-%d", i);
        ao2_keyfilter_add(f, k, strlen(k));
    }
    for (i = 0; i < 100000; i++) {
        const char *k = apr_psprintf(p, "i:made-up-%d", i);
        maybe += ao2_keyfilter_maybe(f, k, strlen(k));
    }
    ok(maybe < 1000, "unknown keys: %d of 100000 answer maybe (< 1%%)", maybe);
}

static void test_empty_filter_says_absent(apr_pool_t *p)
{
    ao2_keyfilter_t *f = fresh(p, 1);

    ok(f && !ao2_keyfilter_maybe(f, "i:x", 3), "an empty filter: absent");
    ok(f && !ao2_keyfilter_maybe(f, "", 0), "the empty key: absent");
}

static void test_seed_moves_bits(apr_pool_t *p)
{
    ao2_keyfilter_t *a = fresh(p, 1), *b = fresh(p, 2);
    int i, both = 0;

    ao2_keyfilter_add(a, "i:k", 3);
    for (i = 0; i < 1000; i++) {
        const char *k = apr_psprintf(p, "i:other-%d", i);
        ao2_keyfilter_add(b, k, strlen(k));
    }
    ok(ao2_keyfilter_maybe(a, "i:k", 3), "seeded filter a has its key");
    for (i = 0; i < 1000; i++) {
        const char *k = apr_psprintf(p, "i:other-%d", i);
        both += ao2_keyfilter_maybe(a, k, strlen(k));
    }
    ok(both < 10, "another seed's keys are not a's (%d of 1000 maybe)", both);
}

static void test_bad_sizes(apr_pool_t *p)
{
    ao2_keyfilter_t *f = NULL;
    char buf[4096];

    is_int(ao2_keyfilter_init(&f, buf, sizeof(buf), 1000, 0), APR_EINVAL,
           "bits not a power of two");
    is_int(ao2_keyfilter_init(&f, buf, sizeof(buf), 512, 0), APR_EINVAL,
           "fewer than 1024 bits");
    is_int(ao2_keyfilter_init(&f, buf, 16, 1024, 0), APR_EINVAL,
           "memory too small");
    is_int(ao2_keyfilter_init(&f, buf, sizeof(buf), 1024, 0), APR_SUCCESS,
           "1024 bits in 4 KB");
}

static void test_shared_across_processes(apr_pool_t *p)
{
    apr_size_t size = ao2_keyfilter_size(BITS);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ao2_keyfilter_t *f = NULL;
    int i, status, missing = 0;
    pid_t kids[4];

    ok(mem != MAP_FAILED &&
           ao2_keyfilter_init(&f, mem, size, BITS, 99) == APR_SUCCESS,
       "a filter in shared memory");
    if (f == NULL)
        return;
    for (i = 0; i < 4; i++) {
        if ((kids[i] = fork()) == 0) {
            char k[32];
            int j;
            for (j = 0; j < 500; j++) {
                int n = snprintf(k, sizeof(k), "i:%d-%d", i, j);
                ao2_keyfilter_add(f, k, (apr_size_t)n);
            }
            _exit(0);
        }
    }
    for (i = 0; i < 4; i++)
        waitpid(kids[i], &status, 0);
    for (i = 0; i < 4; i++) {
        char k[32];
        int j;
        for (j = 0; j < 500; j++) {
            int n = snprintf(k, sizeof(k), "i:%d-%d", i, j);
            missing += !ao2_keyfilter_maybe(f, k, (apr_size_t)n);
        }
    }
    is_int(missing, 0, "keys added by 4 forked processes at once: all seen");
    munmap(mem, size);
}

const ao2_test_case_t ao2_suite_keyfilter[] = {
    {"added keys are maybe", test_added_keys_are_maybe},
    {"unknown keys mostly absent", test_unknown_keys_mostly_absent},
    {"empty filter says absent", test_empty_filter_says_absent},
    {"the seed moves the bits", test_seed_moves_bits},
    {"bad sizes", test_bad_sizes},
    {"shared across processes", test_shared_across_processes},
    {NULL, NULL},
};
