#include "ao2_err.h"

#include <apr_strings.h>

ao2_err_t *ao2_err_make(apr_pool_t *p, int status, const char *code,
                        const char *fmt, ...)
{
    ao2_err_t *err = apr_pcalloc(p, sizeof(*err));
    va_list ap;

    va_start(ap, fmt);
    err->description = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    err->status = status;
    err->code = code;
    return err;
}
