/* Counters of what the module does, shared by every process of one httpd:
 * a table of 64-bit counters in anonymous shared memory, made by the parent
 * in post_config and inherited by every child through fork, read by the
 * metrics handler (Prometheus text) and the server-status section.
 *
 * Recording is one relaxed atomic add into one of a few stripes (copies of
 * the whole table, one per group of threads, each on its own cache lines),
 * summed when the table is read: threads of every process add at once
 * without fighting over a cache line. Before ao2_metrics_init, or with
 * ApiOAuth2Metrics off, recording does nothing. No httpd header: the logic
 * files record, t/unit/test_metrics.c reads the text. */
#ifndef AO2_METRICS_H
#define AO2_METRICS_H

#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_time.h>

/* Bearer checks, by how they ended. */
typedef enum {
    AO2_MB_VALID,       /* the identity went on to the backend */
    AO2_MB_INVALID,     /* 401 invalid_token: refused, unknown, expired */
    AO2_MB_UNAVAILABLE, /* 503: the store or the provider could not say */
    AO2_MB_MISSING,     /* 401 without a token */
    AO2_MB_MALFORMED,   /* 401: not one well-formed Bearer credential */
    AO2_MB_N
} ao2_metric_bearer_e;

/* Cache tiers: the back-end that answered (ao2_cache_type_t.tier). */
typedef enum { AO2_MT_SHM, AO2_MT_MEMCACHE, AO2_MT_N } ao2_metric_tier_e;
typedef enum { AO2_MC_HIT, AO2_MC_MISS, AO2_MC_N } ao2_metric_lookup_e;
typedef enum {
    AO2_MO_GET,
    AO2_MO_SET,
    AO2_MO_REMOVE,
    AO2_MO_ADD,
    AO2_MO_TAKE, /* the token store's read-and-delete */
    AO2_MO_N
} ao2_metric_op_e;

/* The provider endpoints this module calls. */
typedef enum {
    AO2_ME_TOKEN, /* authorization code exchange */
    AO2_ME_REFRESH,
    AO2_ME_REVOKE,
    AO2_ME_INTROSPECT,
    AO2_ME_USERINFO,
    AO2_ME_DISCOVERY,
    AO2_ME_JWKS,
    AO2_ME_N
} ao2_metric_endpoint_e;

/* Locks (ao2_lock.c): the single flight of Bearer lookups and the refresh
 * lock; a wait ended by: */
typedef enum { AO2_ML_LOOKUP, AO2_ML_REFRESH, AO2_ML_N } ao2_metric_lock_e;
typedef enum {
    AO2_MW_ACQUIRED, /* the holder let go, the waiter took the lock */
    AO2_MW_APPEARED, /* what the holder was to produce appeared */
    AO2_MW_FAILURE,  /* the holder left its failure */
    AO2_MW_TIMEOUT,  /* the deadline passed */
    AO2_MW_N
} ao2_metric_wait_e;

/* Provider metadata refreshes (ao2_discovery.c): the discovery document
 * with its JWKS, or the JWKS alone (an unknown kid). */
typedef enum { AO2_MD_METADATA, AO2_MD_JWKS, AO2_MD_N } ao2_metric_doc_e;

/* post_config, in the parent: a zeroed table for these providers (their
 * names, in configuration order: ao2_provider_t.index), on pconf. on 0:
 * nothing is made and nothing is recorded. */
apr_status_t ao2_metrics_init(apr_pool_t *pconf, const char *const *providers,
                              int nproviders, int on);

void ao2_metrics_bearer(ao2_metric_bearer_e outcome);
void ao2_metrics_cache(ao2_metric_tier_e tier, ao2_metric_lookup_e result);
void ao2_metrics_cache_error(ao2_metric_tier_e tier, ao2_metric_op_e op);
/* Returns rv: counts it when it is an error other than "not found". */
apr_status_t ao2_metrics_store(ao2_metric_op_e op, apr_status_t rv);
void ao2_metrics_lock_wait(ao2_metric_lock_e lock, ao2_metric_wait_e end,
                           apr_interval_time_t waited);
/* One provider call: rv and status as ao2_http_request gave them, took the
 * time it took. provider: ao2_provider_t.index (out of range: ignored). */
void ao2_metrics_provider_call(int provider, ao2_metric_endpoint_e endpoint,
                               apr_status_t rv, int status,
                               apr_interval_time_t took);
void ao2_metrics_refresh(int provider, ao2_metric_doc_e doc, int ok);

/* Where the text goes (the handler writes to the client). */
typedef void (*ao2_metrics_emit_fn)(void *baton, const char *s, apr_size_t len);
/* Prometheus text exposition format 0.0.4 of the sums over all stripes; p
 * for scratch (one line at a time). */
void ao2_metrics_prometheus(apr_pool_t *p, ao2_metrics_emit_fn emit,
                            void *baton);
#define AO2_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* SetHandler value of the metrics page. */
#define AO2_METRICS_HANDLER "api-oauth2-metrics"

/* The headline totals for server-status, name (CamelCase, no spaces) and
 * value in the order given; returns how many there are (0: metrics off). */
typedef struct ao2_metrics_total {
    const char *name;
    const char *help;
    apr_uint64_t value;
} ao2_metrics_total_t;
#define AO2_METRICS_TOTALS 12
int ao2_metrics_totals(ao2_metrics_total_t out[AO2_METRICS_TOTALS]);

#endif
