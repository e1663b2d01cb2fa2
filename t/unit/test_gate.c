/* ao2_gate: the cap with a small waiting room that bounds provider calls
 * (Bearer and endpoints) and the waiters of a refresh lock (issue 19 item
 * 3: one identity's /token calls took every worker while the provider
 * hung), and the lock's use of it, with a one-entry fake cache. */
#include <string.h>

#include <apr_atomic.h>
#include <apr_thread_proc.h>

#include "ao2_gate.h"
#include "ao2_lock.h"
#include "tap.h"

static ao2_gate_t gate(volatile apr_uint32_t *in, apr_uint32_t max)
{
    ao2_gate_t g;

    memset(&g, 0, sizeof(g));
    g.in = in;
    g.max = max;
    return g;
}

static void cap(apr_pool_t *p)
{
    volatile apr_uint32_t in = 0;
    ao2_gate_t g = gate(&in, 2), none = gate(NULL, 0);

    ok(ao2_gate_enter(&g) && ao2_gate_enter(&g), "two in under a cap of 2");
    ok(!ao2_gate_enter(&g), "the third refused");
    is_int(in, 2, "the refused one not counted");
    ao2_gate_leave(&g);
    ok(ao2_gate_enter(&g), "one left: in again");
    ao2_gate_leave(&g);
    ao2_gate_leave(&g);
    is_int(in, 0, "all left");
    ok(ao2_gate_enter(&none), "no counter: no cap");
    ao2_gate_leave(&none);
}

/* Frees one place after a moment, as work inside ending. */
static void *APR_THREAD_FUNC leave_later(apr_thread_t *t, void *data)
{
    apr_sleep(apr_time_from_msec(30));
    ao2_gate_leave(data);
    return NULL;
}

static void waiting_room(apr_pool_t *p)
{
    volatile apr_uint32_t in = 1, waiting = 0;
    volatile apr_uint64_t ended = (apr_uint64_t)apr_time_now();
    ao2_gate_t g = gate(&in, 1);
    apr_thread_t *t;
    apr_status_t trv;
    apr_time_t start;

    g.waiting = &waiting;
    g.max_waiting = 1;
    g.wait = apr_time_from_sec(5);
    g.ended = &ended;
    apr_thread_create(&t, NULL, leave_later, &g, p);
    ok(ao2_gate_enter(&g), "full, a place freed while waiting: in");
    apr_thread_join(&trv, t);
    is_int(in, 1, "counted once");
    is_int(waiting, 0, "no waiter left counted");

    waiting = 1;
    start = apr_time_now();
    ok(!ao2_gate_enter(&g), "full with the waiting room full: refused");
    ok(apr_time_now() - start < apr_time_from_sec(2), "at once");
    is_int(waiting, 1, "the waiter count unchanged");

    waiting = 0;
    g.wait = apr_time_from_msec(40);
    ended = (apr_uint64_t)apr_time_now();
    start = apr_time_now();
    ok(!ao2_gate_enter(&g), "no place freed within the wait: refused");
    ok(apr_time_now() - start >= apr_time_from_msec(40), "after the wait");
    is_int(in, 1, "the count unchanged");
    is_int(waiting, 0, "the waiter gone");

    /* A provider that hangs: nothing left for longer than the wait. */
    g.wait = apr_time_from_sec(5);
    ended = (apr_uint64_t)(apr_time_now() - apr_time_from_sec(6));
    start = apr_time_now();
    ok(!ao2_gate_enter(&g), "nothing ended lately: refused");
    ok(apr_time_now() - start < apr_time_from_sec(2),
       "at once: a waiter would only hold a thread");
    is_int(waiting, 0, "nobody waited");
    ao2_gate_leave(&g);
    ok((apr_time_t)ended > apr_time_now() - apr_time_from_sec(1),
       "leaving records the end");
}

/* An identity's count and its provider's: in both or in neither. */
static void chain(apr_pool_t *p)
{
    volatile apr_uint32_t ident = 0, prov = 1;
    ao2_gate_t g[2];

    g[0] = gate(&ident, 2);
    g[1] = gate(&prov, 2);
    g[0].next = &g[1];
    ok(ao2_gate_enter(&g[0]), "room in both: in");
    is_int(ident, 1, "counted in the first");
    is_int(prov, 2, "and in the second");
    ok(!ao2_gate_enter(&g[0]), "the second full: refused");
    is_int(ident, 1, "the first given back");
    ao2_gate_leave(&g[0]);
    is_int(ident, 0, "left the first");
    is_int(prov, 1, "and the second");
    ident = 2;
    ok(!ao2_gate_enter(&g[0]), "the first full: refused");
    is_int(prov, 1, "the second not entered");
}

/* ---- the refresh lock's waiting room ------------------------------------ */

/* One entry: enough for one lock. */
typedef struct one_cache {
    ao2_cache_t base;
    char key[AO2_CACHE_MAX_KEY], val[AO2_LOCK_VALUE_LEN + 1];
    apr_size_t klen, len;
    int adds;
} one_cache_t;

static apr_status_t oc_get(ao2_cache_t *c, const char *key, apr_size_t klen,
                           char *buf, apr_size_t *len)
{
    one_cache_t *oc = (one_cache_t *)c;

    if (oc->klen != klen || memcmp(oc->key, key, klen) || oc->len > *len)
        return APR_NOTFOUND;
    memcpy(buf, oc->val, oc->len);
    *len = oc->len;
    return APR_SUCCESS;
}

static apr_status_t oc_add(ao2_cache_t *c, const char *key, apr_size_t klen,
                           const char *val, apr_size_t len, int ttl)
{
    one_cache_t *oc = (one_cache_t *)c;

    oc->adds++;
    if (oc->klen)
        return APR_EEXIST;
    memcpy(oc->key, key, klen);
    oc->klen = klen;
    memcpy(oc->val, val, len);
    oc->len = len;
    return APR_SUCCESS;
}

static apr_status_t oc_remove(ao2_cache_t *c, const char *key, apr_size_t klen)
{
    ((one_cache_t *)c)->klen = 0;
    return APR_SUCCESS;
}

static const ao2_cache_type_t one_type = {
    .name = "one", .get = oc_get, .remove = oc_remove, .add = oc_add};

static void lock_with(ao2_lock_t *lk, const ao2_gate_t *room)
{
    memset(lk, 0, sizeof(*lk));
    memset(lk->key, 'k', AO2_LOCK_KEY_LEN);
    memcpy(lk->key, AO2_LOCK_REFRESH_PREFIX ":", 5);
    lk->room = room;
}

static void lock_room(apr_pool_t *p)
{
    one_cache_t oc;
    volatile apr_uint32_t in = 0;
    ao2_gate_t room = gate(&in, 1);
    ao2_lock_t holder, waiter;
    apr_time_t start;

    memset(&oc, 0, sizeof(oc));
    oc.base.type = &one_type;
    lock_with(&holder, &room);
    ok(ao2_lock_take(&oc.base, &holder, 10, 0, NULL, NULL) == APR_SUCCESS,
       "the first takes the lock");
    is_int(in, 0, "a holder is no waiter");

    in = 1; /* another waits already */
    lock_with(&waiter, &room);
    start = apr_time_now();
    ok(ao2_lock_take(&oc.base, &waiter, 10, apr_time_from_sec(5), NULL, NULL) ==
           APR_EEXIST,
       "the room full: not taken");
    ok(waiter.full, "... and says the room is full");
    ok(apr_time_now() - start < apr_time_from_sec(2),
       "at once, not after the 5 s wait");
    is_int(oc.adds, 2, "one try");
    is_int(in, 1, "the count unchanged");

    in = 0;
    start = apr_time_now();
    ok(ao2_lock_take(&oc.base, &waiter, 10, apr_time_from_msec(30), NULL,
                     NULL) == APR_EEXIST &&
           !waiter.full,
       "room free: waits, to its deadline");
    ok(apr_time_now() - start >= apr_time_from_msec(30), "the whole wait");
    is_int(in, 0, "and leaves the room");

    lock_with(&waiter, NULL);
    ok(ao2_lock_take(&oc.base, &waiter, 10, 0, NULL, NULL) == APR_EEXIST &&
           !waiter.full,
       "no room: as before");
    ao2_lock_release(&oc.base, &holder, 0, 0);
}

const ao2_test_case_t ao2_suite_gate[] = {
    {"a cap", cap},
    {"a waiting room while work ends", waiting_room},
    {"chained gates: all or none", chain},
    {"a lock's waiting room", lock_room},
    {NULL, NULL},
};
