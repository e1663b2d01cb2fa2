#include "ao2_record.h"

#include <apr_strings.h>
#include <stddef.h>
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
    return ao2_index_key_of_hash(
        p, ao2_sha256_b64url(p, access_token, strlen(access_token)));
}

const char *ao2_index_key_of_hash(apr_pool_t *p, const char *hash)
{
    return apr_pstrcat(p, "a:", hash, NULL);
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

/* Each stored structure is described once, as a table of its members; one
 * pair of loops turns any of them into JSON and back. */
typedef enum {
    MEMBER_STR,      /* required string */
    MEMBER_STR_OPT,  /* string, may be NULL */
    MEMBER_INT,      /* required apr_int64_t */
    MEMBER_FLAG_OPT, /* int, stored only when true */
} member_kind_e;

typedef struct member {
    const char *name; /* JSON member name */
    apr_size_t offset;
    member_kind_e kind;
} member_t;

#define MEMBER(type, field, name, kind)                                        \
    {                                                                          \
        name, offsetof(type, field), kind                                      \
    }

static const member_t record_members[] = {
    MEMBER(ao2_record_t, api, "api", MEMBER_STR),
    MEMBER(ao2_record_t, client_id, "cid", MEMBER_STR),
    MEMBER(ao2_record_t, user_identity, "cui", MEMBER_STR),
    MEMBER(ao2_record_t, provider, "prov", MEMBER_STR),
    MEMBER(ao2_record_t, provider_id, "pvid", MEMBER_STR_OPT),
    MEMBER(ao2_record_t, token_type, "tt", MEMBER_STR_OPT),
    MEMBER(ao2_record_t, scope, "sc", MEMBER_STR_OPT),
    MEMBER(ao2_record_t, login, "lg", MEMBER_STR_OPT),
    MEMBER(ao2_record_t, db, "db", MEMBER_STR_OPT),
    MEMBER(ao2_record_t, issued_at, "iat", MEMBER_INT),
    MEMBER(ao2_record_t, expires_at, "exp", MEMBER_INT),
    MEMBER(ao2_record_t, access_token, "at", MEMBER_STR),
    MEMBER(ao2_record_t, refresh_token, "rt", MEMBER_STR_OPT),
    MEMBER(ao2_record_t, id_token, "it", MEMBER_STR_OPT),
    {NULL, 0, MEMBER_STR},
};

static const member_t index_members[] = {
    MEMBER(ao2_index_t, record_key, "k", MEMBER_STR),
    MEMBER(ao2_index_t, login, "lg", MEMBER_STR_OPT),
    MEMBER(ao2_index_t, db, "db", MEMBER_STR_OPT),
    MEMBER(ao2_index_t, scope, "sc", MEMBER_STR_OPT),
    MEMBER(ao2_index_t, expires_at, "exp", MEMBER_INT),
    MEMBER(ao2_index_t, revoked, "rv", MEMBER_FLAG_OPT),
    MEMBER(ao2_index_t, provider, "prov", MEMBER_STR_OPT),
    MEMBER(ao2_index_t, client_id, "cid", MEMBER_STR_OPT),
    MEMBER(ao2_index_t, provider_id, "pvid", MEMBER_STR_OPT),
    {NULL, 0, MEMBER_STR},
};

static const member_t state_members[] = {
    MEMBER(ao2_state_t, api, "api", MEMBER_STR),
    MEMBER(ao2_state_t, client_id, "cid", MEMBER_STR),
    MEMBER(ao2_state_t, user_identity, "cui", MEMBER_STR),
    MEMBER(ao2_state_t, nonce, "nonce", MEMBER_STR),
    MEMBER(ao2_state_t, redirect_uri, "ru", MEMBER_STR),
    MEMBER(ao2_state_t, expires_at, "exp", MEMBER_INT),
    MEMBER(ao2_state_t, code_verifier, "cv", MEMBER_STR),
    {NULL, 0, MEMBER_STR},
};

#define AT(base, m, type) ((type *)((char *)(base) + (m)->offset))

static char *encode_members(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                            const member_t *members, const void *base,
                            apr_size_t *len)
{
    ao2_json_t *j = ao2_json_object(p);
    const member_t *m;

    for (m = members; m->name; m++) {
        switch (m->kind) {
            case MEMBER_STR:
            case MEMBER_STR_OPT:
                if (*AT(base, m, const char *))
                    ao2_json_set_str(j, m->name, *AT(base, m, const char *));
                break;
            case MEMBER_INT:
                ao2_json_set_int(j, m->name, *AT(base, m, apr_int64_t));
                break;
            case MEMBER_FLAG_OPT:
                if (*AT(base, m, int))
                    ao2_json_set_bool(j, m->name, 1);
                break;
        }
    }
    return seal_value(p, k, key, j, len);
}

/* On any failure the structure is all NULL and 0. */
static apr_status_t decode_members(apr_pool_t *p, const ao2_keys_t *k,
                                   const char *key, const char *val,
                                   apr_size_t len, const member_t *members,
                                   void *base, apr_size_t size)
{
    apr_status_t rv;
    ao2_json_t *j = open_value(p, k, key, val, len, &rv);
    const member_t *m;

    memset(base, 0, size);
    if (j == NULL)
        return rv;
    for (m = members; m->name; m++) {
        const char **str = AT(base, m, const char *);
        switch (m->kind) {
            case MEMBER_STR:
            case MEMBER_STR_OPT:
                *str = ao2_json_str(j, m->name);
                if (*str == NULL && m->kind == MEMBER_STR)
                    rv = APR_EINVAL;
                break;
            case MEMBER_INT:
                if (!ao2_json_int(j, m->name, AT(base, m, apr_int64_t)))
                    rv = APR_EINVAL;
                break;
            case MEMBER_FLAG_OPT:
                ao2_json_bool(j, m->name, AT(base, m, int));
                break;
        }
    }
    if (rv != APR_SUCCESS)
        memset(base, 0, size);
    return rv;
}

char *ao2_record_encode(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                        const ao2_record_t *rec, apr_size_t *len)
{
    return encode_members(p, k, key, record_members, rec, len);
}

apr_status_t ao2_record_decode(apr_pool_t *p, const ao2_keys_t *k,
                               const char *key, const char *val, apr_size_t len,
                               ao2_record_t *rec)
{
    return decode_members(p, k, key, val, len, record_members, rec,
                          sizeof(*rec));
}

char *ao2_index_encode(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                       const ao2_index_t *ix, apr_size_t *len)
{
    return encode_members(p, k, key, index_members, ix, len);
}

apr_status_t ao2_index_decode(apr_pool_t *p, const ao2_keys_t *k,
                              const char *key, const char *val, apr_size_t len,
                              ao2_index_t *ix)
{
    return decode_members(p, k, key, val, len, index_members, ix, sizeof(*ix));
}

char *ao2_state_encode(apr_pool_t *p, const ao2_keys_t *k, const char *key,
                       const ao2_state_t *st, apr_size_t *len)
{
    return encode_members(p, k, key, state_members, st, len);
}

apr_status_t ao2_state_decode(apr_pool_t *p, const ao2_keys_t *k,
                              const char *key, const char *val, apr_size_t len,
                              ao2_state_t *st)
{
    return decode_members(p, k, key, val, len, state_members, st, sizeof(*st));
}

static void set_opt(ao2_json_t *j, const char *name, const char *v)
{
    if (v)
        ao2_json_set_str(j, name, v);
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
