/* ao2_crypto: known answers from the RFCs, then the failure cases that
 * matter for security (tampering, wrong key, wrong record). */
#include <string.h>

#include <apr_strings.h>

#include "ao2_crypto.h"
#include "ao2_lock.h"
#include "tap.h"

static const char *hex(apr_pool_t *p, const unsigned char *b, apr_size_t len)
{
    char *out = apr_palloc(p, len * 2 + 1);
    apr_size_t i;

    for (i = 0; i < len; i++) {
        apr_snprintf(out + 2 * i, 3, "%02x", b[i]);
    }
    out[2 * len] = '\0';
    return out;
}

static void sha256_known_answers(apr_pool_t *p)
{
    /* FIPS 180-2 appendix B.1 and the empty message. */
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"abc",
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"",
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    unsigned char md[AO2_SHA256_LEN];
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        ao2_sha256(cases[i].in, strlen(cases[i].in), md);
        is_str(hex(p, md, sizeof(md)), cases[i].want, "sha256(\"%s\")",
               cases[i].in);
    }
}

static void pkce_rfc7636_appendix_b(apr_pool_t *p)
{
    const char *verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    /* The challenge as RFC 7636 prints it; `openssl dgst -sha256 -binary |
     * basenc --base64url` gives the same, so a copy that differs is wrong. */
    is_str(ao2_sha256_b64url(p, verifier, strlen(verifier)),
           "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
           "S256 challenge of the RFC 7636 verifier");
}

static void b64_known_answers(apr_pool_t *p)
{
    /* RFC 4648 §10, plus bytes that hit characters 62 and 63. */
    static const struct {
        const char *in;
        apr_size_t len;
        const char *url, *std;
    } cases[] = {
        {"", 0, "", ""},
        {"f", 1, "Zg", "Zg=="},
        {"fo", 2, "Zm8", "Zm8="},
        {"foo", 3, "Zm9v", "Zm9v"},
        {"foob", 4, "Zm9vYg", "Zm9vYg=="},
        {"fooba", 5, "Zm9vYmE", "Zm9vYmE="},
        {"foobar", 6, "Zm9vYmFy", "Zm9vYmFy"},
        {"\xfb\xff", 2, "-_8", "+/8="},
        {"\xff\xff\xff", 3, "____", "////"},
        {"\0\0\0\0", 4, "AAAAAA", "AAAAAA=="},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        const unsigned char *in = (const unsigned char *)cases[i].in;
        is_str(ao2_b64url_encode(p, in, cases[i].len), cases[i].url,
               "b64url row %d", (int)i);
        is_str(ao2_b64_encode(p, in, cases[i].len), cases[i].std, "b64 row %d",
               (int)i);
    }
}

static void b64url_round_trips(apr_pool_t *p)
{
    unsigned char all[256], *out;
    apr_size_t len, outlen;
    int failures = 0;

    for (len = 0; len < sizeof(all); len++) {
        all[len] = (unsigned char)len;
    }
    /* Every length 0..256 over every byte value, so each tail shape and each
     * alphabet character is decoded at least once. */
    for (len = 0; len <= sizeof(all); len++) {
        const char *text = ao2_b64url_encode(p, all, len);
        if (ao2_b64url_decode(p, text, strlen(text), &out, &outlen) !=
                APR_SUCCESS ||
            outlen != len || memcmp(out, all, len) != 0 || out[len] != '\0') {
            failures++;
        }
    }
    is_int(failures, 0,
           "encode then decode gives the bytes back, lengths "
           "0..256");
}

/* Every one of the 64 characters, from the bytes that hold 0..63 in turn. */
static void b64url_whole_alphabet(apr_pool_t *p)
{
    static const unsigned char sextets[] = {
        0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b, 0x30, 0xd3, 0x8f,
        0x41, 0x14, 0x93, 0x51, 0x55, 0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f,
        0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7, 0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf,
        0xc3, 0x1c, 0xb3, 0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf};

    is_str(ao2_b64url_encode(p, sextets, sizeof(sextets)),
           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
           "base64url: each 6-bit value to its character");
}

static void b64url_decode_accepts(apr_pool_t *p)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", ""},           {"Zg", "f"},           {"Zg==", "f"},
        {"Zm8", "fo"},      {"Zm8=", "fo"},        {"Zm9v", "foo"},
        {"Zm9vYg", "foob"}, {"Zm9vYmE=", "fooba"},
    };
    unsigned char *out;
    apr_size_t outlen, i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        apr_status_t rv = ao2_b64url_decode(p, cases[i].in, strlen(cases[i].in),
                                            &out, &outlen);
        is_int(rv, APR_SUCCESS, "decode \"%s\"", cases[i].in);
        is_str(rv == APR_SUCCESS ? (const char *)out : NULL, cases[i].want,
               "decode \"%s\" value", cases[i].in);
    }
    /* Only inlen bytes count: the rest of the buffer is not ours. */
    ok(ao2_b64url_decode(p, "Zm9vYmFy", 4, &out, &outlen) == APR_SUCCESS &&
           outlen == 3 && strcmp((const char *)out, "foo") == 0,
       "decode stops at inlen");
}

static void b64url_decode_rejects(apr_pool_t *p)
{
    static const struct {
        const char *in;
        apr_size_t len;
        const char *why;
    } cases[] = {
        {"Z", 1, "one character left over"},
        {"Zm9vY", 5, "one character left over after groups"},
        {"Zg=", 3, "incomplete padding"},
        {"Zg===", 5, "too much padding"},
        {"Zm9v=", 5, "padding after a full group"},
        {"Zm9v====", 8, "a whole group of padding"},
        {"====", 4, "padding only"},
        {"=", 1, "one '='"},
        {"Zg==Zg==", 8, "padding in the middle"},
        {"Zh", 2, "non-zero bits after the last byte"},
        {"Zm9=", 4, "non-zero bits after the last byte, padded"},
        {"Zm9+", 4, "standard alphabet '+'"},
        {"Zm9/", 4, "standard alphabet '/'"},
        {"Zm 9v", 5, "space"},
        {"Zm9v\n", 5, "newline"},
        {"Zm\0v", 4, "NUL inside inlen"},
        {"Zm9\xc3", 4, "byte above 0x7f"},
        {"Zm9.", 4, "'.'"},
    };
    unsigned char *out = (unsigned char *)"x";
    apr_size_t outlen = 7, i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        is_int(ao2_b64url_decode(p, cases[i].in, cases[i].len, &out, &outlen),
               APR_EINVAL, "rejects: %s", cases[i].why);
        ok(out == NULL && outlen == 0, "no output: %s", cases[i].why);
    }
}

static void ct_equal_cases(apr_pool_t *p)
{
    static const struct {
        const char *a, *b;
        int want;
    } cases[] = {
        {"secret", "secret", 1},
        {"secret", "secreT", 0},
        {"secret", "Secret", 0},
        {"secret", "secre", 0},
        {"secre", "secret", 0},
        {"", "", 1},
        {"", "x", 0},
    };
    apr_size_t i;

    for (i = 0; i < AO2_COUNT(cases); i++) {
        is_int(ao2_ct_equal(cases[i].a, strlen(cases[i].a), cases[i].b,
                            strlen(cases[i].b)),
               cases[i].want, "ct_equal(\"%s\", \"%s\")", cases[i].a,
               cases[i].b);
    }
    ok(ao2_ct_equal("a\0b", 3, "a\0c", 3) == 0, "bytes after a NUL count");
    ok(ao2_ct_equal("ab", 2, "ab\0", 3) == 0, "a trailing NUL is a byte");
    {
        char x[200], y[200];
        memset(x, 's', sizeof(x));
        memcpy(y, x, sizeof(y));
        ok(ao2_ct_equal(x, sizeof(x), y, sizeof(y)),
           "200 bytes, several blocks");
        y[199] = 't';
        ok(!ao2_ct_equal(x, sizeof(x), y, sizeof(y)),
           "differ in the last byte");
        ok(!ao2_ct_equal(x, 64, y, 65), "one block against two");
    }
    {
        /* ao2_ct_same: any one bit in any position, whole words and the
         * tail, is a difference. */
        unsigned char x[1031], y[1031];
        apr_size_t n, k;
        int misses = 0, bit;

        for (k = 0; k < sizeof(x); k++)
            x[k] = (unsigned char)(k * 7 + 1);
        memcpy(y, x, sizeof(y));
        ok(ao2_ct_same(x, y, 0) && ao2_ct_same(x, y, sizeof(x)),
           "same: empty, and 1031 bytes");
        for (n = 1; n <= 17; n++) {
            for (k = 0; k < n; k++) {
                for (bit = 0; bit < 8; bit++) {
                    y[k] ^= (unsigned char)(1u << bit);
                    misses += ao2_ct_same(x, y, n);
                    y[k] ^= (unsigned char)(1u << bit);
                }
            }
        }
        y[1030] ^= 0x80;
        misses += ao2_ct_same(x, y, sizeof(x));
        ok(!ao2_ct_same(x, y, sizeof(x)) && ao2_ct_same(x, y, 1030),
           "the last byte of 1031 counts, and only it differs");
        is_int(misses, 0, "every flipped bit of lengths 1 to 17 differs");
    }
}

static void random_values(apr_pool_t *p)
{
    const char *a = ao2_random_b64url(p, 32), *b = ao2_random_b64url(p, 32);
    unsigned char *out;
    apr_size_t outlen;

    ok(a && b, "random_b64url answers");
    is_int(a ? strlen(a) : 0, 43, "32 bytes give 43 characters");
    ok(a && b && strcmp(a, b) != 0, "two values differ");
    ok(a && ao2_b64url_decode(p, a, strlen(a), &out, &outlen) == APR_SUCCESS &&
           outlen == 32,
       "value is base64url of 32 bytes");
    is_str(ao2_random_b64url(p, 0), "", "zero bytes give an empty string");
}

static void test_keys(ao2_keys_t *k, unsigned char seed)
{
    unsigned char master[AO2_MASTER_KEY_MIN];

    memset(master, seed, sizeof(master));
    ao2_keys_derive(k, master, sizeof(master));
}

/* HKDF-SHA256 of the bytes 0..31, no salt, computed apart (Python hmac). */
static const struct {
    const char *info, *hex;
} mac_kat[AO2_MAC_KINDS] = {
    {"mod_api_oauth2 verdict mac v2",
     "ac66fc7332c11ea1e0231554bfa72c3304c82f2c3c88495241e0c2721932b998"},
    {"mod_api_oauth2 lock mac v2",
     "9129eb221d41f8571c2112258383fbc06e0b8ba73056f55513e8315e616f6759"},
    {"mod_api_oauth2 revocation log mac v2",
     "9b0707d226baf7619c325c5fae9edf8a6e20d0f3f2c2cb2c92a67dfc5fcbac64"},
    {"mod_api_oauth2 revocation journal mac v2",
     "624279f04cc5020fa484347ccd13b7484218bffaaeaac2383c5a128a55074e80"},
};

static void keys_derive_cases(apr_pool_t *p)
{
    unsigned char master[32], other[32];
    ao2_keys_t k1, k2;
    apr_size_t i;

    for (i = 0; i < sizeof(master); i++) {
        master[i] = (unsigned char)i;
        other[i] = (unsigned char)(i + 1);
    }
    is_int(ao2_keys_derive(&k1, master, 31), APR_EINVAL,
           "a master key under 32 bytes is refused");
    is_int(ao2_keys_derive(&k1, master, sizeof(master)), APR_SUCCESS,
           "derives from 32 bytes");
    /* HKDF-SHA256, no salt, info "mod_api_oauth2 seal v1", computed apart
     * (Python hmac). Sealed data depends on this staying the same. */
    is_str(hex(p, k1.seal, sizeof(k1.seal)),
           "07f1046ff1779b2bf056043f3f191e18ecd6f42167ec7dc79bd38643dcca13e2",
           "seal key known answer");
    /* The same with info "mod_api_oauth2 verdict mac v1": the MAC key of
     * every kind before, still read for log entries and journal records. */
    is_str(hex(p, k1.mac_v1, sizeof(k1.mac_v1)),
           "cd7fb09799afe09f6bfac6f246b3f666c0a9d22b1dd64a88382b2d6d8bdd12f1",
           "v1 mac key known answer");
    /* One per kind: values MACed by one server verify on the others only
     * while these hold. */
    for (i = 0; i < AO2_MAC_KINDS; i++)
        is_str(hex(p, k1.mac[i], sizeof(k1.mac[i])), mac_kat[i].hex,
               "mac key known answer: %s", mac_kat[i].info);
    ok(memcmp(k1.seal, k1.mac[AO2_MAC_VERDICT], sizeof(k1.seal)) != 0,
       "the seal and mac keys differ");
    ao2_keys_derive(&k2, other, sizeof(other));
    ok(memcmp(k1.seal, k2.seal, sizeof(k1.seal)) != 0,
       "another master gives another key");
    ok(memcmp(k1.mac, k2.mac, sizeof(k1.mac)) != 0,
       "another master gives other mac keys");
}

/* Each kind's MAC is apart from every other's over the same bytes: a
 * value made for one (a lock name anyone reading memcached sees, say)
 * never passes for another. */
static void mac_kinds_apart(apr_pool_t *p)
{
    static const char a[] = "ao2l", b[] = "some token";
    unsigned char tag[AO2_MAC_KINDS][AO2_MAC_TAG_LEN], v1[AO2_MAC_TAG_LEN];
    unsigned char full[AO2_SHA256_LEN];
    ao2_keys_t k;
    ao2_lock_t lk;
    int i, j, same = 0;

    test_keys(&k, 1);
    for (i = 0; i < AO2_MAC_KINDS; i++)
        ao2_mac(&k, (ao2_mac_kind_e)i, a, 4, b, strlen(b), tag[i]);
    for (i = 0; i < AO2_MAC_KINDS; i++)
        for (j = i + 1; j < AO2_MAC_KINDS; j++)
            same += memcmp(tag[i], tag[j], AO2_MAC_TAG_LEN) == 0;
    is_int(same, 0, "no two kinds give the same MAC over the same bytes");
    for (i = 0; i < AO2_MAC_KINDS; i++)
        for (j = 0; j < AO2_MAC_KINDS; j++)
            same += (i != j) && ao2_mac_verify(&k, (ao2_mac_kind_e)j, a, 4, b,
                                               strlen(b), tag[i]);
    is_int(same, 0, "no kind's MAC verifies as another kind's");
    /* The lock name is the whole HMAC in base64url: not the start of a
     * verdict's tag over the same bytes. */
    ao2_lock_key(&lk, &k, a, b, strlen(b));
    ao2_hmac_sha256(k.mac[AO2_MAC_LOCK], sizeof(k.mac[AO2_MAC_LOCK]), a, 4, b,
                    strlen(b), full);
    ok(memcmp(full, tag[AO2_MAC_LOCK], AO2_MAC_TAG_LEN) == 0,
       "the lock name is made under the lock key");
    ok(memcmp(full, tag[AO2_MAC_VERDICT], AO2_MAC_TAG_LEN) != 0,
       "a lock name is not a verdict tag over the same bytes");
    is_int(ao2_mac(&k, AO2_MAC_KINDS, a, 4, b, strlen(b), v1), APR_EINVAL,
           "a kind out of range: APR_EINVAL");
    /* Made under the key of before: still read where forgetting it would
     * forget a revoke, nowhere else. */
    ao2_hmac_sha256(k.mac_v1, sizeof(k.mac_v1), a, 4, b, strlen(b), full);
    memcpy(v1, full, sizeof(v1));
    ok(ao2_mac_verify(&k, AO2_MAC_REVLOG, a, 4, b, strlen(b), v1) &&
           ao2_mac_verify(&k, AO2_MAC_JOURNAL, a, 4, b, strlen(b), v1),
       "a v1 log entry or journal record still verifies");
    ok(!ao2_mac_verify(&k, AO2_MAC_VERDICT, a, 4, b, strlen(b), v1) &&
           !ao2_mac_verify(&k, AO2_MAC_LOCK, a, 4, b, strlen(b), v1),
       "a v1 verdict does not (it is made again)");
    (void)p;
}

static void hmac_known_answers(apr_pool_t *p)
{
    /* RFC 4231 §4.3 (test case 2), §4.2 and §4.7 (a key longer than a
     * block, hashed first). */
    static const char tc2_data[] = "what do ya want for nothing?";
    static const char tc6_data[] =
        "Test Using Larger Than Block-Size Key - Hash Key First";
    unsigned char key[131], md[AO2_SHA256_LEN];
    apr_size_t split;
    int failures = 0;

    is_int(ao2_hmac_sha256("Jefe", 4, tc2_data, strlen(tc2_data), NULL, 0, md),
           APR_SUCCESS, "RFC 4231 test case 2 computes");
    is_str(hex(p, md, sizeof(md)),
           "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
           "RFC 4231 test case 2");
    /* The two parts are one message, wherever it is split. */
    for (split = 0; split <= strlen(tc2_data); split++) {
        unsigned char again[AO2_SHA256_LEN];
        if (ao2_hmac_sha256("Jefe", 4, tc2_data, split, tc2_data + split,
                            strlen(tc2_data) - split, again) != APR_SUCCESS ||
            memcmp(again, md, sizeof(md)) != 0) {
            failures++;
        }
    }
    is_int(failures, 0, "test case 2 split in two at every place");

    memset(key, 0x0b, 20);
    ao2_hmac_sha256(key, 20, NULL, 0, "Hi There", 8, md);
    is_str(hex(p, md, sizeof(md)),
           "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
           "RFC 4231 test case 1");
    memset(key, 0xaa, sizeof(key));
    ao2_hmac_sha256(key, sizeof(key), tc6_data, strlen(tc6_data), NULL, 0, md);
    is_str(hex(p, md, sizeof(md)),
           "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
           "RFC 4231 test case 6 (131-byte key)");
    is_int(ao2_hmac_sha256(NULL, 4, "x", 1, NULL, 0, md), APR_EINVAL,
           "a NULL key with a length: APR_EINVAL");
    is_int(ao2_hmac_sha256("k", 1, NULL, 1, NULL, 0, md), APR_EINVAL,
           "NULL data with a length: APR_EINVAL");
}

#define V AO2_MAC_VERDICT
static void mac_verify_cases(apr_pool_t *p)
{
    static const char key[] =
        "ao2v:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    static const char val[] = "verdict";
    ao2_keys_t k, other;
    unsigned char tag[AO2_MAC_TAG_LEN], bad[AO2_MAC_TAG_LEN];
    unsigned char full[AO2_SHA256_LEN];
    apr_size_t i;
    int failures = 0;

    test_keys(&k, 1);
    test_keys(&other, 2);
    is_int(ao2_mac(&k, V, key, strlen(key), val, strlen(val), tag), APR_SUCCESS,
           "mac computes");
    /* Python: hmac.new(HKDF(b"\x01" * 32, info), key + val, sha256),
     * first 16 bytes, info "mod_api_oauth2 verdict mac v2". */
    is_str(hex(p, tag, sizeof(tag)), "0dfa375870144464f1cc32fe63457d48",
           "mac known answer");
    ao2_hmac_sha256(k.mac[V], sizeof(k.mac[V]), key, strlen(key), val,
                    strlen(val), full);
    ok(memcmp(full, tag, sizeof(tag)) == 0,
       "the tag is the start of HMAC-SHA256 under the mac key");
    ok(ao2_mac_verify(&k, V, key, strlen(key), val, strlen(val), tag),
       "the tag verifies");
    ok(!ao2_mac_verify(&other, V, key, strlen(key), val, strlen(val), tag),
       "not under another master key");
    ok(!ao2_mac_verify(&k, V, "ao2v:y", 6, val, strlen(val), tag),
       "not under another cache key");
    ok(!ao2_mac_verify(&k, V, key, strlen(key), "verdicT", 7, tag),
       "not for another value");
    ok(!ao2_mac_verify(&k, V, key, strlen(key), val, strlen(val) - 1, tag),
       "not for a shorter value");
    for (i = 0; i < sizeof(tag) * 8; i++) {
        memcpy(bad, tag, sizeof(tag));
        bad[i / 8] ^= (unsigned char)(1 << (i % 8));
        failures +=
            ao2_mac_verify(&k, V, key, strlen(key), val, strlen(val), bad);
    }
    is_int(failures, 0, "each of %d flipped tag bits fails",
           (int)(sizeof(tag) * 8));
    ok(!ao2_mac_verify(NULL, V, key, strlen(key), val, strlen(val), tag),
       "no keys: fails");
    ok(!ao2_mac_verify(&k, V, key, strlen(key), val, strlen(val), NULL),
       "no tag: fails");
    ok(ao2_mac(&k, V, NULL, 0, NULL, 0, tag) == APR_SUCCESS &&
           ao2_mac_verify(&k, V, NULL, 0, NULL, 0, tag),
       "an empty message has a tag too");
}
#undef V

static void seal_round_trips(apr_pool_t *p)
{
    static const struct {
        const char *plain;
        apr_size_t len;
        const char *aad;
    } cases[] = {
        {"refresh-token-value", 19, "client:alice"},
        {"", 0, "client:alice"},
        {"with\0nul", 8, ""},
        {"no aad", 6, NULL},
    };
    ao2_keys_t k;
    apr_size_t i;

    test_keys(&k, 1);
    for (i = 0; i < AO2_COUNT(cases); i++) {
        const char *sealed =
            ao2_seal(p, &k, cases[i].aad, cases[i].plain, cases[i].len);
        char *plain = NULL;
        apr_size_t len = 0;

        ok(sealed != NULL, "seal row %d", (int)i);
        is_int(
            ao2_unseal(p, &k, cases[i].aad, sealed ? sealed : "", &plain, &len),
            APR_SUCCESS, "unseal row %d", (int)i);
        ok(plain && len == cases[i].len &&
               memcmp(plain, cases[i].plain, len) == 0 && plain[len] == '\0',
           "row %d gives the plaintext back, NUL-terminated", (int)i);
    }
    ok(strcmp(ao2_seal(p, &k, "a", "same", 4), ao2_seal(p, &k, "a", "same", 4)),
       "a fresh nonce each time: sealing twice differs");
}

static void unseal_refuses(apr_pool_t *p)
{
    const char *secret = "refresh-token-value";
    ao2_keys_t k, wrong;
    const char *sealed;
    unsigned char *raw, *copy;
    apr_size_t rawlen, len = 99, i;
    char *plain = (char *)"x";
    int failures = 0;

    test_keys(&k, 1);
    test_keys(&wrong, 2);
    sealed = ao2_seal(p, &k, "client:alice", secret, strlen(secret));
    is_int(ao2_unseal(p, &k, "client:bob", sealed, &plain, &len), APR_EGENERAL,
           "another record's aad fails");
    ok(plain == NULL && len == 0, "nothing comes back on failure");
    is_int(ao2_unseal(p, &wrong, "client:alice", sealed, &plain, &len),
           APR_EGENERAL, "another key fails");
    is_int(ao2_unseal(p, &k, NULL, sealed, &plain, &len), APR_EGENERAL,
           "missing aad fails");

    /* Every single flipped bit, in the nonce, the ciphertext and the tag. */
    ao2_b64url_decode(p, sealed, strlen(sealed), &raw, &rawlen);
    copy = apr_palloc(p, rawlen);
    for (i = 0; i < rawlen * 8; i++) {
        memcpy(copy, raw, rawlen);
        copy[i / 8] ^= (unsigned char)(1 << (i % 8));
        if (ao2_unseal(p, &k, "client:alice",
                       ao2_b64url_encode(p, copy, rawlen), &plain,
                       &len) != APR_EGENERAL) {
            failures++;
        }
    }
    is_int(failures, 0, "each of %d flipped bits fails", (int)(rawlen * 8));

    is_int(ao2_unseal(p, &k, "client:alice", ao2_b64url_encode(p, raw, 27),
                      &plain, &len),
           APR_EINVAL, "shorter than nonce and tag is not a sealed value");
    is_int(ao2_unseal(p, &k, "client:alice", "", &plain, &len), APR_EINVAL,
           "empty text is not a sealed value");
    is_int(ao2_unseal(p, &k, "client:alice", "not base64!", &plain, &len),
           APR_EINVAL, "text outside the alphabet is not a sealed value");
    is_int(ao2_unseal(p, &k, "client:alice", ao2_b64url_encode(p, raw, 28),
                      &plain, &len),
           APR_EGENERAL, "nonce and tag alone do not verify");
}

/* Fetched once or per call, the same answers; after the pool that held
 * the fetched algorithms is gone, per call again. */
static void fetched_once(apr_pool_t *p)
{
    unsigned char master[32];
    const char *sealed[3];
    apr_pool_t *sub;
    ao2_keys_t k;
    int i, j;

    memset(master, 7, sizeof(master));
    ao2_keys_derive(&k, master, sizeof(master));
    apr_pool_create(&sub, p);
    for (i = 0; i < 3; i++) {
        unsigned char md[AO2_SHA256_LEN], mac[AO2_SHA256_LEN];
        if (i == 1)
            ao2_crypto_init(sub);
        if (i == 2)
            apr_pool_destroy(sub);
        /* Sealed one way, opened the other ways. */
        sealed[i] = ao2_seal(p, &k, "aad", "plain", 5);
        for (j = 0; j <= i; j++) {
            char *plain = NULL;
            apr_size_t len = 0;
            ok(sealed[j] &&
                   ao2_unseal(p, &k, "aad", sealed[j], &plain, &len) ==
                       APR_SUCCESS &&
                   len == 5 && memcmp(plain, "plain", 5) == 0,
               "sealed in round %d, opened in round %d", j, i);
        }
        ao2_sha256("abc", 3, md);
        is_str(
            hex(p, md, sizeof(md)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "sha256(abc), %s", i == 1 ? "fetched once" : "fetched per call");
        is_int(ao2_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28,
                               NULL, 0, mac),
               APR_SUCCESS, "HMAC computes (%d)", i);
        is_str(
            hex(p, mac, sizeof(mac)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "HMAC, %s", i == 1 ? "fetched once" : "fetched per call");
    }
}

/* The thread's HMAC context remembers its key: a MAC under another key,
 * then under the first again, must each be the right one; and a token's
 * hash in base64url is the same from the table as from the masks. */
static void thread_contexts_cases(apr_pool_t *p)
{
    static const char tc2_data[] = "what do ya want for nothing?";
    static const char tc2_want[] =
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    static const char tc1_want[] =
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
    unsigned char key1[20], mac[AO2_SHA256_LEN], md[AO2_SHA256_LEN];
    apr_pool_t *sub;
    int round, i;

    memset(key1, 0x0b, sizeof(key1));
    apr_pool_create(&sub, p);
    for (round = 0; round < 2; round++) {
        if (round == 1)
            ao2_crypto_init(sub);
        for (i = 0; i < 3; i++) {
            ao2_hmac_sha256("Jefe", 4, tc2_data, strlen(tc2_data), NULL, 0,
                            mac);
            is_str(hex(p, mac, sizeof(mac)), tc2_want,
                   "RFC 4231 case 2, call %d (%s)", i,
                   round ? "thread contexts" : "per call");
            ao2_hmac_sha256(key1, sizeof(key1), "Hi There", 8, NULL, 0, mac);
            is_str(hex(p, mac, sizeof(mac)), tc1_want,
                   "RFC 4231 case 1 between, call %d (%s)", i,
                   round ? "thread contexts" : "per call");
            /* The same key with a length one shorter is another key. */
            ao2_hmac_sha256(key1, sizeof(key1) - 1, "Hi There", 8, NULL, 0,
                            mac);
            ok(strcmp(hex(p, mac, sizeof(mac)), tc1_want) != 0,
               "a key one byte shorter gives another MAC (%d)", i);
        }
        for (i = 0; i < 200; i++) {
            char *data = apr_psprintf(p, "token-%d-%s", i,
                                      i % 7 ? "" : "with a longer tail .....");
            ao2_sha256(data, strlen(data), md);
            is_str(ao2_sha256_b64url(p, data, strlen(data)),
                   ao2_b64url_encode(p, md, sizeof(md)),
                   "hash %d in base64url: table and masks agree", i);
        }
    }
    apr_pool_destroy(sub);
}

const ao2_test_case_t ao2_suite_crypto[] = {
    {"algorithms fetched once", fetched_once},
    {"thread contexts", thread_contexts_cases},
    {"sha256 known answers", sha256_known_answers},
    {"PKCE S256, RFC 7636 appendix B", pkce_rfc7636_appendix_b},
    {"base64 known answers", b64_known_answers},
    {"base64url round trips", b64url_round_trips},
    {"base64url, the whole alphabet", b64url_whole_alphabet},
    {"base64url decode accepts", b64url_decode_accepts},
    {"base64url decode rejects", b64url_decode_rejects},
    {"constant-time compare", ct_equal_cases},
    {"random values", random_values},
    {"key derivation", keys_derive_cases},
    {"HMAC-SHA256 known answers, RFC 4231", hmac_known_answers},
    {"mac and verify", mac_verify_cases},
    {"mac kinds apart", mac_kinds_apart},
    {"seal round trips", seal_round_trips},
    {"unseal refuses", unseal_refuses},
    {NULL, NULL},
};
