/* Errors that travel up to an HTTP answer: status + RFC 6749 error code. */
#ifndef AO2_ERR_H
#define AO2_ERR_H

#include <apr_pools.h>

typedef struct ao2_err {
    int status;              /* HTTP status the endpoint answers with */
    const char *code;        /* RFC 6749 "error" value */
    const char *description; /* never contains secrets or unescaped input */
    /* 1: an answer held for a while (a failure kept in a lock) or a cap:
     * it carries Retry-After, as every 503 does. */
    int retry;
} ao2_err_t;

ao2_err_t *ao2_err_make(apr_pool_t *p, int status, const char *code,
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
