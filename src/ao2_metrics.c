#include "ao2_metrics.h"

#include <apr_portable.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <string.h>

/* Copies of the table: each thread adds to one (my_stripe), so at 2 x 25
 * threads about six share one, instead of fifty. */
#define STRIPES 8
#define LINE    8 /* counters per 64-byte cache line */

/* Upper bounds of the latency buckets, microseconds; the last is +Inf. */
static const apr_uint64_t bucket_us[] = {5000,    10000,   25000,   50000,
                                         100000,  250000,  500000,  1000000,
                                         2500000, 5000000, 10000000};
#define NB (sizeof(bucket_us) / sizeof(bucket_us[0]) + 1)
static const char *const bucket_le[NB] = {"0.005", "0.01", "0.025", "0.05",
                                          "0.1",   "0.25", "0.5",   "1",
                                          "2.5",   "5",    "10",    "+Inf"};

/* The counters of one stripe: the fixed part, then one block per provider. */
#define C_BEARER    0
#define C_CACHE     (C_BEARER + AO2_MB_N)
#define C_CACHE_ERR (C_CACHE + AO2_MT_N * AO2_MC_N)
#define C_STORE_ERR (C_CACHE_ERR + AO2_MT_N * AO2_MO_N)
#define C_LOCK      (C_STORE_ERR + AO2_MO_N)
#define C_LOCK_US   (C_LOCK + AO2_ML_N * AO2_MW_N)
#define C_FIXED     (C_LOCK_US + AO2_ML_N)
/* In a provider's block: */
#define CALL_RESULTS 3 /* ok, rejected (4xx), error (5xx, no answer) */
#define P_CALLS      0
#define P_HIST       (P_CALLS + AO2_ME_N * CALL_RESULTS)
#define P_HIST_US    (P_HIST + AO2_ME_N * NB)
#define P_REFRESH    (P_HIST_US + AO2_ME_N)
#define P_BLOCK      (P_REFRESH + AO2_MD_N * 2)

static const char *const bearer_names[AO2_MB_N] = {
    "valid", "invalid", "unavailable", "missing", "malformed"};
static const char *const tier_names[AO2_MT_N] = {"shm", "memcache"};
static const char *const lookup_names[AO2_MC_N] = {"hit", "miss"};
static const char *const op_names[AO2_MO_N] = {"get", "set", "remove", "add",
                                               "take"};
static const char *const endpoint_names[AO2_ME_N] = {
    "token",    "refresh",   "revoke", "introspect",
    "userinfo", "discovery", "jwks"};
static const char *const result_names[CALL_RESULTS] = {"ok", "rejected",
                                                       "error"};
static const char *const lock_names[AO2_ML_N] = {"lookup", "refresh"};
static const char *const wait_names[AO2_MW_N] = {"acquired", "appeared",
                                                 "failure", "timeout"};
static const char *const doc_names[AO2_MD_N] = {"metadata", "jwks"};

/* What this process knows of the segment (its copy after fork). */
typedef struct metrics {
    apr_uint64_t *rows; /* STRIPES rows of row_len counters */
    apr_size_t row_len;
    int nprov;
    const char **names; /* provider names, label values escaped */
    apr_int64_t started;
} metrics_t;

static metrics_t *live;

static apr_status_t metrics_gone(void *unused)
{
    live = NULL;
    return APR_SUCCESS;
}

/* Prometheus label values: backslash, double quote and newline escaped. */
static const char *escaped(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, 2 * strlen(s) + 1), *o = out;

    for (; *s; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n')
            *o++ = '\\';
        *o++ = *s == '\n' ? 'n' : *s;
    }
    *o = '\0';
    return out;
}

apr_status_t ao2_metrics_init(apr_pool_t *pconf, const char *const *providers,
                              int nproviders, int on)
{
    metrics_t *m;
    apr_size_t size;
    apr_shm_t *shm;
    apr_status_t rv;
    char *base;
    int i;

    live = NULL;
    if (!on)
        return APR_SUCCESS;
    m = apr_pcalloc(pconf, sizeof(*m));
    m->nprov = nproviders;
    /* Whole cache lines per stripe: no two stripes share one. */
    m->row_len = C_FIXED + (apr_size_t)nproviders * P_BLOCK;
    m->row_len = (m->row_len + LINE - 1) / LINE * LINE;
    size = STRIPES * m->row_len * sizeof(apr_uint64_t);
    /* Anonymous, as the shm cache and the metadata slots: inherited by the
     * children, nothing on disk, gone with pconf. */
    rv = apr_shm_create(&shm, size, NULL, pconf);
    if (rv != APR_SUCCESS)
        return rv;
    base = apr_shm_baseaddr_get(shm);
    memset(base, 0, size);
    m->rows = (apr_uint64_t *)base;
    m->names = apr_palloc(pconf, sizeof(char *) * (nproviders + 1));
    for (i = 0; i < nproviders; i++)
        m->names[i] = escaped(pconf, providers[i]);
    m->started = apr_time_sec(apr_time_now());
    live = m;
    apr_pool_cleanup_register(pconf, NULL, metrics_gone, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

/* ---- recording ---------------------------------------------------------- */

/* This thread's stripe, from its thread handle (the address of its
 * descriptor: threads of a process lie a stack apart). Not a thread-local
 * variable: in a module loaded with dlopen each read of one is a call to
 * __tls_get_addr, on every request. Two threads may share a stripe; the
 * adds are atomic. */
static apr_size_t my_stripe(void)
{
    apr_uint64_t h = (apr_uint64_t)(apr_uintptr_t)apr_os_thread_current();

    h = (h >> 12) * 0x9E3779B97F4A7C15ULL;
    return (apr_size_t)(h >> 61) % STRIPES;
}

static void add(apr_size_t i, apr_uint64_t n)
{
    metrics_t *m = live;

    if (m == NULL)
        return;
    __atomic_fetch_add(&m->rows[my_stripe() * m->row_len + i], n,
                       __ATOMIC_RELAXED);
}

static int known_provider(int provider)
{
    return live && provider >= 0 && provider < live->nprov;
}

static apr_size_t block(int provider)
{
    return C_FIXED + (apr_size_t)provider * P_BLOCK;
}

void ao2_metrics_bearer(ao2_metric_bearer_e outcome)
{
    add(C_BEARER + outcome, 1);
}

void ao2_metrics_cache(ao2_metric_tier_e tier, ao2_metric_lookup_e result)
{
    add(C_CACHE + tier * AO2_MC_N + result, 1);
}

void ao2_metrics_cache_error(ao2_metric_tier_e tier, ao2_metric_op_e op)
{
    add(C_CACHE_ERR + tier * AO2_MO_N + op, 1);
}

apr_status_t ao2_metrics_store(ao2_metric_op_e op, apr_status_t rv)
{
    if (rv != APR_SUCCESS && !APR_STATUS_IS_NOTFOUND(rv))
        add(C_STORE_ERR + op, 1);
    return rv;
}

void ao2_metrics_lock_wait(ao2_metric_lock_e lock, ao2_metric_wait_e end,
                           apr_interval_time_t waited)
{
    add(C_LOCK + lock * AO2_MW_N + end, 1);
    add(C_LOCK_US + lock, waited > 0 ? (apr_uint64_t)waited : 0);
}

void ao2_metrics_provider_call(int provider, ao2_metric_endpoint_e endpoint,
                               apr_status_t rv, int status,
                               apr_interval_time_t took)
{
    apr_uint64_t us = took > 0 ? (apr_uint64_t)took : 0;
    apr_size_t b = 0;
    int result = rv != APR_SUCCESS || status >= 500 ? 2 : status >= 400;

    if (!known_provider(provider))
        return;
    while (b < NB - 1 && us > bucket_us[b])
        b++;
    add(block(provider) + P_CALLS + endpoint * CALL_RESULTS + result, 1);
    add(block(provider) + P_HIST + endpoint * NB + b, 1);
    add(block(provider) + P_HIST_US + endpoint, us);
}

void ao2_metrics_refresh(int provider, ao2_metric_doc_e doc, int ok)
{
    if (known_provider(provider))
        add(block(provider) + P_REFRESH + doc * 2 + (ok ? 0 : 1), 1);
}

/* ---- reading ------------------------------------------------------------ */

static apr_uint64_t sum(const metrics_t *m, apr_size_t i)
{
    apr_uint64_t n = 0;
    int s;

    for (s = 0; s < STRIPES; s++)
        n += __atomic_load_n(&m->rows[(apr_size_t)s * m->row_len + i],
                             __ATOMIC_RELAXED);
    return n;
}

typedef struct out {
    apr_pool_t *p;
    ao2_metrics_emit_fn emit;
    void *baton;
} out_t;

static void put(out_t *o, const char *s)
{
    o->emit(o->baton, s, strlen(s));
}

static void family(out_t *o, const char *name, const char *type,
                   const char *help)
{
    put(o, apr_psprintf(o->p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                        type));
}

static void sample(out_t *o, const char *name, const char *labels,
                   apr_uint64_t v)
{
    put(o,
        apr_psprintf(o->p, "%s{%s} %" APR_UINT64_T_FMT "\n", name, labels, v));
}

static const char *seconds(apr_pool_t *p, apr_uint64_t us)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT ".%06u", us / 1000000,
                        (unsigned)(us % 1000000));
}

/* A family with two labels whose counters lie row by row from base,
 * stride apart: a sample for each a=an[i] (i < na), b=bn[j] (j < nb). */
static void grid(out_t *o, const metrics_t *m, const char *name,
                 apr_size_t base, apr_size_t stride, const char *a,
                 const char *const *an, int na, const char *b,
                 const char *const *bn, int nb)
{
    int i, j;

    for (i = 0; i < na; i++)
        for (j = 0; j < nb; j++)
            sample(
                o, name,
                apr_psprintf(o->p, "%s=\"%s\",%s=\"%s\"", a, an[i], b, bn[j]),
                sum(m, base + i * stride + j));
}

static void fixed_part(out_t *o, const metrics_t *m)
{
    int i;

    family(o, "api_oauth2_bearer_checks_total", "counter",
           "Bearer checks by outcome.");
    for (i = 0; i < AO2_MB_N; i++)
        sample(o, "api_oauth2_bearer_checks_total",
               apr_psprintf(o->p, "outcome=\"%s\"", bearer_names[i]),
               sum(m, C_BEARER + i));
    family(o, "api_oauth2_cache_lookups_total", "counter",
           "Verdict lookups of Bearer checks by cache tier and result.");
    grid(o, m, "api_oauth2_cache_lookups_total", C_CACHE, AO2_MC_N, "tier",
         tier_names, AO2_MT_N, "result", lookup_names, AO2_MC_N);
    family(o, "api_oauth2_cache_errors_total", "counter",
           "Cache operations that failed, by tier and operation.");
    /* take is the store's alone */
    grid(o, m, "api_oauth2_cache_errors_total", C_CACHE_ERR, AO2_MO_N, "tier",
         tier_names, AO2_MT_N, "op", op_names, AO2_MO_N - 1);
    family(o, "api_oauth2_store_errors_total", "counter",
           "Token store operations that failed, by operation.");
    for (i = 0; i < AO2_MO_N; i++)
        if (i != AO2_MO_ADD)
            sample(o, "api_oauth2_store_errors_total",
                   apr_psprintf(o->p, "op=\"%s\"", op_names[i]),
                   sum(m, C_STORE_ERR + i));
}

static void lock_part(out_t *o, const metrics_t *m)
{
    int i;

    family(o, "api_oauth2_lock_waits_total", "counter",
           "Waits for a lock another request held, by lock and how they "
           "ended.");
    grid(o, m, "api_oauth2_lock_waits_total", C_LOCK, AO2_MW_N, "lock",
         lock_names, AO2_ML_N, "end", wait_names, AO2_MW_N);
    family(o, "api_oauth2_lock_wait_seconds_total", "counter",
           "Time spent waiting for locks, by lock.");
    for (i = 0; i < AO2_ML_N; i++)
        put(o,
            apr_psprintf(o->p,
                         "api_oauth2_lock_wait_seconds_total{lock=\"%s\"} "
                         "%s\n",
                         lock_names[i], seconds(o->p, sum(m, C_LOCK_US + i))));
}

/* The calls of one provider to one endpoint; 0 when there were none. */
static apr_uint64_t calls(const metrics_t *m, int pv, int ep)
{
    apr_uint64_t n = 0;
    int r;

    for (r = 0; r < CALL_RESULTS; r++)
        n += sum(m, block(pv) + P_CALLS + ep * CALL_RESULTS + r);
    return n;
}

static void call_series(out_t *o, const metrics_t *m, int pv, int ep)
{
    int r;

    for (r = 0; r < CALL_RESULTS; r++)
        sample(o, "api_oauth2_provider_calls_total",
               apr_psprintf(o->p,
                            "provider=\"%s\",endpoint=\"%s\",result=\"%s\"",
                            m->names[pv], endpoint_names[ep], result_names[r]),
               sum(m, block(pv) + P_CALLS + ep * CALL_RESULTS + r));
}

/* A provider's series of an endpoint appear with its first call there:
 * most providers use a few of the seven. */
static void calls_part(out_t *o, const metrics_t *m)
{
    int pv, ep;

    family(o, "api_oauth2_provider_calls_total", "counter",
           "Provider calls by provider, endpoint and result (ok: < 400, "
           "rejected: 4xx, error: 5xx or no answer).");
    for (pv = 0; pv < m->nprov; pv++)
        for (ep = 0; ep < AO2_ME_N; ep++)
            if (calls(m, pv, ep))
                call_series(o, m, pv, ep);
}

static void histogram(out_t *o, const metrics_t *m, int pv, int ep)
{
    const char *name = "api_oauth2_provider_call_duration_seconds";
    const char *labels = apr_psprintf(o->p, "provider=\"%s\",endpoint=\"%s\"",
                                      m->names[pv], endpoint_names[ep]);
    apr_uint64_t n = 0;
    apr_size_t b;

    for (b = 0; b < NB; b++) {
        n += sum(m, block(pv) + P_HIST + ep * NB + b);
        put(o, apr_psprintf(o->p,
                            "%s_bucket{%s,le=\"%s\"} %" APR_UINT64_T_FMT "\n",
                            name, labels, bucket_le[b], n));
    }
    put(o, apr_psprintf(o->p, "%s_sum{%s} %s\n", name, labels,
                        seconds(o->p, sum(m, block(pv) + P_HIST_US + ep))));
    put(o, apr_psprintf(o->p, "%s_count{%s} %" APR_UINT64_T_FMT "\n", name,
                        labels, n));
}

static void latency_part(out_t *o, const metrics_t *m)
{
    int pv, ep;

    family(o, "api_oauth2_provider_call_duration_seconds", "histogram",
           "Provider call latency by provider and endpoint.");
    for (pv = 0; pv < m->nprov; pv++)
        for (ep = 0; ep < AO2_ME_N; ep++)
            if (calls(m, pv, ep))
                histogram(o, m, pv, ep);
}

static void refresh_part(out_t *o, const metrics_t *m)
{
    int pv, d, ok;

    family(o, "api_oauth2_metadata_refreshes_total", "counter",
           "Fetches of provider metadata (discovery document and JWKS, or "
           "the JWKS alone), by provider and result.");
    for (pv = 0; pv < m->nprov; pv++)
        for (d = 0; d < AO2_MD_N; d++)
            for (ok = 0; ok < 2; ok++)
                sample(o, "api_oauth2_metadata_refreshes_total",
                       apr_psprintf(o->p,
                                    "provider=\"%s\",document=\"%s\","
                                    "result=\"%s\"",
                                    m->names[pv], doc_names[d],
                                    ok ? "failed" : "ok"),
                       sum(m, block(pv) + P_REFRESH + d * 2 + ok));
}

void ao2_metrics_prometheus(apr_pool_t *p, ao2_metrics_emit_fn emit,
                            void *baton)
{
    const metrics_t *m = live;
    apr_pool_t *scratch;
    out_t o;

    apr_pool_create(&scratch, p);
    o.p = scratch;
    o.emit = emit;
    o.baton = baton;
    family(&o, "api_oauth2_metrics_enabled", "gauge",
           "1 when metrics are recorded (ApiOAuth2Metrics on).");
    put(&o, m ? "api_oauth2_metrics_enabled 1\n"
              : "api_oauth2_metrics_enabled 0\n");
    if (m) {
        family(&o, "api_oauth2_metrics_start_time_seconds", "gauge",
               "When the counters started (Unix time): the last start or "
               "restart of httpd.");
        put(&o,
            apr_psprintf(
                scratch,
                "api_oauth2_metrics_start_time_seconds %" APR_INT64_T_FMT "\n",
                m->started));
        fixed_part(&o, m);
        lock_part(&o, m);
        calls_part(&o, m);
        latency_part(&o, m);
        refresh_part(&o, m);
    }
    apr_pool_destroy(scratch);
}

/* ---- server-status ------------------------------------------------------ */

static apr_uint64_t range(const metrics_t *m, apr_size_t from, apr_size_t n)
{
    apr_uint64_t v = 0;
    apr_size_t i;

    for (i = 0; i < n; i++)
        v += sum(m, from + i);
    return v;
}

static apr_uint64_t cache_sum(const metrics_t *m, int result)
{
    apr_uint64_t v = 0;
    int t;

    for (t = 0; t < AO2_MT_N; t++)
        v += sum(m, C_CACHE + t * AO2_MC_N + result);
    return v;
}

static apr_uint64_t provider_sum(const metrics_t *m, int errors_only)
{
    apr_uint64_t v = 0;
    int pv, ep;

    for (pv = 0; pv < m->nprov; pv++)
        for (ep = 0; ep < AO2_ME_N; ep++)
            v += errors_only
                     ? sum(m, block(pv) + P_CALLS + ep * CALL_RESULTS + 2)
                     : calls(m, pv, ep);
    return v;
}

static apr_uint64_t refresh_sum(const metrics_t *m)
{
    apr_uint64_t v = 0;
    int pv;

    for (pv = 0; pv < m->nprov; pv++)
        v += range(m, block(pv) + P_REFRESH, AO2_MD_N * 2);
    return v;
}

int ao2_metrics_totals(ao2_metrics_total_t out[AO2_METRICS_TOTALS])
{
    const metrics_t *m = live;
    const ao2_metrics_total_t t[AO2_METRICS_TOTALS] = {
        {"BearerChecks", "Bearer checks", 0},
        {"BearerValid", "valid", 0},
        {"BearerInvalid", "refused (401)", 0},
        {"BearerUnavailable", "unavailable (503)", 0},
        {"CacheHits", "cache hits", 0},
        {"CacheMisses", "cache misses", 0},
        {"CacheErrors", "cache errors", 0},
        {"ProviderCalls", "provider calls", 0},
        {"ProviderErrors", "provider calls failed", 0},
        {"LockWaits", "lock waits", 0},
        {"StoreErrors", "token store errors", 0},
        {"MetadataRefreshes", "metadata fetches", 0},
    };
    int i;

    if (m == NULL)
        return 0;
    for (i = 0; i < AO2_METRICS_TOTALS; i++)
        out[i] = t[i];
    out[0].value = range(m, C_BEARER, AO2_MB_N);
    out[1].value = sum(m, C_BEARER + AO2_MB_VALID);
    out[2].value = sum(m, C_BEARER + AO2_MB_INVALID) +
                   sum(m, C_BEARER + AO2_MB_MISSING) +
                   sum(m, C_BEARER + AO2_MB_MALFORMED);
    out[3].value = sum(m, C_BEARER + AO2_MB_UNAVAILABLE);
    out[4].value = cache_sum(m, AO2_MC_HIT);
    out[5].value = cache_sum(m, AO2_MC_MISS);
    out[6].value = range(m, C_CACHE_ERR, AO2_MT_N * AO2_MO_N);
    out[7].value = provider_sum(m, 0);
    out[8].value = provider_sum(m, 1);
    out[9].value = range(m, C_LOCK, AO2_ML_N * AO2_MW_N);
    out[10].value = range(m, C_STORE_ERR, AO2_MO_N);
    out[11].value = refresh_sum(m);
    return AO2_METRICS_TOTALS;
}
