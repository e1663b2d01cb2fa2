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
    char num[32];

    if (bad_key) {
        *bad_key = NULL;
    }
    if (!j || !json_is_object(j->json)) {
        return APR_EINVAL;
    }
    for (it = json_object_iter(j->json); it;
         it = json_object_iter_next(j->json, it)) {
        const char *key = json_object_iter_key(it), *text;
        json_t *v = json_object_iter_value(it);
        switch (json_typeof(v)) {
            case JSON_STRING:
                text = json_string_value(v);
                break;
            case JSON_INTEGER:
                apr_snprintf(num, sizeof(num), "%" APR_INT64_T_FMT,
                             (apr_int64_t)json_integer_value(v));
                text = num;
                break;
            case JSON_TRUE:
                text = "true";
                break;
            case JSON_FALSE:
                text = "false";
                break;
            default:
                if (bad_key) {
                    *bad_key = key;
                }
                return APR_EINVAL;
        }
        /* apr_table_add copies both into the table's pool, so the table
         * does not depend on this object's lifetime. */
        apr_table_add(t, key, text);
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
