/* A cap on work in flight in this process, with a small waiting room: the
 * one mechanism that keeps provider calls, and requests waiting for another
 * request's provider call, from taking every httpd worker.
 *
 * - At most max are inside at once (apr_atomic counters in process memory:
 *   a child that dies takes its counts with it).
 * - When all places are taken, up to max_waiting more wait up to wait for
 *   one, and only while work ends (one left within wait): a burst while the
 *   provider answers in milliseconds gets its answers; a provider that
 *   hangs makes nobody wait for nothing.
 * - The rest are refused at once; the caller answers 503 with Retry-After.
 * - Gates chain: entering one enters its next too, all or none.
 * Pure: no httpd, unit-tested in t/unit/test_gate.c. */
#ifndef AO2_GATE_H
#define AO2_GATE_H

#include <apr_time.h>

typedef struct ao2_gate {
    volatile apr_uint32_t *in; /* inside; NULL or max 0: no cap */
    apr_uint32_t max;
    /* Waiting for a place, how many may, how long; NULL: nobody waits. */
    volatile apr_uint32_t *waiting;
    apr_uint32_t max_waiting;
    apr_interval_time_t wait;
    /* apr_time_now() when one last left; NULL: nobody waits. */
    volatile apr_uint64_t *ended;
    const struct ao2_gate *next; /* entered too; NULL: none */
} ao2_gate_t;

/* 1 inside every gate of the chain (leave with ao2_gate_leave), 0 refused
 * (inside none). */
int ao2_gate_enter(const ao2_gate_t *g);

/* Leaves every gate of the chain; records when (ended). */
void ao2_gate_leave(const ao2_gate_t *g);

/* The gate on provider calls, with its defaults (ao2_defaults.h), over a
 * process's counts: in flight, waiting, when one last ended. */
ao2_gate_t ao2_gate_provider_calls(volatile apr_uint32_t *in,
                                   volatile apr_uint32_t *waiting,
                                   volatile apr_uint64_t *ended);

#endif
