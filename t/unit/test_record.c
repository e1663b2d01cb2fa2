/* ao2_record: what the store holds. Round trips, then every way a stored
 * value can be wrong: other key, other record, tampered, truncated, foreign
 * version. Secrets never appear in the stored bytes. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_record.h"
#include "tap.h"

#define AT "AT-access-0123456789abcdefghij"
#define RT "RT-refresh-9876543210zyxwvutsrq"
#define IT "eyJhbGciOiJub25lIn0.eyJzdWIiOiJqZG9lIn0.IDTOKEN"
#define CV "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

static void test_keys(ao2_keys_t *k, unsigned char seed)
{
    unsigned char master[AO2_MASTER_KEY_MIN];

    memset(master, seed, sizeof(master));
    ao2_keys_derive(k, master, sizeof(master));
}

static ao2_record_t full_record(void)
{
    ao2_record_t r;

    r.api = "/jsonapiext";
    r.client_id = "client-1";
    r.user_identity = "user@example.com";
    r.provider = "keycloak";
    r.access_token = AT;
    r.refresh_token = RT;
    r.id_token = IT;
    r.token_type = "Bearer";
    r.scope = "openid email offline_access";
    r.login = "jdoe";
    r.db = "erp_prod";
    r.issued_at = 1700000000;
    r.expires_at = 1700003600;
    return r;
}

static void same_record(const ao2_record_t *got, const ao2_record_t *want,
                        const char *name)
{
    is_str(got->api, want->api, "%s: api", name);
    is_str(got->client_id, want->client_id, "%s: client_id", name);
    is_str(got->user_identity, want->user_identity, "%s: user_identity", name);
    is_str(got->provider, want->provider, "%s: provider", name);
    is_str(got->access_token, want->access_token, "%s: access_token", name);
    is_str(got->refresh_token, want->refresh_token, "%s: refresh_token", name);
    is_str(got->id_token, want->id_token, "%s: id_token", name);
    is_str(got->token_type, want->token_type, "%s: token_type", name);
    is_str(got->scope, want->scope, "%s: scope", name);
    is_str(got->login, want->login, "%s: login", name);
    is_str(got->db, want->db, "%s: db", name);
    is_int(got->issued_at, want->issued_at, "%s: issued_at", name);
    is_int(got->expires_at, want->expires_at, "%s: expires_at", name);
}

static int contains(const char *buf, apr_size_t len, const char *text)
{
    apr_size_t n = strlen(text), i;

    for (i = 0; i + n <= len; i++) {
        if (memcmp(buf + i, text, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static void record_round_trip(apr_pool_t *p)
{
    ao2_keys_t k;
    ao2_record_t in[3], out;
    const char *key = ao2_record_key(p, "/jsonapiext", "client-1", "user");
    apr_size_t i;

    test_keys(&k, 0x11);
    in[0] = full_record();
    /* Every optional member absent. */
    in[1] = full_record();
    in[1].refresh_token = NULL;
    in[1].id_token = NULL;
    in[1].token_type = NULL;
    in[1].scope = NULL;
    in[1].login = NULL;
    in[1].db = NULL;
    in[1].expires_at = 0;
    /* Empty strings, non-ASCII text and extreme times survive as they are. */
    in[2] = full_record();
    in[2].user_identity =
        "J\xc3\xa9r\xc3\xb4me \"quoted\" \\ / \xf0\x9f\x98\x80";
    in[2].refresh_token = "";
    in[2].scope = "";
    in[2].issued_at = -1;
    in[2].expires_at = APR_INT64_C(9223372036854775807);

    for (i = 0; i < AO2_COUNT(in); i++) {
        const char *name = apr_psprintf(p, "record %d", (int)i);
        apr_size_t len = 0;
        char *val = ao2_record_encode(p, &k, key, &in[i], &len);

        ok(val != NULL && len > 1, "%s encodes", name);
        if (val == NULL) {
            continue;
        }
        is_int(val[0], AO2_RECORD_VERSION, "%s: version byte", name);
        is_int(strlen(val), len, "%s: len counts every byte", name);
        is_int(ao2_record_decode(p, &k, key, val, len, &out), APR_SUCCESS,
               "%s decodes", name);
        same_record(&out, &in[i], name);
    }
}

static void record_secrets_sealed(apr_pool_t *p)
{
    ao2_keys_t k;
    ao2_record_t rec = full_record();
    ao2_state_t st = {"/api", "c", "u", "nonce-1", CV, "https://rp/cb", 1};
    const char *key = ao2_record_key(p, "/jsonapiext", "client-1", "user");
    apr_size_t len = 0, len2 = 0;
    char *val, *val2;

    test_keys(&k, 0x11);
    val = ao2_record_encode(p, &k, key, &rec, &len);
    val2 = ao2_record_encode(p, &k, key, &rec, &len2);
    ok(val && !contains(val, len, AT), "access token not in the clear");
    ok(val && !contains(val, len, RT), "refresh token not in the clear");
    ok(val && !contains(val, len, IT), "id token not in the clear");
    ok(val && !contains(val, len, "access-0123456789"),
       "not even a part of it");
    ok(val && contains(val, len, "jdoe"), "the login is (not a secret)");
    ok(val && val2 && (len != len2 || memcmp(val, val2, len) != 0),
       "two encodings differ (fresh nonces)");

    val = ao2_state_encode(p, &k, ao2_state_key(p, "st"), &st, &len);
    ok(val && !contains(val, len, CV), "code verifier not in the clear");
    ok(val && contains(val, len, "nonce-1"), "the nonce is (not a secret)");
}

static void record_refusals(apr_pool_t *p)
{
    ao2_keys_t k, other;
    ao2_record_t rec = full_record(), out;
    const char *key = ao2_record_key(p, "/jsonapiext", "client-1", "user");
    const char *key2 = ao2_record_key(p, "/jsonapiext", "client-1", "user2");
    apr_size_t len = 0, n;
    char *val, *copy, *at;

    test_keys(&k, 0x11);
    test_keys(&other, 0x22);
    val = ao2_record_encode(p, &k, key, &rec, &len);
    ok(val != NULL, "encodes");
    if (val == NULL) {
        return;
    }
    is_int(ao2_record_decode(p, &other, key, val, len, &out), APR_EGENERAL,
           "another master key: APR_EGENERAL");
    is_str(out.access_token, NULL, "no secret from another key");
    is_int(ao2_record_decode(p, &k, key2, val, len, &out), APR_EGENERAL,
           "copied under another store key: APR_EGENERAL");
    is_str(out.refresh_token, NULL, "no secret under another store key");

    /* One character of the sealed access token changed for another of the
     * alphabet: the tag no longer verifies. */
    copy = apr_pmemdup(p, val, len + 1);
    at = strstr(copy, "\"at\":\"");
    ok(at != NULL, "the sealed access token is there");
    if (at) {
        at += 6 + 10;
        *at = *at == 'A' ? 'B' : 'A';
        is_int(ao2_record_decode(p, &k, key, copy, len, &out), APR_EGENERAL,
               "flipped byte in a sealed value: APR_EGENERAL");
        is_str(out.access_token, NULL, "and no access token");
    }
    /* Every character of every sealed value, one at a time. */
    for (n = 0; n < len; n++) {
        const char *names[] = {"\"at\":\"", "\"rt\":\"", "\"it\":\""};
        apr_size_t s, start, end;
        int inside = 0;

        for (s = 0; s < AO2_COUNT(names); s++) {
            const char *m = strstr(val, names[s]);
            start = (apr_size_t)(m - val) + 6;
            end = start + strcspn(val + start, "\"");
            inside |= n >= start && n < end;
        }
        if (!inside) {
            continue;
        }
        copy = apr_pmemdup(p, val, len + 1);
        copy[n] = copy[n] == 'A' ? 'B' : 'A';
        if (ao2_record_decode(p, &k, key, copy, len, &out) == APR_SUCCESS) {
            break;
        }
    }
    is_int(n, len, "no change in a sealed value goes unnoticed");

    copy = apr_pmemdup(p, val, len + 1);
    copy[0] = AO2_RECORD_VERSION + 1;
    is_int(ao2_record_decode(p, &k, key, copy, len, &out), APR_EINVAL,
           "wrong version byte: APR_EINVAL");
    copy[0] = 0;
    is_int(ao2_record_decode(p, &k, key, copy, len, &out), APR_EINVAL,
           "version 0: APR_EINVAL");
    copy[0] = '{';
    is_int(ao2_record_decode(p, &k, key, copy, len, &out), APR_EINVAL,
           "no version byte: APR_EINVAL");
    for (n = 0; n < len; n++) {
        if (ao2_record_decode(p, &k, key, val, n, &out) != APR_EINVAL) {
            break;
        }
    }
    is_int(n, len, "every truncation: APR_EINVAL");
    copy = apr_pstrcat(p, val, "x", NULL);
    is_int(ao2_record_decode(p, &k, key, copy, len + 1, &out), APR_EINVAL,
           "trailing data: APR_EINVAL");
    is_int(ao2_record_decode(p, &k, key, NULL, 0, &out), APR_EINVAL,
           "nothing: APR_EINVAL");
}

static void record_incomplete(apr_pool_t *p)
{
    /* Well-formed values that lack what a record needs. */
    static const char *const cases[] = {
        "\x01{}",
        "\x01[]",
        "\x01{\"api\":\"/a\",\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\","
        "\"iat\":1,\"exp\":2}",
        "\x01{\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\",\"iat\":1,\"exp\":2,"
        "\"at\":\"x\"}",
        "\x01{\"api\":\"/a\",\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\","
        "\"iat\":\"1\",\"exp\":2,\"at\":\"x\"}",
        "\x01{\"api\":\"/a\",\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\","
        "\"iat\":1,\"exp\":2,\"at\":\"not sealed\"}",
        "\x01{\"api\":\"/a\",\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\","
        "\"iat\":1,\"exp\":2,\"at\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
    };
    ao2_keys_t k;
    ao2_record_t out;
    apr_size_t i;

    test_keys(&k, 0x11);
    for (i = 0; i < AO2_COUNT(cases); i++) {
        apr_status_t rv =
            ao2_record_decode(p, &k, "t:x", cases[i], strlen(cases[i]), &out);
        ok(rv == APR_EINVAL || rv == APR_EGENERAL, "incomplete row %d refused",
           (int)i);
        is_str(out.access_token, NULL, "incomplete row %d: no access token",
               (int)i);
    }
}

static void index_round_trip(apr_pool_t *p)
{
    static const ao2_index_t cases[] = {
        {"t:abc", "jdoe", "erp", "read write", 1700003600, 0},
        {"t:abc", "jdoe", "erp", "read write", 1700003600, 1},
        {"t:abc", NULL, NULL, NULL, 0, 0},
        {"t:abc", "", "", "", -5, 1},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        apr_size_t len = 0;
        char *val = ao2_index_encode(p, &cases[i], &len);
        ao2_index_t out;

        ok(val && len > 1 && val[0] == AO2_RECORD_VERSION,
           "index row %d encodes", (int)i);
        is_int(ao2_index_decode(p, val, len, &out), APR_SUCCESS,
               "index row %d decodes", (int)i);
        is_str(out.record_key, cases[i].record_key, "index row %d: key",
               (int)i);
        is_str(out.login, cases[i].login, "index row %d: login", (int)i);
        is_str(out.db, cases[i].db, "index row %d: db", (int)i);
        is_str(out.scope, cases[i].scope, "index row %d: scope", (int)i);
        is_int(out.expires_at, cases[i].expires_at, "index row %d: exp",
               (int)i);
        is_int(out.revoked, cases[i].revoked, "index row %d: revoked", (int)i);
    }
}

static void index_refusals(apr_pool_t *p)
{
    static const char *const cases[] = {
        "",
        "\x01",
        "\x01{}",
        "\x02{\"k\":\"t:a\",\"exp\":1}",
        "{\"k\":\"t:a\",\"exp\":1}",
        "\x01{\"k\":\"t:a\",\"exp\":1",
        "\x01{\"k\":\"t:a\",\"exp\":1}}",
        "\x01{\"k\":\"t:a\"}",
        "\x01{\"k\":1,\"exp\":1}",
        "\x01{\"exp\":1}",
        "\x01{\"k\":\"t:a\",\"exp\":1.5}",
        "\x01{\"k\":\"t:a\",\"k\":\"t:b\",\"exp\":1}",
    };
    static const char smallest[] = "\x01{\"k\":\"t:a\",\"exp\":1}";
    ao2_index_t out;
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        is_int(ao2_index_decode(p, cases[i], strlen(cases[i]), &out),
               APR_EINVAL, "index refusal row %d", (int)i);
    }
    ok(ao2_index_decode(p, smallest, strlen(smallest), &out) == APR_SUCCESS &&
           out.revoked == 0 && out.login == NULL,
       "the smallest index entry, not revoked");
}

static void state_round_trip(apr_pool_t *p)
{
    ao2_keys_t k, other;
    ao2_state_t st = {"/jsonapiext",
                      "client-1",
                      "user@example.com",
                      "nonce-abc",
                      CV,
                      "https://erp.example.com/jsonapiext/oauth2/callback",
                      1700000600};
    ao2_state_t out;
    const char *key = ao2_state_key(p, "state-1");
    apr_size_t len = 0;
    char *val, *copy;

    test_keys(&k, 0x11);
    test_keys(&other, 0x22);
    val = ao2_state_encode(p, &k, key, &st, &len);
    ok(val && len > 1 && val[0] == AO2_RECORD_VERSION, "state encodes");
    if (val == NULL) {
        return;
    }
    is_int(ao2_state_decode(p, &k, key, val, len, &out), APR_SUCCESS,
           "state decodes");
    is_str(out.api, st.api, "api");
    is_str(out.client_id, st.client_id, "client_id");
    is_str(out.user_identity, st.user_identity, "user_identity");
    is_str(out.nonce, st.nonce, "nonce");
    is_str(out.code_verifier, st.code_verifier, "code_verifier");
    is_str(out.redirect_uri, st.redirect_uri, "redirect_uri");
    is_int(out.expires_at, st.expires_at, "expires_at");

    is_int(ao2_state_decode(p, &other, key, val, len, &out), APR_EGENERAL,
           "another master key: APR_EGENERAL");
    is_str(out.code_verifier, NULL, "no verifier from another key");
    is_int(ao2_state_decode(p, &k, ao2_state_key(p, "state-2"), val, len, &out),
           APR_EGENERAL, "under another state: APR_EGENERAL");
    copy = apr_pmemdup(p, val, len + 1);
    copy[0] = 0x7f;
    is_int(ao2_state_decode(p, &k, key, copy, len, &out), APR_EINVAL,
           "wrong version: APR_EINVAL");
    is_int(ao2_state_decode(p, &k, key, val, len - 1, &out), APR_EINVAL,
           "truncated: APR_EINVAL");

    st.code_verifier = NULL;
    val = ao2_state_encode(p, &k, key, &st, &len);
    is_int(val ? ao2_state_decode(p, &k, key, val, len, &out) : -1, APR_EINVAL,
           "a state without a verifier is refused");
    st.code_verifier = CV;
    st.nonce = NULL;
    val = ao2_state_encode(p, &k, key, &st, &len);
    is_int(val ? ao2_state_decode(p, &k, key, val, len, &out) : -1, APR_EINVAL,
           "a state without a nonce is refused");
}

static void keys_cases(apr_pool_t *p)
{
    const char *k1 = ao2_record_key(p, "/api", "ab", "c");
    const char *k2 = ao2_record_key(p, "/api", "a", "bc");
    apr_pool_t *sub;

    ok(k1 && strncmp(k1, "t:", 2) == 0 && strlen(k1) == 2 + 43,
       "record key: t: and 43 characters");
    ok(strcmp(k1, k2) != 0, "(\"ab\",\"c\") and (\"a\",\"bc\") differ");
    ok(strcmp(ao2_record_key(p, "/api", "", "abc"),
              ao2_record_key(p, "/api", "abc", "")) != 0,
       "(\"\",\"abc\") and (\"abc\",\"\") differ");
    ok(strcmp(ao2_record_key(p, "/api", "a", "1:b"),
              ao2_record_key(p, "/api", "a1:b", "")) != 0,
       "length prefixes cannot be forged");
    ok(strcmp(ao2_record_key(p, "/api", "a", "b"),
              ao2_record_key(p, "/api2", "a", "b")) != 0,
       "the api is part of the key");
    apr_pool_create(&sub, p);
    is_str(ao2_record_key(sub, "/api", "ab", "c"), k1,
           "stable across calls and pools");
    apr_pool_destroy(sub);
    /* Known answer: SHA-256 of "4:/api2:ab1:c", so a change of the key
     * format (which would orphan every stored record) shows here. */
    is_str(k1, "t:BSWDRyi9BOnYFuVubtBew395FkzB-N3iaE6EUyPD2cE",
           "record key known answer");
    is_str(ao2_index_key(p, "abc"),
           "a:ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0",
           "index key: a: and SHA-256 of the token");
    is_str(ao2_state_key(p, "abc"),
           "s:ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0",
           "state key: s: and SHA-256 of the state");
}

static void token_info_cases(apr_pool_t *p)
{
    ao2_record_t rec = full_record();
    const char *why, *text;
    ao2_json_t *j;
    apr_int64_t n = 0;

    text = ao2_record_token_info(p, &rec, 1700000600);
    j = text ? ao2_json_parse_object(p, text, strlen(text), &why) : NULL;
    ok(j != NULL, "token info is a JSON object");
    is_str(ao2_json_str(j, "access_token"), AT, "access_token");
    is_str(ao2_json_str(j, "refresh_token"), RT, "refresh_token");
    ok(ao2_json_int(j, "expires_in", &n) && n == 3000,
       "expires_in counts from now");
    ok(ao2_json_int(j, "expires_at", &n) && n == 1700003600, "expires_at");
    is_str(ao2_json_str(j, "scope"), rec.scope, "scope");
    is_str(ao2_json_str(j, "token_type"), "Bearer", "token_type");
    is_str(ao2_json_str(j, "id_token"), IT, "id_token");
    is_str(ao2_json_str(j, "db"), "erp_prod", "db");
    is_str(ao2_json_str(j, "login"), "jdoe", "login");
    ok(!ao2_json_has(j, "api") && !ao2_json_has(j, "client_id") &&
           !ao2_json_has(j, "provider"),
       "nothing internal");

    text = ao2_record_token_info(p, &rec, 1700009999);
    j = text ? ao2_json_parse_object(p, text, strlen(text), &why) : NULL;
    ok(ao2_json_int(j, "expires_in", &n) && n == 0, "expired: expires_in 0");

    rec.refresh_token = NULL;
    rec.id_token = NULL;
    rec.token_type = NULL;
    rec.scope = NULL;
    rec.expires_at = 0;
    text = ao2_record_token_info(p, &rec, 1700000600);
    j = text ? ao2_json_parse_object(p, text, strlen(text), &why) : NULL;
    ok(j != NULL, "minimal token info is a JSON object");
    ok(!ao2_json_has(j, "refresh_token"), "no refresh_token when NULL");
    ok(!ao2_json_has(j, "id_token"), "no id_token when NULL");
    ok(!ao2_json_has(j, "scope"), "no scope when NULL");
    ok(!ao2_json_has(j, "expires_in") && !ao2_json_has(j, "expires_at"),
       "no expiry when the provider gave none");
    is_str(ao2_json_str(j, "token_type"), "Bearer", "token_type by default");
}

const ao2_test_case_t ao2_suite_record[] = {
    {"record round trip", record_round_trip},
    {"secrets sealed", record_secrets_sealed},
    {"record refusals", record_refusals},
    {"record incomplete", record_incomplete},
    {"index round trip", index_round_trip},
    {"index refusals", index_refusals},
    {"state round trip", state_round_trip},
    {"keys", keys_cases},
    {"token info", token_info_cases},
    {NULL, NULL},
};
