/* ao2_parse_token_response on arbitrary bodies, as a provider's token
 * endpoint could answer them. The first byte picks the HTTP status. What is
 * accepted is a usable answer; what is refused maps to the statuses the SPEC
 * allows, with an error code safe to repeat to the client. */
#include <string.h>

#include "ao2_oauth2.h"
#include "fuzz.h"

static const int statuses[] = {200, 200, 200, 200, 400, 401,
                               403, 429, 500, 503, 302, 201};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    ao2_token_response_t tr;
    ao2_err_t *err;
    int status;

    if (size < 1) {
        return 0;
    }
    status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
    apr_pool_create(&p, ao2_fuzz_root);
    /* The body as the HTTP client hands it over: not NUL-terminated, so a
     * read past len is an AddressSanitizer finding. */
    err = ao2_parse_token_response(p, status, (const char *)data + 1, size - 1,
                                   &tr);
    if (err == NULL) {
        AO2_FUZZ_ASSERT(status == 200);
        AO2_FUZZ_ASSERT(tr.access_token && *tr.access_token);
        AO2_FUZZ_ASSERT(tr.token_type != NULL);
        AO2_FUZZ_ASSERT(tr.expires_in == -1 ||
                        (tr.expires_in >= 0 &&
                         tr.expires_in <= (apr_int64_t)10 * 365 * 86400));
    } else {
        AO2_FUZZ_ASSERT(err->status == 400 || err->status == 401 ||
                        err->status == 502);
        AO2_FUZZ_ASSERT(err->status != 401 || status == 401);
        AO2_FUZZ_ASSERT((status >= 400 && status < 500) || err->status == 502);
        AO2_FUZZ_ASSERT(err->code != NULL &&
                        ao2_sanitize_error_code(err->code, NULL) == err->code);
        AO2_FUZZ_ASSERT(err->description != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
