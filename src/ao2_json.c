/* jansson behind a pool-owned handle: once a value is wrapped, its lifetime
 * is the pool's and no caller ever counts references. */
#include "ao2_json.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include <jansson.h>

/* Request bodies and provider answers are small. These bounds are checked
 * before jansson sees the text, so neither a huge body nor deep nesting
 * reaches its recursive parser. */
#define JSON_MAX_LEN   (1024 * 1024)
#define JSON_MAX_DEPTH 32

struct ao2_json {
    json_t *json;
};

static apr_status_t json_release(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

/* Takes over the caller's reference. */
static ao2_json_t *json_wrap(apr_pool_t *p, json_t *json)
{
    ao2_json_t *j;

    if (!json) {
        return NULL;
    }
    j = apr_palloc(p, sizeof(*j));
    j->json = json;
    apr_pool_cleanup_register(p, json, json_release, apr_pool_cleanup_null);
    return j;
}

/* Deepest nesting of arrays and objects, counting only brackets outside
 * strings. Stops counting once the limit is passed. */
static int json_depth_exceeds(const char *buf, apr_size_t len, int limit)
{
    int depth = 0, in_string = 0;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = 0;
            }
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > limit) {
                return 1;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

ao2_json_t *ao2_json_parse_object(apr_pool_t *p, const char *buf,
                                  apr_size_t len, const char **why)
{
    json_error_t error;
    json_t *json;
    const char *ignored;

    if (!why) {
        why = &ignored;
    }
    if (!buf || len == 0) {
        *why = "empty";
        return NULL;
    }
    if (len > JSON_MAX_LEN) {
        *why = "too large";
        return NULL;
    }
    if (json_depth_exceeds(buf, len, JSON_MAX_DEPTH)) {
        *why = "nested too deeply";
        return NULL;
    }
    /* Duplicate keys are refused: two readers of the same text could
     * otherwise each pick a different value. Without JSON_ALLOW_NUL, \u0000
     * is refused too, so every string is also a C string. */
    json = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &error);
    if (!json) {
        *why = json_error_code(&error) == json_error_duplicate_key
                   ? "duplicate key"
                   : "not valid JSON";
        return NULL;
    }
    if (!json_is_object(json)) {
        json_decref(json);
        *why = "not a JSON object";
        return NULL;
    }
    return json_wrap(p, json);
}

/* The flat reader. Every step either matches jansson's reading exactly or
 * gives up (NULL): a give-up costs one jansson parse, a wrong reading would
 * let two readers of one text disagree. */

/* jansson's whitespace, and only it. */
static const char *flat_ws(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
        s++;
    }
    return s;
}

/* s at the opening quote. Printable ASCII only: an escape, a control
 * character (jansson refuses) or a byte of UTF-8 (jansson validates) is
 * left to jansson. */
static const char *flat_string(const char *s, const char *end, const char **str,
                               apr_size_t *len)
{
    const char *start = ++s;

    while (s < end && (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x80 &&
           *s != '"' && *s != '\\') {
        s++;
    }
    if (s == end || *s != '"') {
        return NULL;
    }
    *str = start;
    *len = (apr_size_t)(s - start);
    return s + 1;
}

static int flat_digit(const char *s, const char *end)
{
    return s < end && *s >= '0' && *s <= '9';
}

/* jansson's integer grammar: -?(0|[1-9][0-9]*) within int64; a fraction or
 * exponent makes a real, an overflow an error: both left to jansson. */
static const char *flat_int(const char *s, const char *end, apr_int64_t *out)
{
    int neg = s < end && *s == '-';
    apr_uint64_t v = 0, limit;

    s += neg;
    limit = neg ? (apr_uint64_t)APR_INT64_MAX + 1 : (apr_uint64_t)APR_INT64_MAX;
    if (!flat_digit(s, end)) {
        return NULL;
    }
    if (*s == '0') {
        s++;
    } else {
        while (flat_digit(s, end)) {
            unsigned d = (unsigned)(*s++ - '0');
            if (v > (limit - d) / 10) {
                return NULL;
            }
            v = v * 10 + d;
        }
    }
    if (flat_digit(s, end) ||
        (s < end && (*s == '.' || *s == 'e' || *s == 'E'))) {
        return NULL;
    }
    /* -2^63 has no positive counterpart to negate. */
    *out = neg && v ? -(apr_int64_t)(v - 1) - 1 : (apr_int64_t)v;
    return s;
}

static const char *flat_word(const char *s, const char *end, const char *word,
                             ao2_json_kind_e kind, ao2_json_member_t *m)
{
    apr_size_t n = strlen(word);

    if ((apr_size_t)(end - s) < n || memcmp(s, word, n) != 0) {
        return NULL;
    }
    m->kind = kind;
    return s + n;
}

static const char *flat_value(const char *s, const char *end,
                              ao2_json_member_t *m)
{
    if (s == end) {
        return NULL;
    }
    switch (*s) {
        case '"':
            m->kind = AO2_JSON_STRING;
            return flat_string(s, end, &m->str, &m->str_len);
        case 't':
            return flat_word(s, end, "true", AO2_JSON_TRUE, m);
        case 'f':
            return flat_word(s, end, "false", AO2_JSON_FALSE, m);
        case 'n':
            return flat_word(s, end, "null", AO2_JSON_NULL, m);
        default:
            m->kind = AO2_JSON_INTEGER;
            return flat_int(s, end, &m->num);
    }
}

/* s just past the closing brace: only whitespace may follow. */
static ao2_json_flat_e flat_end(const char *s, const char *end)
{
    return flat_ws(s, end) == end ? AO2_JSON_FLAT_OK : AO2_JSON_FLAT_UNHANDLED;
}

/* s just inside the braces. What follows a value must be ',' or '}', so
 * "truex" or "1x" (which jansson refuses) is never read as true or 1. */
static ao2_json_flat_e flat_members(const char *s, const char *end,
                                    ao2_json_member_fn fn, void *ctx)
{
    ao2_json_member_t m;
    ao2_json_flat_e rc;

    s = flat_ws(s, end);
    if (s < end && *s == '}') {
        return flat_end(s + 1, end);
    }
    for (;;) {
        memset(&m, 0, sizeof(m));
        if (s == end || *s != '"' ||
            !(s = flat_string(s, end, &m.name, &m.name_len))) {
            return AO2_JSON_FLAT_UNHANDLED;
        }
        s = flat_ws(s, end);
        if (s == end || *s != ':' ||
            !(s = flat_value(flat_ws(s + 1, end), end, &m))) {
            return AO2_JSON_FLAT_UNHANDLED;
        }
        if ((rc = fn(ctx, &m)) != AO2_JSON_FLAT_OK) {
            return rc;
        }
        s = flat_ws(s, end);
        if (s < end && *s == '}') {
            return flat_end(s + 1, end);
        }
        if (s == end || *s != ',') {
            return AO2_JSON_FLAT_UNHANDLED;
        }
        s = flat_ws(s + 1, end);
    }
}

ao2_json_flat_e ao2_json_parse_flat(const char *buf, apr_size_t len,
                                    ao2_json_member_fn fn, void *ctx)
{
    const char *s, *end;

    /* Out of bounds texts get ao2_json_parse_object's reasons. */
    if (!buf || len == 0 || len > JSON_MAX_LEN || !fn) {
        return AO2_JSON_FLAT_UNHANDLED;
    }
    end = buf + len;
    s = flat_ws(buf, end);
    if (s == end || *s != '{') {
        return AO2_JSON_FLAT_UNHANDLED;
    }
    return flat_members(s + 1, end, fn, ctx);
}

static void member_of(const char *name, apr_size_t name_len, json_t *v,
                      ao2_json_member_t *m)
{
    memset(m, 0, sizeof(*m));
    m->name = name;
    m->name_len = name_len;
    switch (json_typeof(v)) {
        case JSON_NULL:
            m->kind = AO2_JSON_NULL;
            break;
        case JSON_FALSE:
            m->kind = AO2_JSON_FALSE;
            break;
        case JSON_TRUE:
            m->kind = AO2_JSON_TRUE;
            break;
        case JSON_INTEGER:
            m->kind = AO2_JSON_INTEGER;
            m->num = (apr_int64_t)json_integer_value(v);
            break;
        case JSON_STRING:
            m->kind = AO2_JSON_STRING;
            m->str = json_string_value(v);
            m->str_len = json_string_length(v);
            break;
        default:
            m->kind = AO2_JSON_OTHER;
    }
}

ao2_json_flat_e ao2_json_members(const ao2_json_t *j, ao2_json_member_fn fn,
                                 void *ctx)
{
    ao2_json_member_t m;
    ao2_json_flat_e rc;
    void *it;

    if (!j || !json_is_object(j->json)) {
        return AO2_JSON_FLAT_UNHANDLED;
    }
    for (it = json_object_iter(j->json); it;
         it = json_object_iter_next(j->json, it)) {
        const char *key = json_object_iter_key(it);
        /* Parsed keys hold no NUL (\u0000 is refused), nor do set ones. */
        member_of(key, strlen(key), json_object_iter_value(it), &m);
        if ((rc = fn(ctx, &m)) != AO2_JSON_FLAT_OK) {
            return rc;
        }
    }
    return AO2_JSON_FLAT_OK;
}

ao2_json_t *ao2_json_object(apr_pool_t *p)
{
    return json_wrap(p, json_object());
}

static json_t *member(const ao2_json_t *j, const char *key)
{
    if (!j || !key) {
        return NULL;
    }
    return json_object_get(j->json, key);
}

const char *ao2_json_str(const ao2_json_t *j, const char *key)
{
    return json_string_value(member(j, key));
}

int ao2_json_int(const ao2_json_t *j, const char *key, apr_int64_t *out)
{
    json_t *v = member(j, key);

    if (json_is_integer(v)) {
        *out = (apr_int64_t)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        /* 2^63 is exact as a double; the range test comes first because
         * converting an out-of-range double to an integer is undefined. */
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
            (double)(apr_int64_t)d == d) {
            *out = (apr_int64_t)d;
            return 1;
        }
    }
    return 0;
}

int ao2_json_bool(const ao2_json_t *j, const char *key, int *out)
{
    json_t *v = member(j, key);

    if (!json_is_boolean(v)) {
        return 0;
    }
    *out = json_is_true(v);
    return 1;
}

int ao2_json_has(const ao2_json_t *j, const char *key)
{
    return member(j, key) != NULL;
}

static int string_is(const json_t *v, const char *value, apr_size_t len)
{
    return json_is_string(v) && json_string_length(v) == len &&
           memcmp(json_string_value(v), value, len) == 0;
}

int ao2_json_str_or_array_has(const ao2_json_t *j, const char *key,
                              const char *value)
{
    json_t *v = member(j, key);
    apr_size_t len, i;

    if (!v || !value) {
        return 0;
    }
    len = strlen(value);
    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++) {
            if (string_is(json_array_get(v, i), value, len)) {
                return 1;
            }
        }
        return 0;
    }
    return string_is(v, value, len);
}

const char *ao2_json_str_list(apr_pool_t *p, const ao2_json_t *j,
                              const char *key)
{
    json_t *v = member(j, key);
    const char *out = NULL;
    size_t i;

    if (json_is_string(v))
        return json_string_value(v);
    if (!json_is_array(v))
        return NULL;
    for (i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);

        /* A word with a space in it would read as two scopes. */
        if (!json_is_string(e) || strchr(json_string_value(e), ' '))
            return NULL;
        out = out ? apr_pstrcat(p, out, " ", json_string_value(e), NULL)
                  : json_string_value(e);
    }
    return out ? out : "";
}

int ao2_json_array_len(const ao2_json_t *j, const char *key)
{
    json_t *v = member(j, key);
    size_t n;

    if (!json_is_array(v)) {
        return -1;
    }
    n = json_array_size(v);
    /* Parsed text is bounded far below this; built arrays could not be. */
    return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

apr_array_header_t *ao2_json_array_objects(apr_pool_t *p, const ao2_json_t *j,
                                           const char *key)
{
    json_t *v = member(j, key);
    apr_array_header_t *out;
    size_t i;

    if (!json_is_array(v)) {
        return NULL;
    }
    out = apr_array_make(p, (int)json_array_size(v) + 1, sizeof(ao2_json_t *));
    for (i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        if (json_is_object(e)) {
            /* Its own reference: the element outlives nothing it needs. */
            APR_ARRAY_PUSH(out, ao2_json_t *) = json_wrap(p, json_incref(e));
        }
    }
    return out;
}

apr_status_t ao2_json_to_table(const ao2_json_t *j, apr_table_t *t,
                               const char **bad_key)
{
    void *it;

    if (bad_key) {
        *bad_key = NULL;
    }
    if (!j || !json_is_object(j->json)) {
        return APR_EINVAL;
    }
    for (it = json_object_iter(j->json); it;
         it = json_object_iter_next(j->json, it)) {
        const char *key = json_object_iter_key(it);
        json_t *v = json_object_iter_value(it);
        if (!json_is_string(v)) {
            if (bad_key) {
                *bad_key = key;
            }
            return APR_EINVAL;
        }
        /* apr_table_add copies both into the table's pool, so the table
         * does not depend on this object's lifetime. */
        apr_table_add(t, key, json_string_value(v));
    }
    return APR_SUCCESS;
}

/* The setters return nothing: a NULL argument, a string that is not UTF-8
 * (jansson refuses those) or an allocation failure leaves j unchanged. */
static void set_member(ao2_json_t *j, const char *key, json_t *v)
{
    if (!j || !key || !v) {
        json_decref(v);
        return;
    }
    /* json_object_set_new consumes v even when it fails. */
    json_object_set_new(j->json, key, v);
}

void ao2_json_set_str(ao2_json_t *j, const char *key, const char *value)
{
    set_member(j, key, value ? json_string(value) : NULL);
}

void ao2_json_set_int(ao2_json_t *j, const char *key, apr_int64_t value)
{
    set_member(j, key, json_integer((json_int_t)value));
}

void ao2_json_set_bool(ao2_json_t *j, const char *key, int value)
{
    set_member(j, key, json_boolean(value));
}

char *ao2_json_dump(apr_pool_t *p, const ao2_json_t *j)
{
    char *text, *copy;

    if (!j) {
        return NULL;
    }
    /* ASCII-only output stays intact through any header, log or terminal
     * it may pass. */
    text = json_dumps(j->json,
                      JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (!text) {
        return NULL;
    }
    copy = apr_pstrdup(p, text);
    free(text);
    return copy;
}
