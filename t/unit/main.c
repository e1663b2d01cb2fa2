/* Runs the unit-test suites listed in suites.h, all of them or those named
 * on the command line: t/unit/run [suite...] */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <apr_general.h>

#include "tap.h"

static const struct {
    const char *name;
    const ao2_test_case_t *cases;
} suites[] = {
#define AO2_SUITE(name) {#name, ao2_suite_##name},
#include "suites.h"
#undef AO2_SUITE
};

static int tests_run;
static int tests_failed;

static void vreport(int pass, const char *file, int line, const char *fmt,
                    va_list ap)
{
    tests_run++;
    printf("%sok %d - ", pass ? "" : "not ", tests_run);
    vprintf(fmt, ap);
    printf("\n");
    if (!pass) {
        tests_failed++;
        printf("#   Failed test at %s line %d.\n", file, line);
    }
}

int ao2_tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(pass, file, line, fmt, ap);
    va_end(ap);
    return pass;
}

int ao2_tap_is_str(const char *got, const char *want, const char *file,
                   int line, const char *fmt, ...)
{
    int pass = (got == NULL && want == NULL) ||
               (got != NULL && want != NULL && strcmp(got, want) == 0);
    va_list ap;

    va_start(ap, fmt);
    vreport(pass, file, line, fmt, ap);
    va_end(ap);
    if (!pass) {
        printf("#          got: %s%s%s\n", got ? "'" : "", got ? got : "NULL",
               got ? "'" : "");
        printf("#     expected: %s%s%s\n", want ? "'" : "",
               want ? want : "NULL", want ? "'" : "");
    }
    return pass;
}

int ao2_tap_is_int(long long got, long long want, const char *file, int line,
                   const char *fmt, ...)
{
    int pass = got == want;
    va_list ap;

    va_start(ap, fmt);
    vreport(pass, file, line, fmt, ap);
    va_end(ap);
    if (!pass) {
        printf("#          got: %lld\n#     expected: %lld\n", got, want);
    }
    return pass;
}

void ao2_tap_diag(const char *fmt, ...)
{
    va_list ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

int ao2_tap_done_testing(void)
{
    printf("1..%d\n", tests_run);
    if (tests_failed) {
        printf("# Looks like you failed %d test%s of %d.\n", tests_failed,
               tests_failed == 1 ? "" : "s", tests_run);
    }
    return tests_failed ? 1 : 0;
}

static int wanted(const char *name, int argc, const char *const *argv)
{
    int i;

    if (argc < 2) {
        return 1;
    }
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *root, *p;
    const ao2_test_case_t *c;
    apr_size_t s;
    int i, found;

    if (apr_initialize() != APR_SUCCESS ||
        apr_pool_create(&root, NULL) != APR_SUCCESS) {
        fprintf(stderr, "cannot initialise APR\n");
        return 2;
    }
    /* A misspelt suite name would otherwise pass by running nothing. */
    for (i = 1; i < argc; i++) {
        for (found = 0, s = 0; s < AO2_COUNT(suites); s++) {
            found |= strcmp(argv[i], suites[s].name) == 0;
        }
        if (!found) {
            fprintf(stderr, "no suite named %s\n", argv[i]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (s = 0; s < AO2_COUNT(suites); s++) {
        if (!wanted(suites[s].name, argc, argv)) {
            continue;
        }
        for (c = suites[s].cases; c->name; c++) {
            diag("%s: %s", suites[s].name, c->name);
            apr_pool_create(&p, root);
            c->run(p);
            apr_pool_destroy(p);
        }
    }
    apr_pool_destroy(root);
    apr_terminate();
    return done_testing();
}
