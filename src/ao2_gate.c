#include "ao2_gate.h"

#include <apr_atomic.h>

#include "ao2_defaults.h"

/* A waiter looks again after this, then after twice as long, up to the
 * maximum: the work inside shares no lock with it, only its count. */
#define POLL_FIRST apr_time_from_msec(1)
#define POLL_MAX   apr_time_from_msec(32)

static int capped(const ao2_gate_t *g)
{
    return g->in != NULL && g->max != 0;
}

static int try_in(const ao2_gate_t *g)
{
    if (apr_atomic_inc32(g->in) < g->max)
        return 1;
    apr_atomic_dec32(g->in);
    return 0;
}

/* Only while work ends: when none has left lately (the provider hangs) a
 * waiter would only hold a thread for nothing. */
static int room_open(const ao2_gate_t *g)
{
    return g->waiting != NULL && g->ended != NULL &&
           apr_time_now() -
                   (apr_time_t)__atomic_load_n(g->ended, __ATOMIC_RELAXED) <=
               g->wait;
}

static int enter_one(const ao2_gate_t *g)
{
    apr_time_t deadline;
    apr_interval_time_t poll;
    int got = 0;

    if (!capped(g) || try_in(g))
        return 1;
    if (!room_open(g))
        return 0;
    if (apr_atomic_inc32(g->waiting) >= g->max_waiting) {
        apr_atomic_dec32(g->waiting);
        return 0;
    }
    deadline = apr_time_now() + g->wait;
    /* Doubling steps: a place freed by a provider that answers comes within
     * milliseconds; one that hangs costs a waiter a few wake-ups, not one a
     * millisecond. */
    for (poll = POLL_FIRST; !got && apr_time_now() < deadline;
         poll = poll * 2 > POLL_MAX ? POLL_MAX : poll * 2) {
        apr_sleep(poll);
        got = try_in(g);
    }
    apr_atomic_dec32(g->waiting);
    return got;
}

static void leave_one(const ao2_gate_t *g)
{
    if (g->ended)
        __atomic_store_n(g->ended, (apr_uint64_t)apr_time_now(),
                         __ATOMIC_RELAXED);
    if (capped(g))
        apr_atomic_dec32(g->in);
}

int ao2_gate_enter(const ao2_gate_t *g)
{
    const ao2_gate_t *at, *back;

    for (at = g; at; at = at->next) {
        if (!enter_one(at)) {
            /* Out of the ones already entered, without counting it as
             * work that ended. */
            for (back = g; back != at; back = back->next) {
                if (capped(back))
                    apr_atomic_dec32(back->in);
            }
            return 0;
        }
    }
    return 1;
}

void ao2_gate_leave(const ao2_gate_t *g)
{
    for (; g; g = g->next)
        leave_one(g);
}

ao2_gate_t ao2_gate_provider_calls(volatile apr_uint32_t *in,
                                   volatile apr_uint32_t *waiting,
                                   volatile apr_uint64_t *ended)
{
    ao2_gate_t g = {in,
                    AO2_DEFAULT_PROVIDER_CALLS,
                    waiting,
                    AO2_DEFAULT_PROVIDER_CALL_WAITERS,
                    AO2_DEFAULT_PROVIDER_CALL_WAIT,
                    ended,
                    NULL};
    return g;
}
