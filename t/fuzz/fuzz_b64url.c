/* ao2_b64url_decode on arbitrary bytes. Accepted text must be the one
 * canonical spelling of its bytes: encoding them again gives the input back
 * (less any padding). */
#include <string.h>

#include "ao2_crypto.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    unsigned char *out;
    apr_size_t outlen, unpadded = size;
    char *again;

    apr_pool_create(&p, ao2_fuzz_root);
    if (ao2_b64url_decode(p, (const char *)data, size, &out, &outlen) ==
        APR_SUCCESS) {
        AO2_FUZZ_ASSERT(outlen <= size / 4 * 3 + 2);
        AO2_FUZZ_ASSERT(out[outlen] == '\0');
        while (unpadded > 0 && data[unpadded - 1] == '=') {
            unpadded--;
        }
        again = ao2_b64url_encode(p, out, outlen);
        AO2_FUZZ_ASSERT(strlen(again) == unpadded);
        AO2_FUZZ_ASSERT(memcmp(again, data, unpadded) == 0);
    } else {
        AO2_FUZZ_ASSERT(out == NULL && outlen == 0);
    }

    /* And the other way: any bytes survive a round trip. */
    again = ao2_b64url_encode(p, data, size);
    AO2_FUZZ_ASSERT(ao2_b64url_decode(p, again, strlen(again), &out, &outlen) ==
                    APR_SUCCESS);
    AO2_FUZZ_ASSERT(outlen == size && memcmp(out, data, size) == 0);
    apr_pool_destroy(p);
    return 0;
}
