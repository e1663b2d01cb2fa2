/* Request parameters. Every path from client bytes to a value in a table
 * goes through the same checks, whether the bytes came as a query string, a
 * form or JSON, so later code can treat any value as short, printable text. */
#include "ao2_params.h"

#include <string.h>

#include <apr_strings.h>

#include "ao2_json.h"

/* Error descriptions are fixed text: the client's bytes never go back into
 * a response or a log line. */
#define BAD_ESCAPE "malformed percent-encoding"
#define TOO_MANY   "too many parameters"
#define TOO_LONG   "parameter too long"
#define EMPTY_NAME "parameter without a name"
#define CONTROL    "parameter contains control characters"
#define NOT_UTF8   "parameter is not valid UTF-8"
#define NOT_OBJECT "body is not a JSON object"
#define BAD_TYPE   "parameter values must be strings"
#define JSON_AS_FORM                                                           \
    "the body looks like JSON but was sent as "                                \
    "application/x-www-form-urlencoded; send Content-Type: application/json"

/* The parameters the endpoints read: a value of the wrong type is refused
 * naming the parameter, with this spelling, never the client's. */
static const char *const known_names[] = {
    "client_id", "client_secret", "client_user_identity", "state",
    "code",      "error",         "error_description",    "iss",
};

static ao2_err_t *invalid_request(apr_pool_t *p, const char *why)
{
    return ao2_err_make(p, 400, "invalid_request", "%s", why);
}

/* Fields are gathered in a table of their own and added to the caller's
 * only when all are valid, so on an error t is left as it was.
 * apr_table_add copies into t's pool, which may outlive p. */
static void add_all(apr_table_t *t, const apr_table_t *fields)
{
    const apr_array_header_t *elts = apr_table_elts(fields);
    const apr_table_entry_t *e = (const apr_table_entry_t *)elts->elts;
    int i;

    for (i = 0; i < elts->nelts; i++) {
        apr_table_add(t, e[i].key, e[i].val);
    }
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* The decoder behind ao2_url_decode, telling why it refused. */
static long percent_decode(char *s, int plus_is_space, const char **why)
{
    const char *in = s;
    char *out = s;

    if (!s) {
        *why = BAD_ESCAPE;
        return -1;
    }
    for (; *in; in++) {
        if (*in == '%') {
            int hi = hex_value((unsigned char)in[1]), lo;
            /* in[1] is checked first, so in[2] is never read past the NUL. */
            if (hi < 0 || (lo = hex_value((unsigned char)in[2])) < 0) {
                *why = BAD_ESCAPE;
                return -1;
            }
            /* Every later consumer treats the value as a C string: a NUL
             * would cut it short there but not here. */
            if (hi == 0 && lo == 0) {
                *why = CONTROL;
                return -1;
            }
            *out++ = (char)(hi << 4 | lo);
            in += 2;
        } else if (*in == '+' && plus_is_space) {
            *out++ = ' ';
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return (long)(out - s);
}

long ao2_url_decode(char *s, int plus_is_space)
{
    const char *why;

    return percent_decode(s, plus_is_space, &why);
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

char *ao2_url_encode(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *in;
    apr_size_t outlen = 0;
    char *out, *o;

    if (!s) {
        s = "";
    }
    for (in = (const unsigned char *)s; *in; in++) {
        outlen += is_unreserved(*in) ? 1 : 3;
    }
    o = out = apr_palloc(p, outlen + 1);
    for (in = (const unsigned char *)s; *in; in++) {
        if (is_unreserved(*in)) {
            *o++ = (char)*in;
        } else {
            *o++ = '%';
            *o++ = hex[*in >> 4];
            *o++ = hex[*in & 15];
        }
    }
    *o = '\0';
    return out;
}

/* Length of the UTF-8 sequence at s (at most len bytes), 0 when it is not
 * one: overlong forms, surrogates and code points past U+10FFFF included
 * (RFC 3629 §4). */
static apr_size_t utf8_sequence(const unsigned char *s, apr_size_t len)
{
    unsigned char lo = 0x80, hi = 0xBF;
    apr_size_t n, i;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        lo = s[0] == 0xE0 ? 0xA0 : 0x80;
        hi = s[0] == 0xED ? 0x9F : 0xBF;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        lo = s[0] == 0xF0 ? 0x90 : 0x80;
        hi = s[0] == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

/* NULL when s (a decoded name or value) may go into the table, else why
 * not. Values end up in JSON answers, store records and headers to the
 * backend: control characters could split or forge those, and bytes that
 * are not UTF-8 cannot be put into JSON at all. */
static const char *check_text(const char *s, apr_size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t i = 0;

    if (len > AO2_PARAMS_MAX_VALUE) {
        return TOO_LONG;
    }
    while (i < len) {
        apr_size_t n;
        if (u[i] < 0x20 || u[i] == 0x7f) {
            return CONTROL;
        }
        n = utf8_sequence(u + i, len - i);
        if (n == 0) {
            return NOT_UTF8;
        }
        i += n;
    }
    return NULL;
}

/* Copies and decodes one name or value of a form. */
static const char *form_decode(apr_pool_t *p, const char *raw,
                               apr_size_t rawlen, const char **out)
{
    const char *why;
    char *copy;
    long n;

    /* Each decoded byte takes at most three encoded ones: anything longer
     * is over the bound before it is even copied. */
    if (rawlen > 3 * (apr_size_t)AO2_PARAMS_MAX_VALUE) {
        return TOO_LONG;
    }
    /* A raw NUL would end the copy early and hide the rest of the field. */
    if (memchr(raw, '\0', rawlen)) {
        return CONTROL;
    }
    copy = apr_pstrmemdup(p, raw, rawlen);
    n = percent_decode(copy, 1, &why);
    if (n < 0) {
        return why;
    }
    *out = copy;
    return check_text(copy, (apr_size_t)n);
}

ao2_err_t *ao2_params_parse_form(apr_pool_t *p, const char *buf, apr_size_t len,
                                 apr_table_t *t)
{
    const char *end = buf + len, *field = buf;
    apr_table_t *fields;
    int nfields = 0;

    if (len == 0) {
        return NULL;
    }
    if (!buf) {
        return invalid_request(p, BAD_ESCAPE);
    }
    fields = apr_table_make(p, 8);
    while (field < end) {
        const char *amp = memchr(field, '&', (apr_size_t)(end - field));
        const char *field_end = amp ? amp : end;
        const char *eq, *key, *value = "", *why;

        /* Empty fields ("a=1&&b=2") are skipped but still counted, so the
         * work done stays proportional to the bound, not to the body. */
        if (++nfields > AO2_PARAMS_MAX_FIELDS) {
            return invalid_request(p, TOO_MANY);
        }
        if (field_end > field) {
            eq = memchr(field, '=', (apr_size_t)(field_end - field));
            why = form_decode(
                p, field, (apr_size_t)((eq ? eq : field_end) - field), &key);
            if (!why && eq) {
                why = form_decode(p, eq + 1, (apr_size_t)(field_end - (eq + 1)),
                                  &value);
            }
            if (!why && !*key) {
                why = EMPTY_NAME;
            }
            if (why) {
                return invalid_request(p, why);
            }
            apr_table_addn(fields, key, value);
        }
        field = amp ? amp + 1 : end;
    }
    add_all(t, fields);
    return NULL;
}

ao2_err_t *ao2_params_parse_form_body(apr_pool_t *p, const char *buf,
                                      apr_size_t len, apr_table_t *t)
{
    apr_size_t i = 0;

    /* curl -d sends a form type: the JSON would come out as one nameless
     * parameter and the answer would be "client_user_identity is missing". */
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' ||
                       buf[i] == '\n')) {
        i++;
    }
    if (i < len && buf[i] == '{') {
        return invalid_request(p, JSON_AS_FORM);
    }
    return ao2_params_parse_form(p, buf, len, t);
}

static ao2_err_t *bad_type(apr_pool_t *p, const char *key)
{
    apr_size_t i;

    for (i = 0; key && i < sizeof(known_names) / sizeof(known_names[0]); i++) {
        if (strcasecmp(key, known_names[i]) == 0) {
            return ao2_err_make(p, 400, "invalid_request",
                                "parameter %s must be a string",
                                known_names[i]);
        }
    }
    return invalid_request(p, BAD_TYPE);
}

ao2_err_t *ao2_params_parse_json(apr_pool_t *p, const char *buf, apr_size_t len,
                                 apr_table_t *t)
{
    const apr_array_header_t *elts;
    const apr_table_entry_t *e;
    apr_table_t *fields;
    const char *why, *bad_key;
    ao2_json_t *j;
    int i;

    j = ao2_json_parse_object(p, buf, len, &why);
    if (!j) {
        return invalid_request(p, NOT_OBJECT);
    }
    fields = apr_table_make(p, 8);
    if (ao2_json_to_table(j, fields, &bad_key) != APR_SUCCESS) {
        return bad_type(p, bad_key);
    }
    elts = apr_table_elts(fields);
    if (elts->nelts > AO2_PARAMS_MAX_FIELDS) {
        return invalid_request(p, TOO_MANY);
    }
    e = (const apr_table_entry_t *)elts->elts;
    for (i = 0; i < elts->nelts; i++) {
        why = !*e[i].key ? EMPTY_NAME : check_text(e[i].key, strlen(e[i].key));
        if (!why) {
            why = check_text(e[i].val, strlen(e[i].val));
        }
        if (why) {
            return invalid_request(p, why);
        }
    }
    add_all(t, fields);
    return NULL;
}

const char *ao2_params_get(apr_pool_t *p, const apr_table_t *t, const char *key,
                           ao2_err_t **err)
{
    const apr_array_header_t *elts = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)elts->elts;
    const char *found = NULL;
    int i;

    if (err) {
        *err = NULL;
    }
    /* Names compare without case, as apr_table_get does: any other code
     * reading the same table then sees the same value, never the other one
     * of "state" and "STATE". */
    for (i = 0; i < elts->nelts; i++) {
        if (e[i].key && strcasecmp(e[i].key, key) == 0) {
            if (found) {
                /* key is the caller's constant, not client input. */
                if (err) {
                    *err =
                        ao2_err_make(p, 400, "invalid_request",
                                     "parameter %s given more than once", key);
                }
                return NULL;
            }
            found = e[i].val;
        }
    }
    return found;
}
