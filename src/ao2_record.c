#include "ao2_record.h"

#include <apr_strings.h>
#include <stddef.h>

#include "ao2_defaults.h"
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

/* The JSON text inside a stored value, in p: APR_EINVAL for what is not a
 * value of ours, APR_EGENERAL when the tag does not verify. It holds
 * secrets: the caller cleanses it once read. */
static apr_status_t open_value(apr_pool_t *p, const ao2_keys_t *k,
                               const char *key, const char *val, apr_size_t len,
                               char **plain, apr_size_t *plainlen)
{
    if (k == NULL || key == NULL || val == NULL || len < 2 ||
        val[0] != AO2_RECORD_VERSION)
        return APR_EINVAL;
    /* Back-ends hand over bytes and a length: the sealed text fills them
     * exactly, NUL-free, and is terminated here for ao2_unseal. */
    if (memchr(val + 1, '\0', len - 1) != NULL)
        return APR_EINVAL;
    return ao2_unseal(p, k, key, apr_pstrmemdup(p, val + 1, len - 1), plain,
                      plainlen);
}

/* Each stored structure is described once, as a table of its members; one
 * pair of loops turns any of them into JSON and back. */
typedef enum {
    MEMBER_STR,      /* required string */
    MEMBER_STR_OPT,  /* string, may be NULL */
    MEMBER_INT,      /* required apr_int64_t */
    MEMBER_INT_OPT,  /* apr_int64_t, stored only when not 0 */
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
    MEMBER(ao2_record_t, refreshed_ms, "rfms", MEMBER_INT_OPT),
    MEMBER(ao2_record_t, access_token, "at", MEMBER_STR),
    MEMBER(ao2_record_t, refresh_token, "rt", MEMBER_STR_OPT),
    MEMBER(ao2_record_t, id_token, "it", MEMBER_STR_OPT),
    MEMBER(ao2_record_t, login_claim, "lc", MEMBER_STR_OPT),
    MEMBER(ao2_record_t, email_verified, "ev", MEMBER_FLAG_OPT),
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
    MEMBER(ao2_index_t, login_claim, "lc", MEMBER_STR_OPT),
    MEMBER(ao2_index_t, email_verified, "ev", MEMBER_FLAG_OPT),
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

/* flat_read_t keeps a bit per row. */
#define ROWS(table) (sizeof(table) / sizeof((table)[0]) - 1)
_Static_assert(ROWS(record_members) <= 32 && ROWS(index_members) <= 32 &&
                   ROWS(state_members) <= 32,
               "a member table has more rows than flat_read_t has bits");

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
            case MEMBER_INT_OPT:
                if (*AT(base, m, apr_int64_t))
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

/* The members through jansson, as every value was read before the flat
 * reader: for what it leaves (escapes, UTF-8, reals, nesting) or refuses. */
static apr_status_t read_members_json(apr_pool_t *p, const char *plain,
                                      apr_size_t plainlen,
                                      const member_t *members, void *base)
{
    ao2_json_t *j = ao2_json_parse_object(p, plain, plainlen, NULL);
    apr_status_t rv = APR_SUCCESS;
    const member_t *m;

    if (j == NULL)
        return APR_EINVAL;
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
            case MEMBER_INT_OPT:
                ao2_json_int(j, m->name, AT(base, m, apr_int64_t));
                break;
            case MEMBER_FLAG_OPT:
                ao2_json_bool(j, m->name, AT(base, m, int));
                break;
        }
    }
    return rv;
}

/* Members of no table: more than this many go to jansson. */
#define FLAT_OTHERS 8

/* What the flat reader has filled in so far. One bit per table row: the
 * tables are far shorter than 32 rows. */
typedef struct flat_read {
    apr_pool_t *p;
    const member_t *members;
    void *base;
    apr_uint32_t seen, set; /* named at all / with a value of its kind */
    /* Into the text, which outlives the read. */
    const char *others[FLAT_OTHERS];
    apr_size_t other_lens[FLAT_OTHERS];
    int n_others;
} flat_read_t;

static int is_str_member(const member_t *m)
{
    return m->kind == MEMBER_STR || m->kind == MEMBER_STR_OPT;
}

static apr_uint32_t row_bit(const member_t *members, const member_t *m)
{
    return (apr_uint32_t)1 << (m - members);
}

/* name holds no NUL, so a shorter want stops the loop at its own. */
static int name_is(const char *want, const char *name, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++)
        if (want[i] != name[i])
            return 0;
    return want[len] == '\0';
}

/* jansson refuses a duplicate of any name, ours or not. */
static ao2_json_flat_e flat_other(flat_read_t *r, const ao2_json_member_t *jm)
{
    int i;

    for (i = 0; i < r->n_others; i++)
        if (r->other_lens[i] == jm->name_len &&
            memcmp(r->others[i], jm->name, jm->name_len) == 0)
            return AO2_JSON_FLAT_INVALID;
    if (r->n_others == FLAT_OTHERS)
        return AO2_JSON_FLAT_UNHANDLED;
    r->others[r->n_others] = jm->name;
    r->other_lens[r->n_others++] = jm->name_len;
    return AO2_JSON_FLAT_OK;
}

/* A member of the wrong kind is left unset, as the accessors of
 * read_members_json leave it. */
static ao2_json_flat_e flat_member(void *ctx, const ao2_json_member_t *jm)
{
    flat_read_t *r = ctx;
    const member_t *m;
    apr_uint32_t bit;

    for (m = r->members; m->name; m++)
        if (name_is(m->name, jm->name, jm->name_len))
            break;
    if (m->name == NULL)
        return flat_other(r, jm);
    bit = row_bit(r->members, m);
    if (r->seen & bit)
        return AO2_JSON_FLAT_INVALID;
    r->seen |= bit;
    if (is_str_member(m) && jm->kind == AO2_JSON_STRING)
        *AT(r->base, m, const char *) =
            apr_pstrmemdup(r->p, jm->str, jm->str_len);
    else if ((m->kind == MEMBER_INT || m->kind == MEMBER_INT_OPT) &&
             jm->kind == AO2_JSON_INTEGER)
        *AT(r->base, m, apr_int64_t) = jm->num;
    else if (m->kind == MEMBER_FLAG_OPT &&
             (jm->kind == AO2_JSON_TRUE || jm->kind == AO2_JSON_FALSE))
        *AT(r->base, m, int) = jm->kind == AO2_JSON_TRUE;
    else
        return AO2_JSON_FLAT_OK;
    r->set |= bit;
    return AO2_JSON_FLAT_OK;
}

static int has_required(const member_t *members, apr_uint32_t set)
{
    const member_t *m;

    for (m = members; m->name; m++)
        if ((m->kind == MEMBER_STR || m->kind == MEMBER_INT) &&
            !(set & row_bit(members, m)))
            return 0;
    return 1;
}

/* Copies of a value that is not taken hold its secrets all the same. */
static void forget_copies(const member_t *members, void *base, apr_uint32_t set)
{
    const member_t *m;

    for (m = members; m->name; m++)
        if (is_str_member(m) && (set & row_bit(members, m))) {
            char *str = (char *)*AT(base, m, const char *);
            ao2_cleanse(str, strlen(str));
        }
}

/* The members as base wants them; base was zeroed. */
static apr_status_t read_members(apr_pool_t *p, const char *plain,
                                 apr_size_t plainlen, const member_t *members,
                                 void *base, apr_size_t size)
{
    flat_read_t r;
    ao2_json_flat_e rc;

    memset(&r, 0, sizeof(r));
    r.p = p;
    r.members = members;
    r.base = base;
    rc = ao2_json_parse_flat(plain, plainlen, flat_member, &r);
    if (rc == AO2_JSON_FLAT_OK && has_required(members, r.set))
        return APR_SUCCESS;
    forget_copies(members, base, r.set);
    memset(base, 0, size);
    if (rc == AO2_JSON_FLAT_UNHANDLED)
        return read_members_json(p, plain, plainlen, members, base);
    return APR_EINVAL;
}

/* On any failure the structure is all NULL and 0. */
static apr_status_t decode_members(apr_pool_t *p, const ao2_keys_t *k,
                                   const char *key, const char *val,
                                   apr_size_t len, const member_t *members,
                                   void *base, apr_size_t size)
{
    char *plain;
    apr_size_t plainlen;
    apr_status_t rv;

    memset(base, 0, size);
    rv = open_value(p, k, key, val, len, &plain, &plainlen);
    if (rv != APR_SUCCESS)
        return rv;
    /* The strings read are copies (the pool's or jansson's), so the text
     * can go at once. */
    rv = read_members(p, plain, plainlen, members, base, size);
    ao2_cleanse(plain, plainlen);
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

int ao2_record_refresh_due(const ao2_record_t *rec, const char *seen,
                           apr_time_t now, int window)
{
    apr_int64_t age = apr_time_as_msec(now) - rec->refreshed_ms;
    apr_int64_t span = (apr_int64_t)window * 1000;

    if (seen && strcmp(rec->access_token, seen) != 0)
        return 0;
    if (rec->expires_at && rec->expires_at <= apr_time_sec(now))
        return 1;
    return rec->refreshed_ms <= 0 || age >= span || age <= -span;
}

static void set_opt(ao2_json_t *j, const char *name, const char *v)
{
    if (v)
        ao2_json_set_str(j, name, v);
}

apr_int64_t ao2_tombstone_until(apr_int64_t expires_at, apr_int64_t now,
                                apr_int64_t fallback)
{
    return (expires_at > 0 ? expires_at : now + fallback) + AO2_MAX_LEEWAY;
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
