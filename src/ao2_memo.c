#include "ao2_memo.h"

#include <string.h>

#include "ao2_crypto.h"

/* The longest Bearer token ao2_bearer.c passes on. */
#define MEMO_MAX_TOKEN 4096

struct ao2_memo {
    apr_pool_t *pool;
    int full;
    char binding[AO2_SHA256_B64URL_LEN];
    apr_uint32_t forgets, epoch;
    apr_int64_t until; /* believed while now < until */
    char *token;
    apr_size_t token_len, token_cap;
    apr_size_t login_len, db_len, scope_len;
    /* login, db and scope, one after the other. */
    char strings[AO2_VERDICT_MAX];
};

ao2_memo_t *ao2_memo_make(apr_pool_t *p)
{
    ao2_memo_t *m = apr_pcalloc(p, sizeof(*m));

    m->pool = p;
    return m;
}

int ao2_memo_get(const ao2_memo_t *m, const ao2_memo_stamp_t *st,
                 const char *token, apr_size_t len, apr_int64_t now,
                 ao2_verdict_t *v)
{
    if (!m->full || now >= m->until || m->forgets != st->forgets ||
        m->epoch != st->epoch || m->token_len != len ||
        memcmp(m->binding, st->binding, AO2_SHA256_B64URL_LEN) != 0 ||
        !ao2_ct_same(m->token, token, len))
        return 0;
    memset(v, 0, sizeof(*v));
    v->valid = 1;
    v->expires_at = m->until;
    v->login = m->strings;
    v->login_len = m->login_len;
    v->db = m->strings + m->login_len;
    v->db_len = m->db_len;
    v->scope = v->db + m->db_len;
    v->scope_len = m->scope_len;
    return 1;
}

void ao2_memo_put(ao2_memo_t *m, const ao2_memo_stamp_t *st, const char *token,
                  apr_size_t len, apr_int64_t now, const ao2_verdict_t *v)
{
    apr_size_t n = v->login_len + v->db_len + v->scope_len;

    m->full = 0;
    if (!v->valid || v->expires_at <= now || len == 0 || len > MEMO_MAX_TOKEN ||
        n > sizeof(m->strings) || v->login_len > sizeof(m->strings) ||
        v->db_len > sizeof(m->strings))
        return;
    if (len > m->token_cap) {
        /* Doubling: a connection whose tokens grow allocates a few times,
         * at most up to MEMO_MAX_TOKEN, never once per request. */
        apr_size_t cap = m->token_cap ? m->token_cap : 64;
        while (cap < len)
            cap *= 2;
        m->token = apr_palloc(m->pool, cap);
        m->token_cap = cap;
    }
    memcpy(m->token, token, len);
    m->token_len = len;
    /* An absent db or scope may be NULL with length 0. */
    if (v->login_len)
        memcpy(m->strings, v->login, v->login_len);
    if (v->db_len)
        memcpy(m->strings + v->login_len, v->db, v->db_len);
    if (v->scope_len)
        memcpy(m->strings + v->login_len + v->db_len, v->scope, v->scope_len);
    m->login_len = v->login_len;
    m->db_len = v->db_len;
    m->scope_len = v->scope_len;
    memcpy(m->binding, st->binding, AO2_SHA256_B64URL_LEN);
    m->forgets = st->forgets;
    m->epoch = st->epoch;
    m->until = now + AO2_MEMO_SECONDS < v->expires_at ? now + AO2_MEMO_SECONDS
                                                      : v->expires_at;
    m->full = 1;
}
