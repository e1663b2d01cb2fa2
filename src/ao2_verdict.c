#include "ao2_verdict.h"

#include <string.h>

/* Layout: version, valid, expiry (8 bytes big-endian), then login, db,
 * scope and binding each as a 2-byte big-endian length and the bytes. */

static char *put_str(char *o, const char *s, apr_size_t n)
{
    o[0] = (char)(n >> 8);
    o[1] = (char)(n & 0xff);
    if (n)
        memcpy(o + 2, s, n);
    return o + 2 + n;
}

apr_size_t ao2_verdict_encode(const ao2_verdict_t *v, char *buf, apr_size_t cap)
{
    apr_size_t need =
        2 + 8 + 8 + v->login_len + v->db_len + v->scope_len + v->binding_len;
    apr_uint64_t exp = (apr_uint64_t)v->expires_at;
    char *o = buf;
    int i;

    if (need > cap || v->login_len > AO2_VERDICT_MAX_LOGIN ||
        v->db_len > AO2_VERDICT_MAX_DB || v->scope_len > 0xffff ||
        v->binding_len > AO2_VERDICT_MAX_BIND)
        return 0;
    *o++ = AO2_VERDICT_VERSION;
    *o++ = v->valid ? 1 : 0;
    for (i = 7; i >= 0; i--)
        *o++ = (char)((exp >> (i * 8)) & 0xff);
    o = put_str(o, v->login, v->login_len);
    o = put_str(o, v->db, v->db_len);
    o = put_str(o, v->scope, v->scope_len);
    o = put_str(o, v->binding, v->binding_len);
    return (apr_size_t)(o - buf);
}

static int get_str(const char **in, const char *end, const char **s,
                   apr_size_t *n)
{
    const unsigned char *u = (const unsigned char *)*in;

    if (end - *in < 2)
        return 0;
    *n = ((apr_size_t)u[0] << 8) | u[1];
    if ((apr_size_t)(end - *in - 2) < *n)
        return 0;
    *s = *in + 2;
    *in += 2 + *n;
    return 1;
}

int ao2_verdict_decode(const char *buf, apr_size_t len, ao2_verdict_t *v)
{
    const char *in = buf, *end = buf + len;
    apr_uint64_t exp = 0;
    int i;

    memset(v, 0, sizeof(*v));
    if (len < 10 || buf[0] != AO2_VERDICT_VERSION ||
        (buf[1] != 0 && buf[1] != 1))
        return 0;
    v->valid = buf[1];
    in += 2;
    for (i = 0; i < 8; i++)
        exp = (exp << 8) | (unsigned char)*in++;
    v->expires_at = (apr_int64_t)exp;
    return get_str(&in, end, &v->login, &v->login_len) &&
           get_str(&in, end, &v->db, &v->db_len) &&
           get_str(&in, end, &v->scope, &v->scope_len) &&
           get_str(&in, end, &v->binding, &v->binding_len) && in == end;
}
