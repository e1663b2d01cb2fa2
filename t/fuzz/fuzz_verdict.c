/* ao2_verdict_decode on arbitrary bytes, as a shared cache could hand them
 * back. What decodes must lie inside the input and be the one encoding of
 * its verdict: encoding it again gives the same bytes. */
#include <string.h>

#include "ao2_verdict.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    ao2_verdict_t v;
    char *again;
    apr_size_t len;

    if (!ao2_verdict_decode(in, size, &v)) {
        return 0;
    }
    AO2_FUZZ_ASSERT(v.valid == 0 || v.valid == 1);
    AO2_FUZZ_ASSERT(size ==
                    18 + v.login_len + v.db_len + v.scope_len + v.binding_len);
    AO2_FUZZ_ASSERT(v.login >= in && v.login + v.login_len <= in + size);
    AO2_FUZZ_ASSERT(v.db >= in && v.db + v.db_len <= in + size);
    AO2_FUZZ_ASSERT(v.scope >= in && v.scope + v.scope_len <= in + size);
    AO2_FUZZ_ASSERT(v.binding >= in && v.binding + v.binding_len <= in + size);

    again = malloc(size);
    AO2_FUZZ_ASSERT(again != NULL);
    len = ao2_verdict_encode(&v, again, size);
    if (v.login_len <= AO2_VERDICT_MAX_LOGIN &&
        v.db_len <= AO2_VERDICT_MAX_DB &&
        v.binding_len <= AO2_VERDICT_MAX_BIND) {
        AO2_FUZZ_ASSERT(len == size && memcmp(again, in, size) == 0);
        AO2_FUZZ_ASSERT(ao2_verdict_encode(&v, again, size - 1) == 0);
    } else {
        AO2_FUZZ_ASSERT(len == 0);
    }
    free(again);
    return 0;
}
