/* ao2_json: what is accepted as an object, how members read back, and that
 * nothing but strings, integers and booleans reaches a parameter table. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_json.h"
#include "json_flat_check.h"
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
    ao2_json_t *j = parse(p, "{\"client_id\":\"abc\",\"n\":\"-42\","
                             "\"e\":\"\"}");
    apr_table_t *t = apr_table_make(p, 4);
    const char *bad = "x";

    is_int(ao2_json_to_table(j, t, &bad), APR_SUCCESS, "strings convert");
    is_str(bad, NULL, "no bad key");
    is_str(table_text(p, t), "client_id=abc;n=-42;e=", "in order");
}

static void to_table_bad(apr_pool_t *p)
{
    static const char *const cases[] = {
        "{\"ok\":\"x\",\"bad\":{}}",      "{\"ok\":\"x\",\"bad\":[]}",
        "{\"ok\":\"x\",\"bad\":null}",    "{\"ok\":\"x\",\"bad\":1.0}",
        "{\"ok\":\"x\",\"bad\":[\"x\"]}", "{\"ok\":\"x\",\"bad\":-42}",
        "{\"ok\":\"x\",\"bad\":true}",    "{\"ok\":\"x\",\"bad\":false}",
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

#define OK_ AO2_JSON_FLAT_OK
#define NO_ AO2_JSON_FLAT_UNHANDLED
#define BAD AO2_JSON_FLAT_INVALID

/* Texts with a NUL in them carry their length. */
#define FLAT(text, rc)                                                         \
    {                                                                          \
        text, sizeof(text) - 1, rc                                             \
    }

static const struct {
    const char *text;
    apr_size_t len;
    ao2_json_flat_e rc;
} flat_cases[] = {
    FLAT("{}", OK_),
    FLAT(" \t\r\n{ \t\r\n} \t\r\n", OK_),
    FLAT("{\"a\":\"x\"}", OK_),
    FLAT("{\"a\":\"\"}", OK_),
    FLAT("{\"\":1}", OK_),
    FLAT("{\"s\":\"x\",\"n\":42,\"t\":true,\"f\":false,\"z\":null}", OK_),
    FLAT(" { \"a\" : 1 ,\n\"b\"\t:\t\"c\" } ", OK_),
    FLAT("{\"n\":-7}", OK_),
    FLAT("{\"n\":0}", OK_),
    FLAT("{\"n\":-0}", OK_),
    FLAT("{\"n\":9223372036854775807}", OK_),
    FLAT("{\"n\":-9223372036854775808}", OK_),
    FLAT("{\"n\":1000000000000000000}", OK_),
    FLAT("{\"a\":\" ~!@#$%^&*()[]{}:,/<>?'`\"}", OK_),
    FLAT("{\"a\":\"\x7f\"}", OK_),
    FLAT("{\"a\":\"[[[[{{{{\"}", OK_),
    FLAT("{\"k\":\"t:abc\",\"lg\":\"jdoe\",\"exp\":1700003600,\"rv\":true}",
         OK_),
    /* The one refusal of its own: jansson's JSON_REJECT_DUPLICATES. */
    FLAT("{\"a\":1,\"a\":2}", BAD),
    FLAT("{\"a\":1,\"b\":2,\"a\":\"x\"}", BAD),
    FLAT("{\"a\":null,\"a\":null}", BAD),
    /* Left to jansson: outside the subset, or not JSON at all. */
    FLAT("", NO_),
    FLAT("   ", NO_),
    FLAT("[]", NO_),
    FLAT("42", NO_),
    FLAT("null", NO_),
    FLAT("\"s\"", NO_),
    FLAT("{\"n\":9223372036854775808}", NO_),
    FLAT("{\"n\":-9223372036854775809}", NO_),
    FLAT("{\"n\":99999999999999999999}", NO_),
    FLAT("{\"n\":18446744073709551616}", NO_),
    FLAT("{\"n\":1.5}", NO_),
    FLAT("{\"n\":1.0}", NO_),
    FLAT("{\"n\":1e3}", NO_),
    FLAT("{\"n\":1E3}", NO_),
    FLAT("{\"n\":0e0}", NO_),
    FLAT("{\"n\":-}", NO_),
    FLAT("{\"n\":01}", NO_),
    FLAT("{\"n\":-01}", NO_),
    FLAT("{\"n\":+1}", NO_),
    FLAT("{\"n\":.5}", NO_),
    FLAT("{\"a\":\"\\u00e9\"}", NO_),
    FLAT("{\"a\":\"a\\\"b\"}", NO_),
    FLAT("{\"a\\n\":1}", NO_),
    FLAT("{\"a\":\"\\u0000\"}", NO_),
    FLAT("{\"a\":\"\xc3\xa9\"}", NO_),
    FLAT("{\"\xc3\xa9\":1}", NO_),
    FLAT("{\"a\":\"\xff\"}", NO_),
    FLAT("{\"a\":\"\t\"}", NO_),
    FLAT("{\"a\":\"\x01\"}", NO_),
    FLAT("{\"a\":{\"b\":1}}", NO_),
    FLAT("{\"a\":[1]}", NO_),
    FLAT("{\"a\":[]}", NO_),
    FLAT("{\"a\":{}}", NO_),
    FLAT("{\"a\":1}x", NO_),
    FLAT("{\"a\":1} {}", NO_),
    FLAT("{\"a\":1,}", NO_),
    FLAT("{,}", NO_),
    FLAT("{\"a\":1 \"b\":2}", NO_),
    FLAT("{\"a\" 1}", NO_),
    FLAT("{'a':1}", NO_),
    FLAT("{a:1}", NO_),
    FLAT("{\"a\":TRUE}", NO_),
    FLAT("{\"a\":truex}", NO_),
    FLAT("{\"a\":nullx}", NO_),
    FLAT("{\"a\":1x}", NO_),
    FLAT("{\"a\":1}\0", NO_),
    FLAT("{\"a\0\":1}", NO_),
    FLAT("\0{}", NO_),
    FLAT("\xef\xbb\xbf{}", NO_),
    FLAT("{\"a\":1}\f", NO_),
    FLAT("\f{}", NO_),
    FLAT("{\"a\":1,\"a\":[]}", NO_),
    FLAT("{\"a\":[],\"a\":1}", NO_),
};

/* Each row, and every cut of it (what a truncated value would be): the flat
 * reader says what the row says, and never disagrees with jansson. */
static void flat_differential(apr_pool_t *p)
{
    apr_size_t i, cut;

    for (i = 0; i < AO2_COUNT(flat_cases); i++) {
        ao2_json_flat_e rc;
        const char *why =
            flat_check(p, flat_cases[i].text, flat_cases[i].len, &rc);
        is_str(why, NULL, "row %d agrees with jansson", (int)i);
        is_int(rc, flat_cases[i].rc, "row %d: flat reader's answer", (int)i);
        for (cut = 0; cut < flat_cases[i].len; cut++) {
            why = flat_check(p, flat_cases[i].text, cut, NULL);
            if (why) {
                ok(0, "row %d cut to %d bytes: %s", (int)i, (int)cut, why);
            }
        }
    }
}

/* What the flat reader hands over, beyond agreeing with jansson. */
static ao2_json_flat_e flat_last(void *ctx, const ao2_json_member_t *m)
{
    *(ao2_json_member_t *)ctx = *m;
    return AO2_JSON_FLAT_OK;
}

static void flat_values(apr_pool_t *p)
{
    static const char text[] = "{\"min\":-9223372036854775808}";
    static const char str[] = "{\"s\" : \"a b\" }";
    ao2_json_member_t m;

    memset(&m, 0, sizeof(m));
    is_int(ao2_json_parse_flat(text, strlen(text), flat_last, &m), OK_,
           "INT64_MIN reads");
    ok(m.kind == AO2_JSON_INTEGER && m.num == APR_INT64_MIN, "as INT64_MIN");
    ok(m.name_len == 3 && memcmp(m.name, "min", 3) == 0, "named min");
    is_int(ao2_json_parse_flat(str, strlen(str), flat_last, &m), OK_,
           "a string reads");
    ok(m.kind == AO2_JSON_STRING && m.str_len == 3 &&
           memcmp(m.str, "a b", 3) == 0,
       "without its quotes");
    is_int(ao2_json_parse_flat(NULL, 0, flat_last, &m), NO_,
           "no text is jansson's to refuse");
}

const ao2_test_case_t ao2_suite_json[] = {
    {"parse a good object", parse_good},
    {"parse refuses", parse_bad},
    {"parse bounds", parse_bounds},
    {"what counts as an integer", int_semantics},
    {"to_table with scalars", to_table_good},
    {"to_table with bad member types", to_table_bad},
    {"build and dump", build_and_dump},
    {"flat reader agrees with jansson", flat_differential},
    {"flat reader values", flat_values},
    {NULL, NULL},
};
