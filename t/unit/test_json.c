/* ao2_json: what is accepted as an object, how members read back, and that
 * nothing but strings, integers and booleans reaches a parameter table. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_json.h"
#include "tap.h"

static ao2_json_t *parse(apr_pool_t *p, const char *text)
{
    const char *why;

    return ao2_json_parse_object(p, text, strlen(text), &why);
}

static void parse_good(apr_pool_t *p)
{
    ao2_json_t *j = parse(p, " {\"s\":\"x\",\"n\":42,\"t\":true,\"f\":false,"
                             "\"r\":1.5,\"a\":[\"one\",\"two\",3],"
                             "\"o\":{\"in\":1},\"z\":null} \n");
    apr_int64_t n = 0;
    int b = -1;

    ok(j != NULL, "an object with every kind of member parses");
    if (!j) {
        return;
    }
    is_str(ao2_json_str(j, "s"), "x", "string member");
    is_str(ao2_json_str(j, "n"), NULL, "a number is not a string");
    is_str(ao2_json_str(j, "missing"), NULL, "absent member");
    ok(ao2_json_int(j, "n", &n) && n == 42, "integer member");
    ok(ao2_json_bool(j, "t", &b) && b == 1, "true");
    ok(ao2_json_bool(j, "f", &b) && b == 0, "false");
    ok(!ao2_json_bool(j, "n", &b), "an integer is not a boolean");
    ok(ao2_json_has(j, "z"), "null is present");
    ok(!ao2_json_has(j, "missing"), "absent is not present");
    is_int(ao2_json_array_len(j, "a"), 3, "array length");
    is_int(ao2_json_array_len(j, "s"), -1, "a string is not an array");
    ok(ao2_json_str_or_array_has(j, "a", "two"), "array holds \"two\"");
    ok(!ao2_json_str_or_array_has(j, "a", "tw"), "but not a prefix of it");
    ok(!ao2_json_str_or_array_has(j, "a", "3"), "nor a number as text");
    ok(ao2_json_str_or_array_has(j, "s", "x"), "a string equal to the value");
    ok(!ao2_json_str_or_array_has(j, "o", "in"), "an object holds nothing");
    ok(parse(p, "{\"a\":1}garbage") == NULL, "trailing data refused");
    ok(ao2_json_parse_object(p, "{\"a\":1}garbage", 7, NULL) != NULL,
       "only len bytes are read");
}

static void parse_bad(apr_pool_t *p)
{
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"", "empty"},
        {"{", "not valid JSON"},
        {"[]", "not a JSON object"},
        {"[{\"a\":1}]", "not a JSON object"},
        {"\"s\"", "not valid JSON"},
        {"42", "not valid JSON"},
        {"null", "not valid JSON"},
        {"{\"a\":1}x", "not valid JSON"},
        {"{\"a\":1} {}", "not valid JSON"},
        {"{\"a\":1,\"a\":2}", "duplicate key"},
        {"{\"a\":{\"b\":1,\"b\":1}}", "duplicate key"},
        {"{\"a\":\"\\u0000\"}", "not valid JSON"},
        {"{\"a\\u0000\":1}", "not valid JSON"},
        {"{\"a\":\"\xff\"}", "not valid JSON"},
        {"{\"a\":99999999999999999999}", "not valid JSON"},
        {"{'a':1}", "not valid JSON"},
        {"{\"a\":1,}", "not valid JSON"},
    };
    const char *why;
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        why = NULL;
        ok(ao2_json_parse_object(p, cases[i].text, strlen(cases[i].text),
                                 &why) == NULL,
           "refuses row %d", (int)i);
        is_str(why, cases[i].why, "reason for row %d", (int)i);
    }
}

static const char *nested(apr_pool_t *p, int depth)
{
    char *s = apr_palloc(p, (apr_size_t)depth * 6 + 8), *o = s;
    int i;

    /* {"a":{"a":...{}...}} with depth objects in all. */
    for (i = 1; i < depth; i++) {
        memcpy(o, "{\"a\":", 5);
        o += 5;
    }
    *o++ = '{';
    for (i = 0; i < depth; i++) {
        *o++ = '}';
    }
    *o = '\0';
    return s;
}

static void parse_bounds(apr_pool_t *p)
{
    const char *why = NULL;
    const char *deep = nested(p, 33);
    char *big;

    ok(parse(p, nested(p, 32)) != NULL, "32 levels of nesting parse");
    ok(ao2_json_parse_object(p, deep, strlen(deep), &why) == NULL,
       "33 levels do not");
    is_str(why, "nested too deeply", "reason");
    ok(parse(p, "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}") != NULL,
       "brackets inside a string are not nesting");
    ok(parse(p, "{\"a\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}") != NULL,
       "nor after an escaped quote");

    big = apr_palloc(p, 1024 * 1024 + 2);
    memset(big, ' ', 1024 * 1024 + 1);
    big[0] = '{';
    big[1024 * 1024 - 1] = '}';
    ok(ao2_json_parse_object(p, big, 1024 * 1024, &why) != NULL,
       "1 MiB parses");
    ok(ao2_json_parse_object(p, big, 1024 * 1024 + 1, &why) == NULL,
       "one byte more does not");
    is_str(why, "too large", "reason");
}

static void int_semantics(apr_pool_t *p)
{
    static const struct {
        const char *text;
        int is;
        apr_int64_t want;
    } cases[] = {
        {"{\"v\":3600}", 1, 3600},
        {"{\"v\":-7}", 1, -7},
        {"{\"v\":3600.0}", 1, 3600},
        {"{\"v\":-0.0}", 1, 0},
        {"{\"v\":1e3}", 1, 1000},
        {"{\"v\":9223372036854775807}", 1, APR_INT64_MAX},
        {"{\"v\":-9223372036854775808}", 1, APR_INT64_MIN},
        {"{\"v\":-9223372036854775808.0}", 1, APR_INT64_MIN},
        {"{\"v\":9223372036854775808.0}", 0, 0},
        {"{\"v\":1e19}", 0, 0},
        {"{\"v\":1e300}", 0, 0},
        {"{\"v\":1.5}", 0, 0},
        {"{\"v\":0.1}", 0, 0},
        {"{\"v\":\"5\"}", 0, 0},
        {"{\"v\":true}", 0, 0},
        {"{\"v\":null}", 0, 0},
        {"{}", 0, 0},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        ao2_json_t *j = parse(p, cases[i].text);
        apr_int64_t v = 0;
        int is = j ? ao2_json_int(j, "v", &v) : -1;
        is_int(is, cases[i].is, "%s is%s an int", cases[i].text,
               cases[i].is ? "" : " not");
        if (cases[i].is) {
            ok(v == cases[i].want, "%s reads as %" APR_INT64_T_FMT,
               cases[i].text, cases[i].want);
        }
    }
}

static const char *table_text(apr_pool_t *p, apr_table_t *t)
{
    const apr_array_header_t *a = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
    const char *s = "";
    int i;

    for (i = 0; i < a->nelts; i++) {
        s = apr_pstrcat(p, s, i ? ";" : "", e[i].key, "=", e[i].val, NULL);
    }
    return s;
}

static void to_table_good(apr_pool_t *p)
{
    ao2_json_t *j = parse(p, "{\"client_id\":\"abc\",\"n\":-42,\"t\":true,"
                             "\"f\":false,\"e\":\"\"}");
    apr_table_t *t = apr_table_make(p, 4);
    const char *bad = "x";

    is_int(ao2_json_to_table(j, t, &bad), APR_SUCCESS, "scalars convert");
    is_str(bad, NULL, "no bad key");
    is_str(table_text(p, t),
           "client_id=abc;n=-42;t=true;f=false;e=", "in order, as text");
}

static void to_table_bad(apr_pool_t *p)
{
    static const char *const cases[] = {
        "{\"ok\":\"x\",\"bad\":{}}",      "{\"ok\":\"x\",\"bad\":[]}",
        "{\"ok\":\"x\",\"bad\":null}",    "{\"ok\":\"x\",\"bad\":1.0}",
        "{\"ok\":\"x\",\"bad\":[\"x\"]}",
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        apr_table_t *t = apr_table_make(p, 4);
        const char *bad = NULL;
        is_int(ao2_json_to_table(parse(p, cases[i]), t, &bad), APR_EINVAL,
               "refuses %s", cases[i]);
        is_str(bad, "bad", "names the member");
    }
}

static void build_and_dump(apr_pool_t *p)
{
    ao2_json_t *j = ao2_json_object(p);

    ao2_json_set_str(j, "access_token", "a\"b\\c\n");
    ao2_json_set_int(j, "expires_in", 3600);
    ao2_json_set_int(j, "min", APR_INT64_MIN);
    ao2_json_set_bool(j, "active", 1);
    ao2_json_set_str(j, "name", "J\xc3\xa9r\xc3\xb4me");
    ao2_json_set_str(j, "bad", "\xff");
    ao2_json_set_str(j, "null", NULL);
    is_str(ao2_json_dump(p, j),
           "{\"access_token\":\"a\\\"b\\\\c\\n\",\"expires_in\":3600,"
           "\"min\":-9223372036854775808,\"active\":true,"
           "\"name\":\"J\\u00E9r\\u00F4me\"}",
           "compact, in insertion order, ASCII only, bad values left out");
    is_str(ao2_json_dump(
               p, ao2_json_parse_object(p, "{\"b\":1,\"a\":2}", 13, NULL)),
           "{\"b\":1,\"a\":2}", "parsed order kept");
    is_str(ao2_json_dump(p, ao2_json_object(p)), "{}", "empty object");
    is_str(ao2_json_dump(p, NULL), NULL, "no object, no text");
}

const ao2_test_case_t ao2_suite_json[] = {
    {"parse a good object", parse_good},
    {"parse refuses", parse_bad},
    {"parse bounds", parse_bounds},
    {"what counts as an integer", int_semantics},
    {"to_table with scalars", to_table_good},
    {"to_table with bad member types", to_table_bad},
    {"build and dump", build_and_dump},
    {NULL, NULL},
};
