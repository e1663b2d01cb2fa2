/* ao2_record_decode, ao2_index_decode and ao2_state_decode on what a store
 * can hand back. Values are sealed whole (AES-256-GCM, the store key as
 * aad), so random bytes never get past the tag; the input therefore says
 * what it is:
 *
 *   0x01 then JSON  (what the seeds in corpus/store start with): the JSON is
 *                   sealed here, as a writer holding the key would, under
 *                   each kind's store key, and so reaches the checks behind
 *                   the seal; it must decode or be APR_EINVAL, never
 *                   APR_EGENERAL.
 *   anything else:  the whole input is a store value, as someone without the
 *                   key could write it: success (only for a real sealed
 *                   value), APR_EINVAL or APR_EGENERAL.
 *
 * What is accepted must survive encoding and decoding again unchanged, open
 * under its own store key only, and stop opening when any byte of it is
 * changed. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_record.h"
#include "fuzz.h"

#define API   "/jsonapiext"
#define CID   "client-1"
#define CUI   "user@example.com"
#define STATE "state-1"
#define TOKEN "AT-access-0123456789abcdefghij"

#define AS_PLAINTEXT 0x01

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* The store value for plaintext under key, as ao2_record.c writes one. */
static const char *sealed_value(apr_pool_t *p, const ao2_keys_t *k,
                                const char *key, const char *plain,
                                apr_size_t plainlen, apr_size_t *len)
{
    const char *sealed = ao2_seal(p, k, key, plain, plainlen);
    char version[2] = {AO2_RECORD_VERSION, '\0'};
    const char *val;

    AO2_FUZZ_ASSERT(sealed != NULL);
    val = apr_pstrcat(p, version, sealed, NULL);
    *len = strlen(val);
    return val;
}

/* One byte of an accepted encoding changed, at a place and in a way the
 * input chooses: it must no longer open. */
static char *tampered(apr_pool_t *p, const char *enc, apr_size_t enclen,
                      apr_size_t seed)
{
    char *copy = apr_pmemdup(p, enc, enclen + 1);
    unsigned char flip = (unsigned char)(1u << (seed % 8));

    copy[seed % enclen] = (char)((unsigned char)copy[seed % enclen] ^ flip);
    return copy;
}

static void record(apr_pool_t *p, const ao2_keys_t *k, const char *val,
                   apr_size_t len, int sealed_here)
{
    const char *key = ao2_record_key(p, API, CID, CUI);
    ao2_record_t r, again;
    apr_status_t rv = ao2_record_decode(p, k, key, val, len, &r);
    char *enc;
    apr_size_t enclen;

    AO2_FUZZ_ASSERT(rv == APR_SUCCESS || rv == APR_EINVAL ||
                    (rv == APR_EGENERAL && !sealed_here));
    if (rv != APR_SUCCESS) {
        AO2_FUZZ_ASSERT(r.api == NULL && r.access_token == NULL &&
                        r.login == NULL && r.scope == NULL);
        return;
    }
    AO2_FUZZ_ASSERT(r.api && r.client_id && r.user_identity && r.provider &&
                    r.access_token);
    enc = ao2_record_encode(p, k, key, &r, &enclen);
    AO2_FUZZ_ASSERT(enc != NULL);
    AO2_FUZZ_ASSERT(ao2_record_decode(p, k, key, enc, enclen, &again) ==
                    APR_SUCCESS);
    AO2_FUZZ_ASSERT(
        same(r.api, again.api) && same(r.client_id, again.client_id) &&
        same(r.user_identity, again.user_identity) &&
        same(r.provider, again.provider) &&
        same(r.access_token, again.access_token) &&
        same(r.refresh_token, again.refresh_token) &&
        same(r.id_token, again.id_token) &&
        same(r.token_type, again.token_type) && same(r.scope, again.scope) &&
        same(r.login, again.login) && same(r.db, again.db) &&
        r.issued_at == again.issued_at && r.expires_at == again.expires_at);
    /* Sealed for this key only. */
    AO2_FUZZ_ASSERT(ao2_record_decode(p, k, ao2_record_key(p, API, CID, "x"),
                                      enc, enclen, &again) == APR_EGENERAL);
    AO2_FUZZ_ASSERT(ao2_record_decode(p, k, key, tampered(p, enc, enclen, len),
                                      enclen, &again) != APR_SUCCESS);
}

static void index_entry(apr_pool_t *p, const ao2_keys_t *k, const char *val,
                        apr_size_t len, int sealed_here)
{
    const char *key = ao2_index_key(p, TOKEN);
    ao2_index_t ix, again;
    apr_status_t rv = ao2_index_decode(p, k, key, val, len, &ix);
    char *enc;
    apr_size_t enclen;

    AO2_FUZZ_ASSERT(rv == APR_SUCCESS || rv == APR_EINVAL ||
                    (rv == APR_EGENERAL && !sealed_here));
    if (rv != APR_SUCCESS) {
        AO2_FUZZ_ASSERT(ix.record_key == NULL && ix.login == NULL &&
                        ix.scope == NULL && ix.revoked == 0);
        return;
    }
    AO2_FUZZ_ASSERT(ix.record_key != NULL);
    AO2_FUZZ_ASSERT(ix.revoked == 0 || ix.revoked == 1);
    enc = ao2_index_encode(p, k, key, &ix, &enclen);
    AO2_FUZZ_ASSERT(enc != NULL);
    AO2_FUZZ_ASSERT(ao2_index_decode(p, k, key, enc, enclen, &again) ==
                    APR_SUCCESS);
    AO2_FUZZ_ASSERT(
        same(ix.record_key, again.record_key) && same(ix.login, again.login) &&
        same(ix.db, again.db) && same(ix.scope, again.scope) &&
        ix.expires_at == again.expires_at && ix.revoked == again.revoked);
    /* Another token's entry does not open under this token's key. */
    AO2_FUZZ_ASSERT(ao2_index_decode(p, k, ao2_index_key(p, "other"), enc,
                                     enclen, &again) == APR_EGENERAL);
    AO2_FUZZ_ASSERT(ao2_index_decode(p, k, key, tampered(p, enc, enclen, len),
                                     enclen, &again) != APR_SUCCESS);
}

static void state(apr_pool_t *p, const ao2_keys_t *k, const char *val,
                  apr_size_t len, int sealed_here)
{
    const char *key = ao2_state_key(p, STATE);
    ao2_state_t st, again;
    apr_status_t rv = ao2_state_decode(p, k, key, val, len, &st);
    char *enc;
    apr_size_t enclen;

    AO2_FUZZ_ASSERT(rv == APR_SUCCESS || rv == APR_EINVAL ||
                    (rv == APR_EGENERAL && !sealed_here));
    if (rv != APR_SUCCESS) {
        AO2_FUZZ_ASSERT(st.nonce == NULL && st.code_verifier == NULL &&
                        st.redirect_uri == NULL);
        return;
    }
    AO2_FUZZ_ASSERT(st.api && st.client_id && st.user_identity && st.nonce &&
                    st.code_verifier && st.redirect_uri);
    enc = ao2_state_encode(p, k, key, &st, &enclen);
    AO2_FUZZ_ASSERT(enc != NULL);
    AO2_FUZZ_ASSERT(ao2_state_decode(p, k, key, enc, enclen, &again) ==
                    APR_SUCCESS);
    AO2_FUZZ_ASSERT(same(st.api, again.api) &&
                    same(st.client_id, again.client_id) &&
                    same(st.user_identity, again.user_identity) &&
                    same(st.nonce, again.nonce) &&
                    same(st.code_verifier, again.code_verifier) &&
                    same(st.redirect_uri, again.redirect_uri) &&
                    st.expires_at == again.expires_at);
    AO2_FUZZ_ASSERT(ao2_state_decode(p, k, ao2_state_key(p, "state-2"), enc,
                                     enclen, &again) == APR_EGENERAL);
    AO2_FUZZ_ASSERT(ao2_state_decode(p, k, key, tampered(p, enc, enclen, len),
                                     enclen, &again) != APR_SUCCESS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ao2_keys_t keys;
    static int have_keys;
    apr_pool_t *p;
    const char *in = (const char *)data;

    if (!have_keys) {
        unsigned char master[AO2_MASTER_KEY_MIN];
        memset(master, 7, sizeof(master));
        AO2_FUZZ_ASSERT(ao2_keys_derive(&keys, master, sizeof(master)) ==
                        APR_SUCCESS);
        have_keys = 1;
    }
    apr_pool_create(&p, ao2_fuzz_root);
    if (size > 0 && data[0] == AS_PLAINTEXT) {
        const char *plain = in + 1;
        apr_size_t plainlen = size - 1, len;
        const char *val;

        val = sealed_value(p, &keys, ao2_record_key(p, API, CID, CUI), plain,
                           plainlen, &len);
        record(p, &keys, val, len, 1);
        val = sealed_value(p, &keys, ao2_index_key(p, TOKEN), plain, plainlen,
                           &len);
        index_entry(p, &keys, val, len, 1);
        val = sealed_value(p, &keys, ao2_state_key(p, STATE), plain, plainlen,
                           &len);
        state(p, &keys, val, len, 1);
    } else {
        /* Store back-ends hand over bytes and a length, not a C string. */
        record(p, &keys, in, size, 0);
        index_entry(p, &keys, in, size, 0);
        state(p, &keys, in, size, 0);
    }
    apr_pool_destroy(p);
    return 0;
}
