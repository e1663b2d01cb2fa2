/* ao2_record: what the store holds. Round trips, then every way a stored
 * value can be wrong: other key, other record, tampered, truncated, foreign
 * version, forged by someone who can write to a shared store. Nothing of a
 * value (secrets, login, scope) appears in the stored bytes. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_defaults.h"
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
    r.provider_id = "https://keycloak.example/realms/odoo";
    r.access_token = AT;
    r.refresh_token = RT;
    r.id_token = IT;
    r.token_type = "Bearer";
    r.scope = "openid email offline_access";
    r.login = "jdoe";
    r.db = "erp_prod";
    r.issued_at = 1700000000;
    r.expires_at = 1700003600;
    r.login_claim = "email";
    r.email_verified = 1;
    r.refreshed_ms = APR_INT64_C(1700000000123);
    return r;
}

static void same_record(const ao2_record_t *got, const ao2_record_t *want,
                        const char *name)
{
    is_str(got->api, want->api, "%s: api", name);
    is_str(got->client_id, want->client_id, "%s: client_id", name);
    is_str(got->user_identity, want->user_identity, "%s: user_identity", name);
    is_str(got->provider, want->provider, "%s: provider", name);
    is_str(got->provider_id, want->provider_id, "%s: provider_id", name);
    is_str(got->access_token, want->access_token, "%s: access_token", name);
    is_str(got->refresh_token, want->refresh_token, "%s: refresh_token", name);
    is_str(got->id_token, want->id_token, "%s: id_token", name);
    is_str(got->token_type, want->token_type, "%s: token_type", name);
    is_str(got->scope, want->scope, "%s: scope", name);
    is_str(got->login, want->login, "%s: login", name);
    is_str(got->db, want->db, "%s: db", name);
    is_int(got->issued_at, want->issued_at, "%s: issued_at", name);
    is_int(got->expires_at, want->expires_at, "%s: expires_at", name);
    is_int(got->refreshed_ms, want->refreshed_ms, "%s: refreshed_ms", name);
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

/* What a writer with our key would store: JSON of its choosing, sealed.
 * Reaches the checks behind the seal. */
static const char *sealed_json(apr_pool_t *p, const ao2_keys_t *k,
                               const char *key, const char *json,
                               apr_size_t *len)
{
    const char *sealed = ao2_seal(p, k, key, json, strlen(json));
    const char *val = apr_pstrcat(p, "\x02", sealed ? sealed : "", NULL);

    *len = strlen(val);
    return val;
}

/* Every byte of val changed, one at a time, in several ways: the number of
 * changed values that still decode. */
typedef apr_status_t (*decode_fn)(apr_pool_t *p, const ao2_keys_t *k,
                                  const char *key, const char *val,
                                  apr_size_t len, void *out);

static apr_status_t record_decode_any(apr_pool_t *p, const ao2_keys_t *k,
                                      const char *key, const char *val,
                                      apr_size_t len, void *out)
{
    return ao2_record_decode(p, k, key, val, len, out);
}

static apr_status_t index_decode_any(apr_pool_t *p, const ao2_keys_t *k,
                                     const char *key, const char *val,
                                     apr_size_t len, void *out)
{
    return ao2_index_decode(p, k, key, val, len, out);
}

static apr_status_t state_decode_any(apr_pool_t *p, const ao2_keys_t *k,
                                     const char *key, const char *val,
                                     apr_size_t len, void *out)
{
    return ao2_state_decode(p, k, key, val, len, out);
}

static int tampered_accepted(apr_pool_t *p, decode_fn decode,
                             const ao2_keys_t *k, const char *key,
                             const char *val, apr_size_t len)
{
    static const unsigned char flips[] = {0x01, 0x02, 0x04, 0x20, 0x80, 0xff};
    union {
        ao2_record_t rec;
        ao2_index_t ix;
        ao2_state_t st;
    } out;
    char *copy = apr_palloc(p, len + 1);
    apr_size_t n, f;
    int accepted = 0;

    for (n = 0; n < len; n++) {
        for (f = 0; f < AO2_COUNT(flips); f++) {
            apr_status_t rv;
            memcpy(copy, val, len + 1);
            copy[n] = (char)((unsigned char)copy[n] ^ flips[f]);
            rv = decode(p, k, key, copy, len, &out);
            accepted += rv != APR_EINVAL && rv != APR_EGENERAL;
        }
    }
    return accepted;
}

/* Every truncation and one byte more: the number that still decode. */
static int cut_accepted(apr_pool_t *p, decode_fn decode, const ao2_keys_t *k,
                        const char *key, const char *val, apr_size_t len)
{
    union {
        ao2_record_t rec;
        ao2_index_t ix;
        ao2_state_t st;
    } out;
    const char *longer = apr_pstrcat(p, val, "A", NULL);
    apr_size_t n;
    int accepted = 0;

    for (n = 0; n < len; n++) {
        accepted += decode(p, k, key, val, n, &out) == APR_SUCCESS;
    }
    accepted += decode(p, k, key, longer, len + 1, &out) == APR_SUCCESS;
    accepted += decode(p, k, key, apr_pstrcat(p, val, "AAAA", NULL), len + 4,
                       &out) == APR_SUCCESS;
    return accepted;
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
    in[1].provider_id = NULL; /* records written before it was kept */
    in[1].expires_at = 0;
    in[1].refreshed_ms = 0; /* tokens from a callback */
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

static void record_nothing_in_clear(apr_pool_t *p)
{
    ao2_keys_t k;
    ao2_record_t rec = full_record();
    ao2_state_t st = {"/api", "c", "u", "nonce-1", CV, "https://rp/cb", 1};
    ao2_index_t ix = {"t:abc",        "jdoe",     "erp_prod",
                      "openid email", 1700003600, 0,
                      "acme",         "client-1", "https://acme.example",
                      "email",        1};
    const char *key = ao2_record_key(p, "/jsonapiext", "client-1", "user");
    const char *ikey = ao2_index_key(p, AT);
    apr_size_t len = 0, len2 = 0, i;
    char *val, *val2;

    test_keys(&k, 0x11);
    val = ao2_record_encode(p, &k, key, &rec, &len);
    val2 = ao2_record_encode(p, &k, key, &rec, &len2);
    ok(val && !contains(val, len, AT), "access token not in the clear");
    ok(val && !contains(val, len, RT), "refresh token not in the clear");
    ok(val && !contains(val, len, IT), "id token not in the clear");
    ok(val && !contains(val, len, "access-0123456789"),
       "not even a part of it");
    ok(val && !contains(val, len, "jdoe"), "login not in the clear");
    ok(val && !contains(val, len, "openid"), "scope not in the clear");
    ok(val && !contains(val, len, "erp_prod"), "db not in the clear");
    ok(val && !contains(val, len, "keycloak"), "provider not in the clear");
    ok(val && !contains(val, len, "\"lg\"") && !contains(val, len, "{"),
       "no JSON at all");
    ok(val && val2 && (len != len2 || memcmp(val, val2, len) != 0),
       "two encodings differ (fresh nonces)");
    for (i = 1; val && i < len; i++) {
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789-_",
                    val[i]) ||
            val[i] == '\0') {
            break;
        }
    }
    ok(val && i == len, "version byte, then base64url only");

    val = ao2_index_encode(p, &k, ikey, &ix, &len);
    ok(val && !contains(val, len, "jdoe"), "index: login not in the clear");
    ok(val && !contains(val, len, "openid"), "index: scope not in the clear");
    ok(val && !contains(val, len, "erp_prod"), "index: db not in the clear");
    ok(val && !contains(val, len, "t:abc"),
       "index: record key not in the clear");

    val = ao2_state_encode(p, &k, ao2_state_key(p, "st"), &st, &len);
    ok(val && !contains(val, len, CV), "code verifier not in the clear");
    ok(val && !contains(val, len, "nonce-1"), "state: nonce not in the clear");
    ok(val && !contains(val, len, "https://rp/cb"),
       "state: redirect URI not in the clear");
}

static void record_refusals(apr_pool_t *p)
{
    ao2_keys_t k, other;
    ao2_record_t rec = full_record(), out;
    const char *key = ao2_record_key(p, "/jsonapiext", "client-1", "user");
    const char *key2 = ao2_record_key(p, "/jsonapiext", "client-1", "user2");
    apr_size_t len = 0;
    char *val, *copy;

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
    is_str(out.login, NULL, "no login from another key");
    is_int(ao2_record_decode(p, &k, key2, val, len, &out), APR_EGENERAL,
           "copied under another store key: APR_EGENERAL");
    is_str(out.refresh_token, NULL, "no secret under another store key");
    is_int(ao2_record_decode(p, &k, NULL, val, len, &out), APR_EINVAL,
           "no store key: APR_EINVAL");

    is_int(tampered_accepted(p, record_decode_any, &k, key, val, len), 0,
           "no changed byte anywhere goes unnoticed");
    is_int(cut_accepted(p, record_decode_any, &k, key, val, len), 0,
           "no truncation or extension goes unnoticed");

    copy = apr_pmemdup(p, val, len + 1);
    copy[0] = AO2_RECORD_VERSION + 1;
    is_int(ao2_record_decode(p, &k, key, copy, len, &out), APR_EINVAL,
           "wrong version byte: APR_EINVAL");
    copy[0] = 0x01;
    is_int(ao2_record_decode(p, &k, key, copy, len, &out), APR_EINVAL,
           "version 1 (plain JSON) is no longer read: APR_EINVAL");
    copy[0] = 0;
    is_int(ao2_record_decode(p, &k, key, copy, len, &out), APR_EINVAL,
           "version 0: APR_EINVAL");
    copy[0] = '{';
    is_int(ao2_record_decode(p, &k, key, copy, len, &out), APR_EINVAL,
           "no version byte: APR_EINVAL");
    copy = apr_pmemdup(p, val, len + 1);
    copy[len / 2] = '\0';
    is_int(ao2_record_decode(p, &k, key, copy, len, &out), APR_EINVAL,
           "a NUL inside: APR_EINVAL");
    is_int(ao2_record_decode(p, &k, key, val, 1, &out), APR_EINVAL,
           "the version byte alone: APR_EINVAL");
    is_int(ao2_record_decode(p, &k, key, NULL, 0, &out), APR_EINVAL,
           "nothing: APR_EINVAL");
    /* A value as version 1 wrote it: plain JSON that anyone who can write
     * to the store could forge. */
    copy = apr_pstrdup(
        p, "\x01{\"api\":\"/jsonapiext\",\"cid\":\"client-1\","
           "\"cui\":\"user\",\"prov\":\"keycloak\",\"lg\":\"admin\","
           "\"iat\":1,\"exp\":2,\"at\":\"x\"}");
    is_int(ao2_record_decode(p, &k, key, copy, strlen(copy), &out), APR_EINVAL,
           "a forged plain record: APR_EINVAL");
    copy[0] = AO2_RECORD_VERSION;
    is_int(ao2_record_decode(p, &k, key, copy, strlen(copy), &out), APR_EINVAL,
           "the same with our version byte: APR_EINVAL");
    is_str(out.login, NULL, "and no login from it");
}

static void record_incomplete(apr_pool_t *p)
{
    /* Sealed under the right key, but not what a record needs. */
    static const char *const cases[] = {
        "{}",
        "[]",
        "\"text\"",
        "not json",
        "",
        "{\"api\":\"/a\",\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\","
        "\"iat\":1,\"exp\":2}",
        "{\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\",\"iat\":1,\"exp\":2,"
        "\"at\":\"x\"}",
        "{\"api\":\"/a\",\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\","
        "\"iat\":\"1\",\"exp\":2,\"at\":\"x\"}",
        "{\"api\":\"/a\",\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\","
        "\"iat\":1,\"exp\":2,\"at\":1}",
        "{\"api\":\"/a\",\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\","
        "\"iat\":1,\"exp\":2,\"at\":\"x\"",
        "{\"api\":\"/a\",\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\","
        "\"iat\":1,\"exp\":2,\"at\":\"x\",\"at\":\"y\"}",
    };
    static const char complete[] =
        "{\"api\":\"/a\",\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\","
        "\"iat\":1,\"exp\":2,\"at\":\"x\"}";
    ao2_keys_t k;
    ao2_record_t out;
    const char *val;
    apr_size_t i, len;

    test_keys(&k, 0x11);
    for (i = 0; i < AO2_COUNT(cases); i++) {
        val = sealed_json(p, &k, "t:x", cases[i], &len);
        is_int(ao2_record_decode(p, &k, "t:x", val, len, &out), APR_EINVAL,
               "incomplete row %d: APR_EINVAL", (int)i);
        ok(out.access_token == NULL && out.api == NULL,
           "incomplete row %d: nothing comes back", (int)i);
    }
    val = sealed_json(p, &k, "t:x", complete, &len);
    ok(ao2_record_decode(p, &k, "t:x", val, len, &out) == APR_SUCCESS &&
           out.access_token && strcmp(out.access_token, "x") == 0 &&
           out.refresh_token == NULL && out.login == NULL,
       "the smallest record");
}

static void index_round_trip(apr_pool_t *p)
{
    static const ao2_index_t cases[] = {
        {"t:abc", "jdoe", "erp", "read write", 1700003600, 0, "acme", "c1",
         "https://acme.example", "email", 1},
        {"t:abc", "jdoe", "erp", "read write", 1700003600, 1, NULL, NULL, NULL,
         NULL, 0},
        {"t:abc", NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, 0},
        {"t:abc", "", "", "", -5, 1, "", "", "", "", 0},
        /* Escapes and UTF-8 in the JSON: read by jansson, not the flat
         * reader. */
        {"t:abc", "\xc3\xa9", "erp", "read", 1, 0, "acme", "c1", NULL, "sub",
         0},
        {"t:abc", "a\"b", "e\\rp", "read", 1, 0, "acme", "c1", NULL, NULL, 0},
    };
    ao2_keys_t k;
    const char *ikey = ao2_index_key(p, AT);
    apr_size_t i;

    test_keys(&k, 0x11);
    for (i = 0; i < AO2_COUNT(cases); i++) {
        apr_size_t len = 0;
        char *val = ao2_index_encode(p, &k, ikey, &cases[i], &len);
        ao2_index_t out;

        ok(val && len > 1 && val[0] == AO2_RECORD_VERSION && strlen(val) == len,
           "index row %d encodes", (int)i);
        is_int(ao2_index_decode(p, &k, ikey, val, len, &out), APR_SUCCESS,
               "index row %d decodes", (int)i);
        is_str(out.record_key, cases[i].record_key, "index row %d: key",
               (int)i);
        is_str(out.login, cases[i].login, "index row %d: login", (int)i);
        is_str(out.db, cases[i].db, "index row %d: db", (int)i);
        is_str(out.scope, cases[i].scope, "index row %d: scope", (int)i);
        is_int(out.expires_at, cases[i].expires_at, "index row %d: exp",
               (int)i);
        is_int(out.revoked, cases[i].revoked, "index row %d: revoked", (int)i);
        is_str(out.provider, cases[i].provider, "index row %d: provider",
               (int)i);
        is_str(out.client_id, cases[i].client_id, "index row %d: client",
               (int)i);
        is_str(out.provider_id, cases[i].provider_id,
               "index row %d: provider identity", (int)i);
        is_str(out.login_claim, cases[i].login_claim,
               "index row %d: login claim", (int)i);
        is_int(out.email_verified, cases[i].email_verified,
               "index row %d: email verified", (int)i);
    }
}

/* text with its first member name's first character written as \u00XX:
 * the same object to jansson, and beyond the flat reader. */
static const char *escaped_first(apr_pool_t *p, const char *text)
{
    const char *q = strchr(text, '"');

    return apr_psprintf(p, "%.*s\\u%04x%s", (int)(q + 1 - text), text,
                        (unsigned)(unsigned char)q[1], q + 2);
}

/* Each text read by the flat reader and, escaped, by jansson: the same
 * answer and the same entry. */
static void index_flat_or_json(apr_pool_t *p)
{
    static const struct {
        const char *text;
        apr_status_t rv;
    } cases[] = {
        {"{\"k\":\"t:a\",\"exp\":5}", APR_SUCCESS},
        {"{\"k\":\"t:a\",\"exp\":5,\"lg\":\"jdoe\",\"db\":\"erp\",\"sc\":\"r\","
         "\"rv\":true,\"prov\":\"acme\",\"cid\":\"c1\",\"pvid\":\"https://x\"}",
         APR_SUCCESS},
        /* Optional members of the wrong kind read as absent. */
        {"{\"k\":\"t:a\",\"exp\":5,\"lg\":5,\"db\":null,\"sc\":true,\"rv\":1}",
         APR_SUCCESS},
        {"{\"k\":\"t:a\",\"exp\":5,\"rv\":false}", APR_SUCCESS},
        {"{\"k\":\"t:a\",\"exp\":5,\"rv\":null,\"cid\":\"\"}", APR_SUCCESS},
        {" {\n\"k\" : \"t:a\" ,\t\"exp\" : -9223372036854775808 } ",
         APR_SUCCESS},
        {"{\"k\":\"t:a\",\"exp\":5,\"new\":{\"a\":[1]}}", APR_SUCCESS},
        {"{\"k\":\"t:a\",\"exp\":5,\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,"
         "\"f\":6,\"g\":7,\"h\":8,\"i\":9}",
         APR_SUCCESS},
        {"{\"k\":5,\"exp\":5}", APR_EINVAL},
        {"{\"k\":null,\"exp\":5}", APR_EINVAL},
        {"{\"k\":\"t:a\",\"exp\":\"5\"}", APR_EINVAL},
        {"{\"k\":\"t:a\",\"exp\":true}", APR_EINVAL},
        {"{\"k\":\"t:a\",\"exp\":9223372036854775808}", APR_EINVAL},
        {"{\"k\":\"t:a\"}", APR_EINVAL},
        {"{\"exp\":5}", APR_EINVAL},
        {"{\"k\":\"t:a\",\"exp\":5}x", APR_EINVAL},
        {"{\"k\":\"t:a\",\"exp\":5,}", APR_EINVAL},
        /* Duplicates, of ours or of names we do not know. */
        {"{\"k\":\"t:a\",\"exp\":5,\"k\":\"t:b\"}", APR_EINVAL},
        {"{\"k\":\"t:a\",\"exp\":5,\"lg\":\"jdoe\",\"lg\":5}", APR_EINVAL},
        {"{\"k\":\"t:a\",\"exp\":5,\"rv\":true,\"rv\":true}", APR_EINVAL},
        {"{\"k\":\"t:a\",\"exp\":5,\"zz\":1,\"zz\":2}", APR_EINVAL},
        {"{\"k\":\"t:a\",\"exp\":5,\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,"
         "\"f\":6,\"g\":7,\"h\":8,\"h\":9}",
         APR_EINVAL},
    };
    ao2_keys_t k;
    const char *ikey = ao2_index_key(p, AT);
    apr_size_t i, len;

    test_keys(&k, 0x11);
    for (i = 0; i < AO2_COUNT(cases); i++) {
        const char *text[2] = {cases[i].text, escaped_first(p, cases[i].text)};
        ao2_index_t out[2];
        int n;

        for (n = 0; n < 2; n++) {
            const char *val = sealed_json(p, &k, ikey, text[n], &len);
            is_int(ao2_index_decode(p, &k, ikey, val, len, &out[n]),
                   cases[i].rv, "row %d%s", (int)i, n ? ", escaped" : "");
        }
        is_str(out[0].record_key, out[1].record_key, "row %d: key", (int)i);
        is_str(out[0].login, out[1].login, "row %d: login", (int)i);
        is_str(out[0].db, out[1].db, "row %d: db", (int)i);
        is_str(out[0].scope, out[1].scope, "row %d: scope", (int)i);
        is_str(out[0].provider, out[1].provider, "row %d: provider", (int)i);
        is_str(out[0].client_id, out[1].client_id, "row %d: client", (int)i);
        is_str(out[0].provider_id, out[1].provider_id, "row %d: identity",
               (int)i);
        is_int(out[0].expires_at, out[1].expires_at, "row %d: exp", (int)i);
        is_int(out[0].revoked, out[1].revoked, "row %d: revoked", (int)i);
    }
}

static void index_refusals(apr_pool_t *p)
{
    /* Sealed under the right key, but not an index entry. */
    static const char *const inner[] = {
        "",
        "{}",
        "[]",
        "{\"k\":\"t:a\",\"exp\":1",
        "{\"k\":\"t:a\",\"exp\":1}}",
        "{\"k\":\"t:a\"}",
        "{\"k\":1,\"exp\":1}",
        "{\"exp\":1}",
        "{\"k\":\"t:a\",\"exp\":1.5}",
        "{\"k\":\"t:a\",\"k\":\"t:b\",\"exp\":1}",
    };
    /* What someone who can write to the store but has no key could put
     * there: plain entries, the version 1 format among them. */
    static const struct {
        const char *bytes;
        apr_status_t want;
    } forged[] = {
        {"", APR_EINVAL},
        {"\x01", APR_EINVAL},
        {"\x02", APR_EINVAL},
        {"\x01{}", APR_EINVAL},
        {"\x01{\"k\":\"t:a\",\"lg\":\"admin\",\"exp\":0}", APR_EINVAL},
        {"\x02{\"k\":\"t:a\",\"lg\":\"admin\",\"exp\":0}", APR_EINVAL},
        {"{\"k\":\"t:a\",\"exp\":1}", APR_EINVAL},
        /* Base64url of 27 bytes: shorter than a nonce and a tag. */
        {"\002AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", APR_EINVAL},
        /* Of 30 bytes: sealed-looking, but the tag does not verify. */
        {"\002AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", APR_EGENERAL},
        {"\002 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", APR_EINVAL},
    };
    static const char smallest[] = "{\"k\":\"t:a\",\"exp\":1}";
    ao2_keys_t k, other;
    ao2_index_t out;
    ao2_index_t ix = {"t:abc", "jdoe",     "erp",
                      "read",  1700003600, 0,
                      "op",    "c1",       "https://op.example",
                      "email", 1};
    ao2_index_t tomb = {"-",  NULL, NULL, NULL, 1700003600, 1,
                        NULL, NULL, NULL, NULL, 0};
    ao2_record_t rec = full_record();
    const char *ikey = ao2_index_key(p, AT);
    const char *ikey2 = ao2_index_key(p, "another-token");
    const char *rkey = ao2_record_key(p, "/jsonapiext", "client-1", "user");
    const char *val;
    apr_size_t i, len;

    test_keys(&k, 0x11);
    test_keys(&other, 0x22);
    for (i = 0; i < AO2_COUNT(inner); i++) {
        val = sealed_json(p, &k, ikey, inner[i], &len);
        is_int(ao2_index_decode(p, &k, ikey, val, len, &out), APR_EINVAL,
               "index refusal row %d: APR_EINVAL", (int)i);
        ok(out.record_key == NULL && out.login == NULL,
           "index refusal row %d: nothing comes back", (int)i);
    }
    for (i = 0; i < AO2_COUNT(forged); i++) {
        is_int(ao2_index_decode(p, &k, ikey, forged[i].bytes,
                                strlen(forged[i].bytes), &out),
               forged[i].want, "forged index row %d refused", (int)i);
        is_str(out.login, NULL, "forged index row %d: no login", (int)i);
    }
    val = sealed_json(p, &k, ikey, smallest, &len);
    ok(ao2_index_decode(p, &k, ikey, val, len, &out) == APR_SUCCESS &&
           out.revoked == 0 && out.login == NULL,
       "the smallest index entry, not revoked");

    val = ao2_index_encode(p, &k, ikey, &ix, &len);
    ok(val != NULL, "an index entry encodes");
    if (val == NULL) {
        return;
    }
    is_int(ao2_index_decode(p, &other, ikey, val, len, &out), APR_EGENERAL,
           "another master key: APR_EGENERAL");
    is_int(ao2_index_decode(p, &k, ikey2, val, len, &out), APR_EGENERAL,
           "moved to another token's key: APR_EGENERAL");
    is_str(out.login, NULL, "and no login from it");
    is_int(tampered_accepted(p, index_decode_any, &k, ikey, val, len), 0,
           "no changed byte anywhere goes unnoticed");
    is_int(cut_accepted(p, index_decode_any, &k, ikey, val, len), 0,
           "no truncation or extension goes unnoticed");

    /* A tombstone cannot be turned back into a live entry. */
    val = ao2_index_encode(p, &k, ikey, &tomb, &len);
    is_int(tampered_accepted(p, index_decode_any, &k, ikey, val, len), 0,
           "tombstone: no changed byte goes unnoticed");
    ok(ao2_index_decode(p, &k, ikey, val, len, &out) == APR_SUCCESS &&
           out.revoked == 1,
       "tombstone decodes as revoked");

    /* Values of the other kinds do not open as index entries. */
    val = ao2_record_encode(p, &k, rkey, &rec, &len);
    is_int(ao2_index_decode(p, &k, ikey, val, len, &out), APR_EGENERAL,
           "a record under an index key: APR_EGENERAL");
    is_int(ao2_index_decode(p, &k, rkey, val, len, &out), APR_EINVAL,
           "a record read as an index entry under its own key: APR_EINVAL");
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
    is_int(tampered_accepted(p, state_decode_any, &k, key, val, len), 0,
           "no changed byte anywhere goes unnoticed");
    is_int(cut_accepted(p, state_decode_any, &k, key, val, len), 0,
           "no truncation or extension goes unnoticed");
    ok(out.nonce == NULL && out.code_verifier == NULL,
       "nothing comes back from a refused state");
    is_int(ao2_state_decode(p, &k, ao2_record_key(p, "/a", "c", "u"), val, len,
                            &out),
           APR_EGENERAL, "under a record key: APR_EGENERAL");

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

/* A record as written before refresh times were kept reads as one whose
 * tokens came from a callback: the next /token call refreshes. */
static void record_without_refresh_time(apr_pool_t *p)
{
    static const char before[] =
        "{\"api\":\"/a\",\"cid\":\"c\",\"cui\":\"u\",\"prov\":\"p\","
        "\"iat\":1700000000,\"exp\":1700003600,\"at\":\"x\",\"rt\":\"r\"}";
    ao2_keys_t k;
    ao2_record_t out;
    const char *val;
    apr_size_t len;

    test_keys(&k, 0x11);
    val = sealed_json(p, &k, "t:x", before, &len);
    is_int(ao2_record_decode(p, &k, "t:x", val, len, &out), APR_SUCCESS,
           "a record without rfms decodes");
    is_int(out.refreshed_ms, 0, "its refresh time is 0");
    is_int(ao2_record_refresh_due(&out, NULL, apr_time_from_sec(1700000001), 5),
           1, "a /token call for it refreshes");
}

#define T0 APR_INT64_C(1700000000000) /* ms */

static void refresh_due_cases(apr_pool_t *p)
{
    static const struct {
        const char *name;
        apr_int64_t refreshed_ms; /* 0: the tokens came from a callback */
        apr_int64_t expires_at;   /* s; 0: undated */
        const char *seen;         /* NULL: before the lock */
        apr_int64_t now_ms;
        int window;
        int want; /* 1 refresh, 0 the stored tokens */
    } rows[] = {
        {"tokens from a callback", 0, T0 / 1000 + 3600, NULL, T0 + 1000, 5, 1},
        {"refreshed 1 ms ago", T0, T0 / 1000 + 3600, NULL, T0 + 1, 5, 0},
        {"refreshed at this very ms", T0, T0 / 1000 + 3600, NULL, T0, 5, 0},
        {"refreshed 4.999 s ago, window 5", T0, T0 / 1000 + 3600, NULL,
         T0 + 4999, 5, 0},
        {"refreshed 5 s ago, window 5", T0, T0 / 1000 + 3600, NULL, T0 + 5000,
         5, 1},
        {"refreshed 6 s ago, window 5", T0, T0 / 1000 + 3600, NULL, T0 + 6000,
         5, 1},
        {"refreshed 59 s ago, window 60", T0, T0 / 1000 + 3600, NULL,
         T0 + 59000, 60, 0},
        {"window 0: refreshed 1 ms ago", T0, T0 / 1000 + 3600, NULL, T0 + 1, 0,
         1},
        {"refresh time 4 s ahead (another server's clock)", T0,
         T0 / 1000 + 3600, NULL, T0 - 4000, 5, 0},
        {"refresh time 5 s ahead", T0, T0 / 1000 + 3600, NULL, T0 - 5000, 5, 1},
        {"refresh time a day ahead", T0, T0 / 1000 + 3600, NULL, T0 - 86400000,
         5, 1},
        {"a negative refresh time", -5, T0 / 1000 + 3600, NULL, T0, 5, 1},
        {"inside the window, the token expired", T0, T0 / 1000 + 1, NULL,
         T0 + 1000, 5, 1},
        {"inside the window, the token expires in 1 s", T0, T0 / 1000 + 2, NULL,
         T0 + 1000, 5, 0},
        {"inside the window, an undated token", T0, 0, NULL, T0 + 1000, 5, 0},
        {"after the lock: the holder refreshed (window 0)", T0,
         T0 / 1000 + 3600, "AT-before", T0 + 1, 0, 0},
        {"after the lock: a callback replaced the tokens", 0, T0 / 1000 + 3600,
         "AT-before", T0 + 1, 5, 0},
        {"after the lock: the tokens as read, refreshed long ago", T0,
         T0 / 1000 + 3600, AT, T0 + 60000, 5, 1},
        {"after the lock: the tokens as read, refreshed just before the read",
         T0, T0 / 1000 + 3600, AT, T0 + 100, 5, 0},
        {"after the lock: the tokens as read, from a callback", 0,
         T0 / 1000 + 3600, AT, T0 + 100, 5, 1},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(rows); i++) {
        ao2_record_t rec = full_record();
        rec.access_token = AT;
        rec.refreshed_ms = rows[i].refreshed_ms;
        rec.expires_at = rows[i].expires_at;
        is_int(ao2_record_refresh_due(&rec, rows[i].seen,
                                      (apr_time_t)rows[i].now_ms * 1000,
                                      rows[i].window),
               rows[i].want, "%s: %s", rows[i].name,
               rows[i].want ? "refresh" : "the stored tokens");
    }
}

/* Issue 19 M3: a tombstone kept only until the token's exp let a JWT access
 * token back in for the provider's leeway after it (accepted while exp >
 * now - leeway, up to AO2_MAX_LEEWAY). */
static void tombstone_until_cases(apr_pool_t *p)
{
    static const struct {
        apr_int64_t exp, now, fallback;
    } rows[] = {
        {1700003600, 1700000000, 86400},
        {1700000001, 1700000000, 86400},
        {1699999000, 1700000000, 86400}, /* expired already (a late bury) */
        {0, 1700000000, 86400},          /* no exp known: the fallback */
    };
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        apr_int64_t exp =
            rows[i].exp ? rows[i].exp : rows[i].now + rows[i].fallback;
        apr_int64_t until =
            ao2_tombstone_until(rows[i].exp, rows[i].now, rows[i].fallback);
        apr_int64_t leeway;

        /* The last second a JWT with this exp is accepted, at any leeway a
         * provider may be given. */
        for (leeway = 0; leeway <= AO2_MAX_LEEWAY; leeway += 60)
            ok(until > exp + leeway - 1, "row %d: kept past exp + leeway %d",
               (int)i, (int)leeway);
    }
}

const ao2_test_case_t ao2_suite_record[] = {
    {"record round trip", record_round_trip},
    {"nothing in the clear", record_nothing_in_clear},
    {"record refusals", record_refusals},
    {"record incomplete", record_incomplete},
    {"index round trip", index_round_trip},
    {"index refusals", index_refusals},
    {"index read flat or by jansson", index_flat_or_json},
    {"state round trip", state_round_trip},
    {"keys", keys_cases},
    {"token info", token_info_cases},
    {"record without a refresh time", record_without_refresh_time},
    {"refresh due", refresh_due_cases},
    {"a tombstone outlives its token", tombstone_until_cases},
    {NULL, NULL},
};
