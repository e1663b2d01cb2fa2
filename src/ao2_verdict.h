/* A cached Bearer validation: compact, versioned, read on every protected
 * request, so it is binary and parsed without allocation. Pure. */
#ifndef AO2_VERDICT_H
#define AO2_VERDICT_H

#include <apr.h>

/* 2: the binding of the location that reached the verdict. */
#define AO2_VERDICT_VERSION   2
#define AO2_VERDICT_MAX       512
#define AO2_VERDICT_MAX_LOGIN 256 /* AO2_MAX_CLAIM_LEN */
#define AO2_VERDICT_MAX_DB    255
#define AO2_VERDICT_MAX_BIND  64

typedef struct ao2_verdict {
    int valid;
    apr_int64_t expires_at; /* Unix seconds; for rejections: until when */
    /* Not NUL-terminated when decoded: they point into the cached bytes. */
    const char *login;
    apr_size_t login_len;
    const char *db;
    apr_size_t db_len;
    const char *scope;
    apr_size_t scope_len;
    /* The binding id (ao2_binding_t) of the location it holds for: read
     * under another binding it is a miss. */
    const char *binding;
    apr_size_t binding_len;
} ao2_verdict_t;

/* Returns the encoded length, or 0 when it does not fit in cap bytes. */
apr_size_t ao2_verdict_encode(const ao2_verdict_t *v, char *buf,
                              apr_size_t cap);
/* 1 when buf holds a verdict of this version, 0 otherwise. */
int ao2_verdict_decode(const char *buf, apr_size_t len, ao2_verdict_t *v);

#endif
