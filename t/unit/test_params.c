/* ao2_params: decoding, the bounds, and that no error text repeats what the
 * client sent. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_params.h"
#include "tap.h"

/* Every refused input below contains this, and no error may contain it. */
#define MARK "SeCrEt"

static const char *table_text(apr_pool_t *p, const apr_table_t *t)
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

static void is_invalid_request(const ao2_err_t *err, const char *desc,
                               const char *name)
{
    ok(err && err->status == 400 && strcmp(err->code, "invalid_request") == 0,
       "%s: 400 invalid_request", name);
    is_str(err ? err->description : NULL, desc, "%s: description", name);
    ok(!err || !strstr(err->description, MARK), "%s: input not echoed", name);
}

static void url_decode_cases(apr_pool_t *p)
{
    static const struct {
        const char *in;
        int plus;
        long want;
        const char *out;
    } cases[] = {
        {"", 1, 0, ""},         {"abc", 1, 3, "abc"},
        {"a%20b", 0, 3, "a b"}, {"a+b", 1, 3, "a b"},
        {"a+b", 0, 3, "a+b"},   {"%41%4a%4A%7e", 0, 4, "AJJ~"},
        {"%2B", 1, 1, "+"},     {"%25", 1, 1, "%"},
        {"%2541", 1, 3, "%41"}, {"%C3%A9", 1, 2, "\xc3\xa9"},
        {"%", 1, -1, NULL},     {"a%4", 1, -1, NULL},
        {"%zz", 1, -1, NULL},   {"%g0", 1, -1, NULL},
        {"%0g", 1, -1, NULL},   {"% 41", 1, -1, NULL},
        {"%00", 1, -1, NULL},   {"a%00b", 1, -1, NULL},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        char *s = apr_pstrdup(p, cases[i].in);
        long n = ao2_url_decode(s, cases[i].plus);
        is_int(n, cases[i].want, "decode \"%s\" length", cases[i].in);
        if (cases[i].out) {
            is_str(s, cases[i].out, "decode \"%s\"", cases[i].in);
        }
    }
}

static void url_encode_cases(apr_pool_t *p)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", ""},
        {"AZaz09-._~", "AZaz09-._~"},
        {"a b+c&d=e/f?g#h%", "a%20b%2Bc%26d%3De%2Ff%3Fg%23h%25"},
        {"https://rp.example/cb?x=1", "https%3A%2F%2Frp.example%2Fcb%3Fx%3D1"},
        {"J\xc3\xa9r\xc3\xb4me", "J%C3%A9r%C3%B4me"},
        {"\x01\x7f\xff", "%01%7F%FF"},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        char *enc = ao2_url_encode(p, cases[i].in);
        is_str(enc, cases[i].want, "encode row %d", (int)i);
        ok(ao2_url_decode(enc, 0) == (long)strlen(cases[i].in) &&
               strcmp(enc, cases[i].in) == 0,
           "row %d decodes back", (int)i);
    }
}

static void form_accepts(apr_pool_t *p)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"", ""},
        {"a=1", "a=1"},
        {"a=1&b=2", "a=1;b=2"},
        {"a", "a="},
        {"a=", "a="},
        {"a&b", "a=;b="},
        {"a==b", "a==b"},
        {"a=1&&b=2&", "a=1;b=2"},
        {"&", ""},
        {"a=1&a=2", "a=1;a=2"},
        {"x=a%20b+c", "x=a b c"},
        {"a%5Fb=%3D%26", "a_b==&"},
        {"redirect_uri=https%3A%2F%2Frp.example%2Fcb%3Fx%3D1",
         "redirect_uri=https://rp.example/cb?x=1"},
        {"name=J%C3%A9r%C3%B4me", "name=J\xc3\xa9r\xc3\xb4me"},
        {"raw=J\xc3\xa9r\xc3\xb4me", "raw=J\xc3\xa9r\xc3\xb4me"},
        {"emoji=%F0%9F%98%80", "emoji=\xf0\x9f\x98\x80"},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        apr_table_t *t = apr_table_make(p, 4);
        ao2_err_t *err =
            ao2_params_parse_form(p, cases[i].body, strlen(cases[i].body), t);
        ok(err == NULL, "accepts \"%s\"", cases[i].body);
        is_str(table_text(p, t), cases[i].want, "fields of \"%s\"",
               cases[i].body);
    }
}

static void form_refuses(apr_pool_t *p)
{
    static const struct {
        const char *body;
        apr_size_t len;
        const char *desc;
    } cases[] = {
        {"=" MARK, 7, "parameter without a name"},
        {"a=1&=" MARK, 11, "parameter without a name"},
        {"a=%zz" MARK, 11, "malformed percent-encoding"},
        {"a=" MARK "%4", 10, "malformed percent-encoding"},
        {"a=" MARK "%", 9, "malformed percent-encoding"},
        {"a%=" MARK, 9, "malformed percent-encoding"},
        {"a=" MARK "%00", 11, "parameter contains control characters"},
        {"a=" MARK "\0x", 10, "parameter contains control characters"},
        {"a=" MARK "%0A", 11, "parameter contains control characters"},
        {"a=" MARK "%0D%0AX: y", 18, "parameter contains control characters"},
        {"a=" MARK "%09", 11, "parameter contains control characters"},
        {"a=" MARK "%1F", 11, "parameter contains control characters"},
        {"a=" MARK "%7F", 11, "parameter contains control characters"},
        {"a=" MARK "\n", 9, "parameter contains control characters"},
        {"a%0A=" MARK, 11, "parameter contains control characters"},
        {"a=" MARK "%FF", 11, "parameter is not valid UTF-8"},
        {"a=" MARK "%C0%80", 14, "parameter is not valid UTF-8"},
        {"a=" MARK "%ED%A0%80", 17, "parameter is not valid UTF-8"},
        {"a=" MARK "%F4%90%80%80", 20, "parameter is not valid UTF-8"},
        {"a=" MARK "%C3", 11, "parameter is not valid UTF-8"},
        {"a=" MARK "\xe9", 9, "parameter is not valid UTF-8"},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        apr_table_t *t = apr_table_make(p, 4);
        ao2_err_t *err;

        apr_table_set(t, "before", "x");
        err = ao2_params_parse_form(p, cases[i].body, cases[i].len, t);
        is_invalid_request(err, cases[i].desc,
                           apr_psprintf(p, "form row %d", (int)i));
        is_str(table_text(p, t), "before=x", "row %d leaves t as it was",
               (int)i);
    }
}

/* curl -d sends JSON as a form: said so, instead of a missing parameter. */
static void form_body_json(apr_pool_t *p)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{\"client_user_identity\":\"" MARK "\"}", NULL},
        {" \r\n\t{\"a\":1}", NULL},
        {"{", NULL},
        {"a={\"" MARK "\"}", "a={\"" MARK "\"}"},
        {"a=1&{", "a=1;{="},
        {"%7B=1", "{=1"},
        {"", ""},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        apr_table_t *t = apr_table_make(p, 4);
        ao2_err_t *err = ao2_params_parse_form_body(p, cases[i].body,
                                                    strlen(cases[i].body), t);
        if (cases[i].want == NULL) {
            is_invalid_request(err,
                               "the body looks like JSON but was sent as "
                               "application/x-www-form-urlencoded; send "
                               "Content-Type: application/json",
                               apr_psprintf(p, "form body row %d", (int)i));
            is_int(apr_table_elts(t)->nelts, 0, "row %d adds nothing", (int)i);
        } else {
            ok(err == NULL, "form body row %d is a form", (int)i);
            is_str(table_text(p, t), cases[i].want, "row %d fields", (int)i);
        }
    }
}

/* n fields named k0.., each with value v, as a form or as JSON members. */
static const char *many_fields(apr_pool_t *p, int n, int json)
{
    const char *s = "";
    int i;

    for (i = 0; i < n; i++) {
        s = apr_psprintf(
            p, json ? "%s%s\"k%d" MARK "\":\"v\"" : "%s%sk%d" MARK "=v", s,
            i ? (json ? "," : "&") : "", i);
    }
    return json ? apr_pstrcat(p, "{", s, "}", NULL) : s;
}

static char *repeat(apr_pool_t *p, const char *unit, int n)
{
    apr_size_t ulen = strlen(unit);
    char *s = apr_palloc(p, ulen * (apr_size_t)n + 1);
    int i;

    for (i = 0; i < n; i++) {
        memcpy(s + ulen * (apr_size_t)i, unit, ulen);
    }
    s[ulen * (apr_size_t)n] = '\0';
    return s;
}

static void form_bounds(apr_pool_t *p)
{
    apr_table_t *t = apr_table_make(p, 4);
    const char *body = many_fields(p, AO2_PARAMS_MAX_FIELDS, 0);

    ok(ao2_params_parse_form(p, body, strlen(body), t) == NULL,
       "%d fields are accepted", AO2_PARAMS_MAX_FIELDS);
    is_int(apr_table_elts(t)->nelts, AO2_PARAMS_MAX_FIELDS, "all kept");

    body = apr_pstrcat(p, body, "&one=more", NULL);
    is_invalid_request(ao2_params_parse_form(p, body, strlen(body), t),
                       "too many parameters", "one field too many");

    body = repeat(p, "&", AO2_PARAMS_MAX_FIELDS + 1);
    is_invalid_request(ao2_params_parse_form(p, body, strlen(body), t),
                       "too many parameters", "empty fields count");

    body = apr_pstrcat(p, "v=", repeat(p, "x", AO2_PARAMS_MAX_VALUE), NULL);
    ok(ao2_params_parse_form(p, body, strlen(body), t) == NULL,
       "a value of %d bytes is accepted", AO2_PARAMS_MAX_VALUE);
    body = apr_pstrcat(p, "v=" MARK, repeat(p, "x", AO2_PARAMS_MAX_VALUE - 5),
                       NULL);
    is_invalid_request(ao2_params_parse_form(p, body, strlen(body), t),
                       "parameter too long", "one byte more");
    body = apr_pstrcat(p, "v=", repeat(p, "%41", AO2_PARAMS_MAX_VALUE), NULL);
    ok(ao2_params_parse_form(p, body, strlen(body), t) == NULL,
       "%d escaped bytes are accepted", AO2_PARAMS_MAX_VALUE);
    body = apr_pstrcat(p, "v=" MARK, repeat(p, "%41", AO2_PARAMS_MAX_VALUE - 5),
                       NULL);
    is_invalid_request(ao2_params_parse_form(p, body, strlen(body), t),
                       "parameter too long", "one escaped byte more");
    body =
        apr_pstrcat(p, MARK, repeat(p, "k", AO2_PARAMS_MAX_VALUE), "=v", NULL);
    is_invalid_request(ao2_params_parse_form(p, body, strlen(body), t),
                       "parameter too long", "names are bounded too");
}

static void json_accepts(apr_pool_t *p)
{
    const char *body = "{\"client_id\":\"abc\",\"n\":\"5\",\"b\":\"false\","
                       "\"name\":\"J\\u00e9r\\u00f4me\"}";
    apr_table_t *t = apr_table_make(p, 4);

    ok(ao2_params_parse_json(p, body, strlen(body), t) == NULL,
       "an object of strings");
    is_str(table_text(p, t),
           "client_id=abc;n=5;b=false;name=J\xc3\xa9r\xc3\xb4me", "its fields");
}

static void json_refuses(apr_pool_t *p)
{
    static const struct {
        const char *body, *desc;
    } cases[] = {
        {"", "body is not a JSON object"},
        {"client_id=" MARK, "body is not a JSON object"},
        {"[\"" MARK "\"]", "body is not a JSON object"},
        {"\"" MARK "\"", "body is not a JSON object"},
        {"{\"a\":\"" MARK "\"", "body is not a JSON object"},
        {"{\"a\":\"" MARK "\",\"a\":\"x\"}", "body is not a JSON object"},
        {"{\"a\":\"" MARK "\"} x", "body is not a JSON object"},
        {"{\"" MARK "\":{}}", "parameter values must be strings"},
        {"{\"" MARK "\":[\"x\"]}", "parameter values must be strings"},
        {"{\"" MARK "\":null}", "parameter values must be strings"},
        {"{\"" MARK "\":1.5}", "parameter values must be strings"},
        {"{\"" MARK "\":5}", "parameter values must be strings"},
        {"{\"" MARK "\":false}", "parameter values must be strings"},
        /* The parameters the endpoints read are named, from the module's own
         * list of them: docs/endpoints.md says values are strings. */
        {"{\"client_user_identity\":42}",
         "parameter client_user_identity must be a string"},
        {"{\"a\":\"" MARK "\",\"client_id\":true}",
         "parameter client_id must be a string"},
        {"{\"CLIENT_SECRET\":1}", "parameter client_secret must be a string"},
        {"{\"state\":[\"" MARK "\"]}", "parameter state must be a string"},
        {"{\"\":\"" MARK "\"}", "parameter without a name"},
        {"{\"a\":\"" MARK "\\n\"}", "parameter contains control characters"},
        {"{\"a\":\"" MARK "\\u007f\"}",
         "parameter contains control characters"},
        {"{\"a\\t\":\"" MARK "\"}", "parameter contains control characters"},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        apr_table_t *t = apr_table_make(p, 4);
        ao2_err_t *err =
            ao2_params_parse_json(p, cases[i].body, strlen(cases[i].body), t);
        is_invalid_request(err, cases[i].desc,
                           apr_psprintf(p, "json row %d", (int)i));
        is_int(apr_table_elts(t)->nelts, 0, "json row %d adds nothing", (int)i);
    }
}

static void json_bounds(apr_pool_t *p)
{
    apr_table_t *t = apr_table_make(p, 4);
    const char *body = many_fields(p, AO2_PARAMS_MAX_FIELDS, 1);

    ok(ao2_params_parse_json(p, body, strlen(body), t) == NULL,
       "%d members are accepted", AO2_PARAMS_MAX_FIELDS);
    is_int(apr_table_elts(t)->nelts, AO2_PARAMS_MAX_FIELDS, "all kept");
    body = many_fields(p, AO2_PARAMS_MAX_FIELDS + 1, 1);
    is_invalid_request(ao2_params_parse_json(p, body, strlen(body), t),
                       "too many parameters", "one member too many");

    body = apr_pstrcat(p, "{\"v\":\"", repeat(p, "x", AO2_PARAMS_MAX_VALUE),
                       "\"}", NULL);
    ok(ao2_params_parse_json(p, body, strlen(body), t) == NULL,
       "a value of %d bytes is accepted", AO2_PARAMS_MAX_VALUE);
    body = apr_pstrcat(p, "{\"v\":\"" MARK,
                       repeat(p, "\\u0041", AO2_PARAMS_MAX_VALUE - 5), "\"}",
                       NULL);
    is_invalid_request(ao2_params_parse_json(p, body, strlen(body), t),
                       "parameter too long", "one escaped byte more");
    body = apr_pstrcat(p, "{\"" MARK, repeat(p, "k", AO2_PARAMS_MAX_VALUE),
                       "\":\"1\"}", NULL);
    is_invalid_request(ao2_params_parse_json(p, body, strlen(body), t),
                       "parameter too long", "names are bounded too");
}

static void params_get_cases(apr_pool_t *p)
{
    static const char body[] = "state=s1&code=c1&code=c2&nonce=n&NONCE=m&e=";
    apr_table_t *t = apr_table_make(p, 4);
    ao2_err_t *err = NULL;

    ao2_params_parse_form(p, body, strlen(body), t);
    is_str(ao2_params_get(p, t, "state", &err), "s1", "once: the value");
    ok(err == NULL, "once: no error");
    is_str(ao2_params_get(p, t, "e", &err), "", "empty value is a value");
    is_str(ao2_params_get(p, t, "absent", &err), NULL, "absent: NULL");
    ok(err == NULL, "absent: no error");
    is_str(ao2_params_get(p, t, "code", &err), NULL, "twice: NULL");
    ok(err && err->status == 400 && !strcmp(err->code, "invalid_request"),
       "twice: 400 invalid_request");
    is_str(err ? err->description : NULL, "parameter code given more than once",
           "twice: names the key");
    ao2_params_get(p, t, "nonce", &err);
    ok(err != NULL, "names differing only in case are the same parameter");
}

const ao2_test_case_t ao2_suite_params[] = {
    {"url_decode", url_decode_cases},
    {"url_encode", url_encode_cases},
    {"form accepts", form_accepts},
    {"form refuses", form_refuses},
    {"form bounds", form_bounds},
    {"form body json", form_body_json},
    {"json accepts", json_accepts},
    {"json refuses", json_refuses},
    {"json bounds", json_bounds},
    {"params_get", params_get_cases},
    {NULL, NULL},
};
