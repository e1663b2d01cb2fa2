/* Shared by the libFuzzer harnesses: one APR root pool for the whole run and
 * a fresh child pool per input, so AddressSanitizer's leak check sees every
 * input's memory returned. */
#ifndef AO2_FUZZ_H
#define AO2_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <apr_general.h>
#include <apr_pools.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *ao2_fuzz_root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (apr_initialize() != APR_SUCCESS ||
        apr_pool_create(&ao2_fuzz_root, NULL) != APR_SUCCESS) {
        abort();
    }
    return 0;
}

/* A broken invariant is a finding: stop so libFuzzer saves the input. */
#define AO2_FUZZ_ASSERT(cond)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
