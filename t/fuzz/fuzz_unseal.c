/* ao2_unseal on arbitrary text, as a corrupted or forged store record
 * would reach it: it must refuse without reading out of bounds, and never
 * accept. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_crypto.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ao2_keys_t keys;
    static int have_keys;
    apr_pool_t *p;
    char *plain = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    if (!have_keys) {
        unsigned char master[AO2_MASTER_KEY_MIN];
        memset(master, 7, sizeof(master));
        AO2_FUZZ_ASSERT(ao2_keys_derive(&keys, master, sizeof(master)) ==
                        APR_SUCCESS);
        have_keys = 1;
    }
    apr_pool_create(&p, ao2_fuzz_root);
    /* Sealed values reach ao2_unseal as C strings. */
    rv = ao2_unseal(p, &keys, "record",
                    apr_pstrmemdup(p, (const char *)data, size), &plain, &len);
    AO2_FUZZ_ASSERT(rv == APR_EINVAL || rv == APR_EGENERAL);
    AO2_FUZZ_ASSERT(plain == NULL && len == 0);
    apr_pool_destroy(p);
    return 0;
}
