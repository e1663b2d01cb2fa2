/* ao2_params_parse_form on arbitrary bytes; also the query-string path,
 * which is the same code. */
#include "fuzz_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    apr_table_t *t;
    ao2_err_t *err;

    apr_pool_create(&p, ao2_fuzz_root);
    t = apr_table_make(p, 4);
    err = ao2_params_parse_form(p, (const char *)data, size, t);
    ao2_fuzz_check_params(p, err, t);
    apr_pool_destroy(p);
    return 0;
}
