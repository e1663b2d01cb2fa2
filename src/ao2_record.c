#include "ao2_record.h"

#include <apr_strings.h>
#include <string.h>

/* Hash of length-prefixed parts: "a" + "bc" and "ab" + "c" differ. */
static const char *hashed_key(apr_pool_t *p, const char *prefix,
                              const char *const *parts, int n)
{
    const char *buf = "";
    int i;

    for (i = 0; i < n; i++)
        buf = apr_psprintf(p, "%s%" APR_SIZE_T_FMT ":%s", buf, strlen(parts[i]),
                           parts[i]);
    return apr_pstrcat(p, prefix, ao2_sha256_b64url(p, buf, strlen(buf)), NULL);
}

const char *ao2_record_key(apr_pool_t *p, const char *api,
                           const char *client_id, const char *user_identity)
{
    const char *parts[] = {api, client_id, user_identity};
    return hashed_key(p, "t:", parts, 3);
}

const char *ao2_index_key(apr_pool_t *p, const char *access_token)
{
    return apr_pstrcat(
        p, "a:", ao2_sha256_b64url(p, access_token, strlen(access_token)),
        NULL);
}

const char *ao2_state_key(apr_pool_t *p, const char *state)
{
    return apr_pstrcat(p, "s:", ao2_sha256_b64url(p, state, strlen(state)),
                       NULL);
}

/* Version byte, then the whole JSON sealed with the store key as aad: a
 * value that is changed, forged or copied under another key does not open.
 * The JSON text held secrets; it does not stay in the pool. */
static char *seal_value(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                        const ao2_json_t *j, apr_size_t *len)
{
    char *json = ao2_json_dump(p, j), *sealed, *out;
    apr_size_t n;

    *len = 0;
    if (json == NULL)
        return NULL;
    n = strlen(json);
    sealed = (k && key) ? ao2_seal(p, k, key, json, n) : NULL;
    ao2_cleanse(json, n);
    if (sealed == NULL)
        return NULL;
    n = strlen(sealed);
    out = apr_palloc(p, n + 2);
    out[0] = AO2_RECORD_VERSION;
    memcpy(out + 1, sealed, n + 1);
    *len = n + 1;
    return out;
}

/* The JSON object inside a stored value. NULL with *rv APR_EINVAL for what is
 * not a value of ours (or not an object), APR_EGENERAL when the tag does not
 * verify. */
static ao2_json_t *open_value(apr_pool_t *p, const ao2_keys_t *k,
                              const char *key, const char *val, apr_size_t len,
                              apr_status_t *rv)
{
    ao2_json_t *j;
    const char *why;
    char *plain;
    apr_size_t plainlen;

    *rv = APR_EINVAL;
    if (k == NULL || key == NULL || val == NULL || len < 2 ||
        val[0] != AO2_RECORD_VERSION)
        return NULL;
    /* Back-ends hand over bytes and a length: the sealed text fills them
     * exactly, NUL-free, and is terminated here for ao2_unseal. */
    if (memchr(val + 1, '\0', len - 1) != NULL)
        return NULL;
    *rv = ao2_unseal(p, k, key, apr_pstrmemdup(p, val + 1, len - 1), &plain,
                     &plainlen);
    if (*rv != APR_SUCCESS)
        return NULL;
    j = ao2_json_parse_object(p, plain, plainlen, &why);
    ao2_cleanse(plain, plainlen);
    *rv = j ? APR_SUCCESS : APR_EINVAL;
    return j;
}

static void set_opt(ao2_json_t *j, const char *name, const char *v)
{
    if (v)
        ao2_json_set_str(j, name, v);
}

char *ao2_record_encode(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                        const ao2_record_t *rec, apr_size_t *len)
{
    ao2_json_t *j = ao2_json_object(p);

    ao2_json_set_str(j, "api", rec->api);
    ao2_json_set_str(j, "cid", rec->client_id);
    ao2_json_set_str(j, "cui", rec->user_identity);
    ao2_json_set_str(j, "prov", rec->provider);
    set_opt(j, "tt", rec->token_type);
    set_opt(j, "sc", rec->scope);
    set_opt(j, "lg", rec->login);
    set_opt(j, "db", rec->db);
    ao2_json_set_int(j, "iat", rec->issued_at);
    ao2_json_set_int(j, "exp", rec->expires_at);
    set_opt(j, "at", rec->access_token);
    set_opt(j, "rt", rec->refresh_token);
    set_opt(j, "it", rec->id_token);
    return seal_value(p, k, key, j, len);
}

apr_status_t ao2_record_decode(apr_pool_t *p, const ao2_keys_t *k,
                               const char *key, const char *val, apr_size_t len,
                               ao2_record_t *rec)
{
    apr_status_t rv;
    ao2_json_t *j = open_value(p, k, key, val, len, &rv);

    memset(rec, 0, sizeof(*rec));
    if (j == NULL)
        return rv;
    rec->api = ao2_json_str(j, "api");
    rec->client_id = ao2_json_str(j, "cid");
    rec->user_identity = ao2_json_str(j, "cui");
    rec->provider = ao2_json_str(j, "prov");
    rec->token_type = ao2_json_str(j, "tt");
    rec->scope = ao2_json_str(j, "sc");
    rec->login = ao2_json_str(j, "lg");
    rec->db = ao2_json_str(j, "db");
    rec->access_token = ao2_json_str(j, "at");
    rec->refresh_token = ao2_json_str(j, "rt");
    rec->id_token = ao2_json_str(j, "it");
    if (rec->api == NULL || rec->client_id == NULL ||
        rec->user_identity == NULL || rec->provider == NULL ||
        rec->access_token == NULL || !ao2_json_int(j, "iat", &rec->issued_at) ||
        !ao2_json_int(j, "exp", &rec->expires_at)) {
        memset(rec, 0, sizeof(*rec));
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

char *ao2_index_encode(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                       const ao2_index_t *ix, apr_size_t *len)
{
    ao2_json_t *j = ao2_json_object(p);

    ao2_json_set_str(j, "k", ix->record_key);
    set_opt(j, "lg", ix->login);
    set_opt(j, "db", ix->db);
    set_opt(j, "sc", ix->scope);
    ao2_json_set_int(j, "exp", ix->expires_at);
    if (ix->revoked)
        ao2_json_set_bool(j, "rv", 1);
    return seal_value(p, k, key, j, len);
}

apr_status_t ao2_index_decode(apr_pool_t *p, const ao2_keys_t *k,
                              const char *key, const char *val, apr_size_t len,
                              ao2_index_t *ix)
{
    apr_status_t rv;
    ao2_json_t *j = open_value(p, k, key, val, len, &rv);

    memset(ix, 0, sizeof(*ix));
    if (j == NULL)
        return rv;
    ix->record_key = ao2_json_str(j, "k");
    ix->login = ao2_json_str(j, "lg");
    ix->db = ao2_json_str(j, "db");
    ix->scope = ao2_json_str(j, "sc");
    if (ix->record_key == NULL || !ao2_json_int(j, "exp", &ix->expires_at)) {
        memset(ix, 0, sizeof(*ix));
        return APR_EINVAL;
    }
    ao2_json_bool(j, "rv", &ix->revoked);
    return APR_SUCCESS;
}

char *ao2_state_encode(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                       const ao2_state_t *st, apr_size_t *len)
{
    ao2_json_t *j = ao2_json_object(p);

    ao2_json_set_str(j, "api", st->api);
    ao2_json_set_str(j, "cid", st->client_id);
    ao2_json_set_str(j, "cui", st->user_identity);
    ao2_json_set_str(j, "nonce", st->nonce);
    ao2_json_set_str(j, "ru", st->redirect_uri);
    ao2_json_set_int(j, "exp", st->expires_at);
    set_opt(j, "cv", st->code_verifier);
    return seal_value(p, k, key, j, len);
}

apr_status_t ao2_state_decode(apr_pool_t *p, const ao2_keys_t *k,
                              const char *key, const char *val, apr_size_t len,
                              ao2_state_t *st)
{
    apr_status_t rv;
    ao2_json_t *j = open_value(p, k, key, val, len, &rv);

    memset(st, 0, sizeof(*st));
    if (j == NULL)
        return rv;
    st->api = ao2_json_str(j, "api");
    st->client_id = ao2_json_str(j, "cid");
    st->user_identity = ao2_json_str(j, "cui");
    st->nonce = ao2_json_str(j, "nonce");
    st->redirect_uri = ao2_json_str(j, "ru");
    st->code_verifier = ao2_json_str(j, "cv");
    if (st->api == NULL || st->client_id == NULL || st->user_identity == NULL ||
        st->nonce == NULL || st->redirect_uri == NULL ||
        st->code_verifier == NULL || !ao2_json_int(j, "exp", &st->expires_at)) {
        memset(st, 0, sizeof(*st));
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

char *ao2_record_token_info(apr_pool_t *p, const ao2_record_t *rec,
                            apr_int64_t now)
{
    ao2_json_t *j = ao2_json_object(p);
    apr_int64_t left = rec->expires_at > now ? rec->expires_at - now : 0;

    ao2_json_set_str(j, "access_token", rec->access_token);
    set_opt(j, "refresh_token", rec->refresh_token);
    if (rec->expires_at) {
        ao2_json_set_int(j, "expires_in", left);
        ao2_json_set_int(j, "expires_at", rec->expires_at);
    }
    set_opt(j, "scope", rec->scope);
    ao2_json_set_str(j, "token_type",
                     rec->token_type ? rec->token_type : "Bearer");
    set_opt(j, "id_token", rec->id_token);
    set_opt(j, "db", rec->db);
    set_opt(j, "login", rec->login);
    return ao2_json_dump(p, j);
}
