/* ao2_verdict: the cached Bearer validation. Round trips at the bounds, and
 * that anything else a cache could hand back decodes to nothing. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_verdict.h"
#include "tap.h"

static ao2_verdict_t verdict(int valid, apr_int64_t exp, const char *login,
                             const char *db, const char *scope)
{
    ao2_verdict_t v;

    v.valid = valid;
    v.expires_at = exp;
    v.login = login;
    v.login_len = strlen(login);
    v.db = db;
    v.db_len = strlen(db);
    v.scope = scope;
    v.scope_len = strlen(scope);
    v.binding = "";
    v.binding_len = 0;
    return v;
}

static int same_bytes(const char *a, apr_size_t alen, const char *b,
                      apr_size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void check_round_trip(const ao2_verdict_t *in, const char *name)
{
    char buf[AO2_VERDICT_MAX];
    apr_size_t len = ao2_verdict_encode(in, buf, sizeof(buf));
    ao2_verdict_t out;

    is_int(len,
           18 + in->login_len + in->db_len + in->scope_len + in->binding_len,
           "%s: encoded length", name);
    ok(ao2_verdict_decode(buf, len, &out), "%s: decodes", name);
    is_int(out.valid, in->valid, "%s: valid", name);
    is_int(out.expires_at, in->expires_at, "%s: expires_at", name);
    ok(same_bytes(out.login, out.login_len, in->login, in->login_len),
       "%s: login", name);
    ok(same_bytes(out.db, out.db_len, in->db, in->db_len), "%s: db", name);
    ok(same_bytes(out.scope, out.scope_len, in->scope, in->scope_len),
       "%s: scope", name);
    ok(same_bytes(out.binding, out.binding_len, in->binding, in->binding_len),
       "%s: binding", name);
    ok(out.login >= buf && out.binding + out.binding_len <= buf + len,
       "%s: strings point into the buffer", name);
}

static void round_trips(apr_pool_t *p)
{
    static const struct {
        int valid;
        apr_int64_t exp;
        const char *login, *db, *scope;
    } cases[] = {
        {1, 1700003600, "jdoe@example.com", "erp_prod", "openid email"},
        {0, 1700000010, "", "", ""},
        {1, 0, "a", "", "read"},
        {1, -1, "x", "y", "z"},
        {1, APR_INT64_C(9223372036854775807), "J\xc3\xa9r\xc3\xb4me", "db", ""},
        {0, APR_INT64_C(-9223372036854775807) - 1, "", "db", ""},
        {1, 0x0102030405060708, "a b", "d", "s"},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        ao2_verdict_t v = verdict(cases[i].valid, cases[i].exp, cases[i].login,
                                  cases[i].db, cases[i].scope);
        check_round_trip(&v, apr_psprintf(p, "verdict row %d", (int)i));
        v.binding = "Jb0f3xq2cS1Fh3aYf0Qm8HcA6iZ2u3y7Lr9Vb4Wd5Ek";
        v.binding_len = strlen(v.binding);
        check_round_trip(
            &v, apr_psprintf(p, "verdict row %d with binding", (int)i));
    }
}

static void layout(apr_pool_t *p)
{
    ao2_verdict_t v = verdict(1, 0x0102030405060708, "ab", "", "s");
    static const char want[] = "\x02\x01\x01\x02\x03\x04\x05\x06\x07\x08"
                               "\x00\x02"
                               "ab"
                               "\x00\x00"
                               "\x00\x01"
                               "s"
                               "\x00\x00";
    char buf[64];
    apr_size_t len = ao2_verdict_encode(&v, buf, sizeof(buf));

    ok(same_bytes(buf, len, want, sizeof(want) - 1),
       "version, valid, big-endian expiry, length-prefixed strings");
    v.valid = 42;
    len = ao2_verdict_encode(&v, buf, sizeof(buf));
    is_int(len ? buf[1] : -1, 1, "any true valid is stored as 1");
}

static void capacity(apr_pool_t *p)
{
    ao2_verdict_t v = verdict(1, 1700003600, "jdoe", "erp", "read write");
    apr_size_t need = 18 + 4 + 3 + 10;
    char buf[64];

    is_int(ao2_verdict_encode(&v, buf, need), need, "exactly the room needed");
    is_int(ao2_verdict_encode(&v, buf, need - 1), 0, "one byte short: 0");
    is_int(ao2_verdict_encode(&v, buf, 0), 0, "no room: 0");
    v = verdict(0, 0, "", "", "");
    is_int(ao2_verdict_encode(&v, buf, 18), 18, "the smallest verdict fits 18");
    is_int(ao2_verdict_encode(&v, buf, 17), 0, "but not 17");
    v.binding = "b";
    v.binding_len = AO2_VERDICT_MAX_BIND + 1;
    is_int(ao2_verdict_encode(&v, buf, sizeof(buf)), 0, "binding too long: 0");
}

static void maximum_lengths(apr_pool_t *p)
{
    char *login = apr_palloc(p, AO2_VERDICT_MAX_LOGIN + 2);
    char *db = apr_palloc(p, AO2_VERDICT_MAX_DB + 2);
    apr_size_t big_len = 0x10000;
    char *scope = apr_palloc(p, big_len + 1);
    char *buf = apr_palloc(p, 2 * big_len);
    ao2_verdict_t v, out;
    apr_size_t len;

    memset(login, 'l', AO2_VERDICT_MAX_LOGIN + 1);
    login[AO2_VERDICT_MAX_LOGIN + 1] = '\0';
    memset(db, 'd', AO2_VERDICT_MAX_DB + 1);
    db[AO2_VERDICT_MAX_DB + 1] = '\0';
    memset(scope, 's', big_len);
    scope[big_len] = '\0';

    v = verdict(1, 1, login, db, "");
    v.login_len = AO2_VERDICT_MAX_LOGIN;
    v.db_len = AO2_VERDICT_MAX_DB;
    len = ao2_verdict_encode(&v, buf, 2 * big_len);
    is_int(len, 18 + AO2_VERDICT_MAX_LOGIN + AO2_VERDICT_MAX_DB,
           "longest login and db");
    ok(ao2_verdict_decode(buf, len, &out) &&
           out.login_len == AO2_VERDICT_MAX_LOGIN &&
           out.db_len == AO2_VERDICT_MAX_DB,
       "and they decode");
    v.login_len = AO2_VERDICT_MAX_LOGIN + 1;
    is_int(ao2_verdict_encode(&v, buf, 2 * big_len), 0, "login one longer: 0");
    v.login_len = AO2_VERDICT_MAX_LOGIN;
    v.db_len = AO2_VERDICT_MAX_DB + 1;
    is_int(ao2_verdict_encode(&v, buf, 2 * big_len), 0, "db one longer: 0");

    v = verdict(1, 1, "u", "", scope);
    v.scope_len = 0xffff;
    len = ao2_verdict_encode(&v, buf, 2 * big_len);
    is_int(len, 18 + 1 + 0xffff, "a scope of 65535 bytes");
    ok(ao2_verdict_decode(buf, len, &out) && out.scope_len == 0xffff,
       "decodes");
    v.scope_len = 0x10000;
    is_int(ao2_verdict_encode(&v, buf, 2 * big_len), 0,
           "a scope of 65536 bytes: 0");
    /* Lengths so large that their sum wraps must not slip through. */
    v = verdict(1, 1, "u", "", "");
    v.login_len = (apr_size_t)-1;
    is_int(ao2_verdict_encode(&v, buf, 64), 0, "a wrapping length: 0");
}

static void decode_refusals(apr_pool_t *p)
{
    ao2_verdict_t v = verdict(1, 1700003600, "jdoe", "erp", "read"), out;
    char buf[64], copy[80];
    apr_size_t len = ao2_verdict_encode(&v, buf, sizeof(buf)), n;
    static const struct {
        const char *bytes;
        apr_size_t len;
    } garbage[] = {
        {"", 0},
        {"\x01", 1},
        {"\x01\x01\0\0\0\0\0\0\0\0", 10},
        {"\x01\x01\0\0\0\0\0\0\0\0\0\0\0\0\0", 15},
        {"\x01\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16},
        {"\x01\xff\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16},
        {"\x00\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16},
        {"\x02\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16},
        {"\x01\x01\0\0\0\0\0\0\0\0\xff\xff\0\0\0\0", 16},
        {"\x01\x01\0\0\0\0\0\0\0\0\0\x01\0\0\0\0", 16},
        {"{\"valid\":true,\"login\":\"admin\"}", 30},
        /* Version 1, from before bindings: no longer read. */
        {"\x01\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16},
        {"\x02\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 18},
    };

    ok(len > 0, "encodes");
    ok(ao2_verdict_decode(buf, len, &out), "the original decodes");
    for (n = 0; n < len; n++) {
        if (ao2_verdict_decode(buf, n, &out)) {
            break;
        }
    }
    is_int(n, len, "every truncation: 0");
    memcpy(copy, buf, len);
    copy[len] = 'x';
    is_int(ao2_verdict_decode(copy, len + 1, &out), 0, "one byte more: 0");
    memcpy(copy, buf, len);
    copy[0] = AO2_VERDICT_VERSION + 1;
    is_int(ao2_verdict_decode(copy, len, &out), 0, "another version: 0");
    for (n = 0; n < AO2_COUNT(garbage); n++) {
        is_int(ao2_verdict_decode(garbage[n].bytes, garbage[n].len, &out), 0,
               "garbage row %d: 0", (int)n);
    }
    ok(ao2_verdict_decode("\x02\x00\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 18,
                          &out) &&
           out.valid == 0 && out.login_len == 0,
       "the smallest rejection decodes");
}

const ao2_test_case_t ao2_suite_verdict[] = {
    {"round trips", round_trips},
    {"layout", layout},
    {"capacity", capacity},
    {"maximum lengths", maximum_lengths},
    {"decode refusals", decode_refusals},
    {NULL, NULL},
};
