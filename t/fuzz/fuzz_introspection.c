/* ao2_parse_introspection on arbitrary bodies (RFC 7662 answers). The first
 * byte picks the HTTP status and whether a token_type is required. Whatever
 * the provider says, "active" is only ever granted to an unexpired access
 * token, and a login, when there is one, is fit for a request header. */
#include <string.h>

#include "ao2_oauth2.h"
#include "fuzz.h"

#define NOW ((apr_int64_t)1700000000)

static const int statuses[] = {200, 200, 200, 200, 200, 400, 401, 500};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    ao2_introspection_t in;
    ao2_err_t *err;
    int status, require;
    size_t i;

    if (size < 1) {
        return 0;
    }
    require = data[0] & 1;
    status =
        statuses[(data[0] >> 1) % (sizeof(statuses) / sizeof(statuses[0]))];
    apr_pool_create(&p, ao2_fuzz_root);
    err = ao2_parse_introspection(p, status, (const char *)data + 1, size - 1,
                                  "email", require, NOW, &in);
    if (status == 400) {
        AO2_FUZZ_ASSERT(err == NULL && !in.active);
    }
    if (err) {
        AO2_FUZZ_ASSERT(!in.active);
        AO2_FUZZ_ASSERT(err->status == 400 || err->status == 401 ||
                        err->status == 502);
        AO2_FUZZ_ASSERT(err->code != NULL &&
                        ao2_sanitize_error_code(err->code, NULL) == err->code);
    }
    if (in.active) {
        AO2_FUZZ_ASSERT(status == 200 && err == NULL);
        AO2_FUZZ_ASSERT(in.claims != NULL);
        /* The login may be absent (userinfo decides then), never unclean. */
        for (i = 0; in.login && in.login[i]; i++) {
            AO2_FUZZ_ASSERT((unsigned char)in.login[i] >= 0x20 &&
                            in.login[i] != 0x7f);
        }
        AO2_FUZZ_ASSERT(in.login == NULL ||
                        ao2_login_ok(in.login, strlen(in.login)));
        AO2_FUZZ_ASSERT(in.expires_at == 0 || in.expires_at > NOW);
    }
    apr_pool_destroy(p);
    return 0;
}
