/* ao2_params_parse_json on arbitrary bytes: jansson behind our bounds. */
#include "fuzz_params.h"

#include "ao2_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    apr_table_t *t;
    ao2_err_t *err;
    ao2_json_t *j;
    const char *why = NULL;

    apr_pool_create(&p, ao2_fuzz_root);
    t = apr_table_make(p, 4);
    err = ao2_params_parse_json(p, (const char *)data, size, t);
    ao2_fuzz_check_params(p, err, t);

    /* Whatever parses must serialise, and the text must parse again. */
    j = ao2_json_parse_object(p, (const char *)data, size, &why);
    AO2_FUZZ_ASSERT(j != NULL || why != NULL);
    if (j) {
        char *text = ao2_json_dump(p, j);
        AO2_FUZZ_ASSERT(text != NULL);
        /* \u escapes can make the text longer than the size bound. */
        if (strlen(text) <= size) {
            AO2_FUZZ_ASSERT(
                ao2_json_parse_object(p, text, strlen(text), &why) != NULL);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
