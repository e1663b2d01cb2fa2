/* ao2_record_decode, ao2_index_decode and ao2_state_decode on arbitrary
 * bytes, as a damaged or forged store value reaches them. Each must answer
 * success, APR_EINVAL or APR_EGENERAL, and what it accepts must survive
 * encoding and decoding again unchanged. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_record.h"
#include "fuzz.h"

/* The seeds in corpus/store were sealed with this key under these names. */
#define API   "/jsonapiext"
#define CID   "client-1"
#define CUI   "user@example.com"
#define STATE "state-1"

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void record(apr_pool_t *p, const ao2_keys_t *k, const char *val,
                   apr_size_t len)
{
    const char *key = ao2_record_key(p, API, CID, CUI);
    ao2_record_t r, again;
    apr_status_t rv = ao2_record_decode(p, k, key, val, len, &r);
    char *enc;
    apr_size_t enclen;

    AO2_FUZZ_ASSERT(rv == APR_SUCCESS || rv == APR_EINVAL ||
                    rv == APR_EGENERAL);
    if (rv != APR_SUCCESS) {
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
}

static void index_entry(apr_pool_t *p, const char *val, apr_size_t len)
{
    ao2_index_t ix, again;
    apr_status_t rv = ao2_index_decode(p, val, len, &ix);
    char *enc;
    apr_size_t enclen;

    AO2_FUZZ_ASSERT(rv == APR_SUCCESS || rv == APR_EINVAL);
    if (rv != APR_SUCCESS) {
        return;
    }
    AO2_FUZZ_ASSERT(ix.record_key != NULL);
    AO2_FUZZ_ASSERT(ix.revoked == 0 || ix.revoked == 1);
    enc = ao2_index_encode(p, &ix, &enclen);
    AO2_FUZZ_ASSERT(enc != NULL);
    AO2_FUZZ_ASSERT(ao2_index_decode(p, enc, enclen, &again) == APR_SUCCESS);
    AO2_FUZZ_ASSERT(
        same(ix.record_key, again.record_key) && same(ix.login, again.login) &&
        same(ix.db, again.db) && same(ix.scope, again.scope) &&
        ix.expires_at == again.expires_at && ix.revoked == again.revoked);
}

static void state(apr_pool_t *p, const ao2_keys_t *k, const char *val,
                  apr_size_t len)
{
    const char *key = ao2_state_key(p, STATE);
    ao2_state_t st, again;
    apr_status_t rv = ao2_state_decode(p, k, key, val, len, &st);
    char *enc;
    apr_size_t enclen;

    AO2_FUZZ_ASSERT(rv == APR_SUCCESS || rv == APR_EINVAL ||
                    rv == APR_EGENERAL);
    if (rv != APR_SUCCESS) {
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ao2_keys_t keys;
    static int have_keys;
    apr_pool_t *p;
    const char *val = (const char *)data;

    if (!have_keys) {
        unsigned char master[AO2_MASTER_KEY_MIN];
        memset(master, 7, sizeof(master));
        AO2_FUZZ_ASSERT(ao2_keys_derive(&keys, master, sizeof(master)) ==
                        APR_SUCCESS);
        have_keys = 1;
    }
    apr_pool_create(&p, ao2_fuzz_root);
    /* Store back-ends hand over bytes and a length, not a C string. */
    record(p, &keys, val, size);
    index_entry(p, val, size);
    state(p, &keys, val, size);
    apr_pool_destroy(p);
    return 0;
}
