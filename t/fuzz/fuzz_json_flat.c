/* ao2_json_parse_flat against jansson on arbitrary bytes: whatever the flat
 * reader reads must be what ao2_json_parse_object reads, member for member,
 * and what it refuses jansson must refuse (t/unit/json_flat_check.h). */
#include "fuzz.h"

#include "../unit/json_flat_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *why;

    apr_pool_create(&p, ao2_fuzz_root);
    why = flat_check(p, (const char *)data, size, NULL);
    if (why) {
        fprintf(stderr, "flat reader and jansson disagree: %s\n", why);
        abort();
    }
    apr_pool_destroy(p);
    return 0;
}
