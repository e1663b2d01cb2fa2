/* A small TAP producer for the unit tests. Each test file defines a table of
 * cases; main.c gives each case a fresh pool, so a case cannot lean on what
 * another one left behind, and valgrind sees every pool torn down. */
#ifndef AO2_TAP_H
#define AO2_TAP_H

#include <apr_pools.h>

typedef struct ao2_test_case {
    const char *name;
    void (*run)(apr_pool_t *p);
} ao2_test_case_t;

/* Each suite is a table ending with {NULL, NULL}. */
#define AO2_SUITE(name) extern const ao2_test_case_t ao2_suite_##name[];
#include "suites.h"
#undef AO2_SUITE

int ao2_tap_ok(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int ao2_tap_is_str(const char *got, const char *want, const char *file,
                   int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int ao2_tap_is_int(long long got, long long want, const char *file, int line,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void ao2_tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the plan "1..N"; the exit status for main: 0 when all passed. */
int ao2_tap_done_testing(void);

/* Every assertion takes a printf-style name, so table-driven cases can say
 * which row failed. */
#define ok(cond, ...) ao2_tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...)                                                 \
    ao2_tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                 \
    ao2_tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__,    \
                   __VA_ARGS__)
#define diag(...)      ao2_tap_diag(__VA_ARGS__)
#define done_testing() ao2_tap_done_testing()

#define AO2_COUNT(array) (sizeof(array) / sizeof((array)[0]))

#endif
