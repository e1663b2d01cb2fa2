/* ao2_memo: a connection's last good verdict, on its own. What it means
 * for a Bearer check (forgets, epochs, tiers) is in test_validate.c. */
#include <string.h>

#include <apr_strings.h>

#include "ao2_memo.h"
#include "tap.h"

#define NOW ((apr_int64_t)1700000000)
/* Binding ids: AO2_SHA256_B64URL_LEN characters. */
#define BIND_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define BIND_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

static ao2_verdict_t good(const char *login, const char *db, const char *scope,
                          apr_int64_t expires_at)
{
    ao2_verdict_t v;

    memset(&v, 0, sizeof(v));
    v.valid = 1;
    v.expires_at = expires_at;
    v.login = login;
    v.login_len = login ? strlen(login) : 0;
    v.db = db;
    v.db_len = db ? strlen(db) : 0;
    v.scope = scope;
    v.scope_len = scope ? strlen(scope) : 0;
    return v;
}

static void round_trip(apr_pool_t *p)
{
    ao2_memo_t *m = ao2_memo_make(p);
    char id[] = BIND_A;
    ao2_memo_stamp_t st = {id, 7, 3}, other;
    ao2_verdict_t v = good("kate", NULL, "openid", NOW + 600), out;

    ok(!ao2_memo_get(m, &st, "tok", 3, NOW, &out), "empty: nothing");
    ao2_memo_put(m, &st, "tok", 3, NOW, &v);
    ok(ao2_memo_get(m, &st, "tok", 3, NOW, &out), "kept");
    ok(out.valid && out.login_len == 4 && !memcmp(out.login, "kate", 4) &&
           out.db_len == 0 && out.scope_len == 6 &&
           !memcmp(out.scope, "openid", 6),
       "the identity, no db");
    is_int(out.expires_at, NOW + AO2_MEMO_SECONDS, "believed for its second");
    ok(!ao2_memo_get(m, &st, "tok", 3, NOW + AO2_MEMO_SECONDS, &out),
       "not after it");
    ok(!ao2_memo_get(m, &st, "tox", 3, NOW, &out), "another token: no");
    ok(!ao2_memo_get(m, &st, "to", 2, NOW, &out), "a prefix: no");
    other = st;
    other.forgets++;
    ok(!ao2_memo_get(m, &other, "tok", 3, NOW, &out), "a forget since: no");
    other = st;
    other.epoch++;
    ok(!ao2_memo_get(m, &other, "tok", 3, NOW, &out), "a new epoch: no");
    other = st;
    other.binding = BIND_B;
    ok(!ao2_memo_get(m, &other, "tok", 3, NOW, &out),
       "another location's binding: no");
    other.binding = apr_pstrdup(p, BIND_A);
    ok(ao2_memo_get(m, &other, "tok", 3, NOW, &out),
       "the same binding id elsewhere in memory (made per request): yes");
    memcpy(id, BIND_B, sizeof(id));
    ok(!ao2_memo_get(m, &st, "tok", 3, NOW, &out),
       "another binding at the old one's address: no");
}

static void bounds(apr_pool_t *p)
{
    ao2_memo_t *m = ao2_memo_make(p);
    ao2_memo_stamp_t st = {BIND_A, 0, 0};
    char *big = apr_palloc(p, 4097), *login = apr_palloc(p, 400);
    ao2_verdict_t v = good("kate", "db", "s", NOW + 600), out;

    ao2_memo_put(m, &st, "short", 5, NOW, &v);
    memset(big, 'a', 4097);
    ao2_memo_put(m, &st, big, 4096, NOW, &v);
    ok(ao2_memo_get(m, &st, big, 4096, NOW, &out),
       "a 4 KiB token after a short one: the buffer grew");
    ok(!ao2_memo_get(m, &st, "short", 5, NOW, &out), "the short one is gone");
    ao2_memo_put(m, &st, big, 4097, NOW, &v);
    ok(!ao2_memo_get(m, &st, big, 4097, NOW, &out) &&
           !ao2_memo_get(m, &st, big, 4096, NOW, &out),
       "a longer token than any Bearer: not kept, and the memo is empty");
    memset(login, 'k', 399);
    login[399] = '\0';
    v = good(login, login, NULL, NOW + 600);
    ao2_memo_put(m, &st, "tok", 3, NOW, &v);
    ok(!ao2_memo_get(m, &st, "tok", 3, NOW, &out),
       "an identity over AO2_VERDICT_MAX bytes: not kept");
    v = good("kate", NULL, NULL, NOW);
    ao2_memo_put(m, &st, "tok", 3, NOW, &v);
    ok(!ao2_memo_get(m, &st, "tok", 3, NOW, &out), "an expired one: not kept");
    v = good("kate", NULL, NULL, NOW + 600);
    v.valid = 0;
    ao2_memo_put(m, &st, "tok", 3, NOW, &v);
    ok(!ao2_memo_get(m, &st, "tok", 3, NOW, &out), "a rejection: not kept");
}

const ao2_test_case_t ao2_suite_memo[] = {
    {"keep and answer", round_trip},
    {"bounds", bounds},
    {NULL, NULL},
};
