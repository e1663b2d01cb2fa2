/* Provider metadata in shared memory.
 *
 * One anonymous segment, made by the parent in post_config and inherited
 * by every child, holds a slot per provider: the discovery document and the
 * JWKS as fetched (text), and when to fetch them next. One process at a
 * time fetches (a claim word taken with compare-and-swap; a claim older
 * than a provider timeout is taken over, so a crashed fetcher blocks
 * nobody for long). Readers copy the text under a sequence lock and never
 * wait for a fetch unless there is nothing yet. With the Bearer check's
 * gate on provider calls (ao2_gate.h) a fetch goes through it and a wait
 * for the first copy takes one of its waiting places; without either, 503
 * at once.
 *
 * Parsing (JSON, RSA/EC keys) is done once per process per change: each
 * process keeps its parsed copy of each provider, rebuilt when the slot's
 * sequence number moves. A request holds a reference to the copy it uses,
 * so a rebuild by another thread frees the old copy only when its last
 * user is done. */
#include "ao2_discovery.h"

#include <apr_atomic.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <http_log.h>

#include "ao2_defaults.h"
#include "ao2_metadata.h"
#include "ao2_metrics.h"

APLOG_USE_MODULE(api_oauth2);

#define DOC_MAX    (32 * 1024) /* a discovery document */
#define READ_TRIES 1000        /* sequence-lock retries of a reader */

typedef enum { LAST_OK = 0, LAST_TIMEOUT, LAST_FAILED } last_e;

typedef struct slot {
    volatile apr_uint32_t seq;   /* odd while the documents are written */
    volatile apr_uint32_t claim; /* 0, or the second a fetch began */
    /* keys_at: the last refetch for an unknown kid (the rate limit);
     * scheduled fetches do not count, so a rotation just after one is
     * still followed. */
    volatile apr_int64_t fetched_at, keys_at, next_try;
    volatile apr_uint32_t failures, last;
    apr_uint32_t doc_len, jwks_len;
    char doc[DOC_MAX];
    char jwks[AO2_JWKS_MAX_LEN];
} slot_t;

/* This process's parsed copy of a slot. */
typedef struct snapshot {
    ao2_provider_meta_t meta;
    apr_pool_t *pool;
    apr_uint32_t seq;
    int refs;
} snapshot_t;

typedef struct entry {
    const ao2_provider_t *pv;
    slot_t *slot;
    snapshot_t *current; /* under lock */
} entry_t;

typedef struct discovery {
    entry_t *entries;
    int n;
#if APR_HAS_THREADS
    apr_thread_mutex_t *lock; /* per process, from child_init */
#endif
    apr_pool_t *pool; /* per process: the snapshots' parent, under lock */
} discovery_t;

static discovery_t *disc;

static apr_status_t disc_gone(void *unused)
{
    disc = NULL;
    return APR_SUCCESS;
}

static int discovers(const ao2_provider_t *pv)
{
    return pv->issuer != NULL || pv->jwks_url != NULL;
}

apr_status_t ao2_discovery_init(apr_pool_t *pconf, server_rec *s,
                                const apr_array_header_t *providers)
{
    discovery_t *d = apr_pcalloc(pconf, sizeof(*d));
    apr_shm_t *shm;
    apr_status_t rv;
    slot_t *slots;
    int i, n = 0;

    for (i = 0; i < providers->nelts; i++)
        n += discovers(APR_ARRAY_IDX(providers, i, ao2_provider_t *));
    disc = NULL;
    if (n == 0)
        return APR_SUCCESS;
    rv = apr_shm_create(&shm, sizeof(slot_t) * (apr_size_t)n, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     "AO2J0001: cannot create shared memory for the metadata "
                     "of %d providers",
                     n);
        return rv;
    }
    slots = apr_shm_baseaddr_get(shm);
    memset(slots, 0, sizeof(slot_t) * (apr_size_t)n);
    d->entries = apr_pcalloc(pconf, sizeof(entry_t) * (apr_size_t)n);
    for (i = 0; i < providers->nelts; i++) {
        const ao2_provider_t *pv =
            APR_ARRAY_IDX(providers, i, ao2_provider_t *);
        if (discovers(pv)) {
            d->entries[d->n].pv = pv;
            d->entries[d->n].slot = &slots[d->n];
            d->n++;
        }
    }
    disc = d;
    apr_pool_cleanup_register(pconf, NULL, disc_gone, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

apr_status_t ao2_discovery_child_init(apr_pool_t *pchild)
{
    if (disc == NULL)
        return APR_SUCCESS;
    /* The parent's copy of disc is this process's own after fork; the
     * snapshots made by the parent (none: it serves no request) and those
     * of this child live under one private pool. */
    apr_pool_create(&disc->pool, pchild);
#if APR_HAS_THREADS
    return apr_thread_mutex_create(&disc->lock, APR_THREAD_MUTEX_DEFAULT,
                                   pchild);
#else
    return APR_SUCCESS;
#endif
}

static void lock(void)
{
#if APR_HAS_THREADS
    if (disc->lock)
        apr_thread_mutex_lock(disc->lock);
#endif
}

static void unlock(void)
{
#if APR_HAS_THREADS
    if (disc->lock)
        apr_thread_mutex_unlock(disc->lock);
#endif
}

static entry_t *find_entry(const ao2_provider_t *pv)
{
    int i;

    /* By name (unique): callers may hold a resolved copy of pv. */
    for (i = 0; disc && i < disc->n; i++) {
        if (strcmp(disc->entries[i].pv->name, pv->name) == 0)
            return &disc->entries[i];
    }
    return NULL;
}

/* A full barrier read: apr_atomic_add32 is a locked RMW. */
static apr_uint32_t seq_read(slot_t *sl)
{
    return apr_atomic_add32(&sl->seq, 0);
}

/* Only the claim holder writes. */
static void slot_write(slot_t *sl, const char *doc, apr_size_t doc_len,
                       const char *jwks, apr_size_t jwks_len)
{
    apr_atomic_inc32(&sl->seq);
    if (doc) {
        memcpy(sl->doc, doc, doc_len);
        sl->doc_len = (apr_uint32_t)doc_len;
    }
    memcpy(sl->jwks, jwks, jwks_len);
    sl->jwks_len = (apr_uint32_t)jwks_len;
    apr_atomic_inc32(&sl->seq);
}

/* A consistent copy of the slot's texts in p; 0 when a writer kept the
 * slot busy through every try. */
static int slot_read(apr_pool_t *p, slot_t *sl, char **doc, apr_size_t *dlen,
                     char **jwks, apr_size_t *jlen, apr_uint32_t *seq)
{
    char *d = apr_palloc(p, DOC_MAX + 1),
         *j = apr_palloc(p, AO2_JWKS_MAX_LEN + 1);
    int i;

    for (i = 0; i < READ_TRIES; i++) {
        apr_uint32_t before = seq_read(sl), after;
        apr_size_t dl = sl->doc_len, jl = sl->jwks_len;
        if (before & 1 || dl > DOC_MAX || jl > AO2_JWKS_MAX_LEN)
            continue;
        memcpy(d, sl->doc, dl);
        memcpy(j, sl->jwks, jl);
        after = seq_read(sl);
        if (after == before) {
            d[dl] = j[jl] = '\0';
            *doc = d;
            *dlen = dl;
            *jwks = j;
            *jlen = jl;
            *seq = before;
            return 1;
        }
    }
    return 0;
}

static void snapshot_free(snapshot_t *sn)
{
    apr_pool_destroy(sn->pool);
}

/* Under lock: a parsed copy of the slot as it is now, or NULL. */
static snapshot_t *snapshot_build(entry_t *e, server_rec *s)
{
    apr_pool_t *sp;
    snapshot_t *sn;
    char *doc, *jwks;
    apr_size_t dlen, jlen;
    const char *why = NULL;

    apr_pool_create(&sp, disc->pool);
    sn = apr_pcalloc(sp, sizeof(*sn));
    sn->pool = sp;
    if (!slot_read(sp, e->slot, &doc, &dlen, &jwks, &jlen, &sn->seq)) {
        snapshot_free(sn);
        return NULL;
    }
    sn->meta.provider = *e->pv;
    if (dlen > 0)
        why = ao2_metadata_apply(sp, e->pv, doc, dlen, &sn->meta.provider);
    if (why == NULL && jlen > 0)
        sn->meta.jwks = ao2_jwks_parse(sp, jwks, jlen, &why);
    if (why) {
        /* It was checked before it was stored: only a bug gets here. */
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "AO2J0002: provider %s: stored metadata unusable: %s",
                     e->pv->name, why);
        snapshot_free(sn);
        return NULL;
    }
    return sn;
}

typedef struct hold {
    snapshot_t *sn;
    entry_t *e;
} hold_t;

static apr_status_t snapshot_release(void *data)
{
    hold_t *h = data;

    lock();
    if (--h->sn->refs == 0 && h->sn != h->e->current)
        snapshot_free(h->sn);
    unlock();
    return APR_SUCCESS;
}

/* The current parsed copy, rebuilt when the slot changed, held for p. */
static snapshot_t *snapshot_acquire(apr_pool_t *p, entry_t *e, server_rec *s)
{
    snapshot_t *sn;
    hold_t *h;

    if (e->slot->fetched_at == 0)
        return NULL;
    lock();
    sn = e->current;
    if (sn == NULL || sn->seq != seq_read(e->slot)) {
        snapshot_t *fresh = snapshot_build(e, s);
        if (fresh) {
            if (sn && sn->refs == 0)
                snapshot_free(sn);
            e->current = sn = fresh;
        }
    }
    if (sn)
        sn->refs++;
    unlock();
    if (sn) {
        h = apr_palloc(p, sizeof(*h));
        h->sn = sn;
        h->e = e;
        apr_pool_cleanup_register(p, h, snapshot_release,
                                  apr_pool_cleanup_null);
    }
    return sn;
}

/* One GET, counted in the metrics. */
static apr_status_t metered_get(apr_pool_t *p, const ao2_http_opts_t *o,
                                const ao2_provider_t *pv,
                                ao2_metric_endpoint_e endpoint, const char *url,
                                ao2_http_response_t *resp, const char **why)
{
    apr_time_t start = apr_time_now();
    apr_status_t rv = ao2_http_request(p, o, "GET", url, NULL, NULL, resp, why);

    ao2_metrics_provider_call(pv->index, endpoint, rv,
                              rv == APR_SUCCESS ? resp->status : 0,
                              apr_time_now() - start);
    return rv;
}

/* GET url: the body of a 200 answer of at most max bytes, or NULL with
 * *last saying why. */
static const char *get(apr_pool_t *p, server_rec *s, const ao2_http_opts_t *o,
                       const ao2_provider_t *pv, ao2_metric_endpoint_e endpoint,
                       const char *url, apr_size_t max, apr_size_t *len,
                       last_e *last)
{
    const char *name = pv->name;
    const char *what = endpoint == AO2_ME_JWKS ? "JWKS" : "discovery";
    ao2_http_opts_t opts = *o;
    ao2_http_response_t resp;
    const char *why = "";
    apr_status_t rv;

    opts.max_response = max;
    rv = metered_get(p, &opts, pv, endpoint, url, &resp, &why);
    /* One hop, and only to the same URL with a slash added. */
    if (rv == APR_SUCCESS && ao2_metadata_slash_redirect(url, resp.location)) {
        url = resp.location;
        rv = metered_get(p, &opts, pv, endpoint, url, &resp, &why);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "AO2J0003: provider %s: %s %s: %s", name, what, url, why);
        *last = rv == APR_TIMEUP ? LAST_TIMEOUT : LAST_FAILED;
        return NULL;
    }
    if (resp.status != 200) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "AO2J0004: provider %s: %s %s answered HTTP %d", name,
                     what, url, resp.status);
        *last = LAST_FAILED;
        return NULL;
    }
    *len = resp.len;
    return resp.body;
}

/* The discovery document, OIDC first, RFC 8414 second; checked. */
static const char *fetch_doc(apr_pool_t *p, server_rec *s,
                             const ao2_http_opts_t *o, const ao2_provider_t *pv,
                             ao2_provider_t *merged, apr_size_t *len,
                             last_e *last)
{
    const char *urls[2], *doc, *why;
    int i;

    urls[0] = ao2_discovery_url(p, pv->issuer);
    urls[1] = ao2_rfc8414_url(p, pv->issuer);
    for (i = 0; i < 2 && urls[i]; i++) {
        doc = get(p, s, o, pv, AO2_ME_DISCOVERY, urls[i], DOC_MAX, len, last);
        if (doc == NULL && *last == LAST_TIMEOUT)
            return NULL; /* the other URL is on the same server */
        if (doc == NULL)
            continue;
        why = ao2_metadata_apply(p, pv, doc, *len, merged);
        if (why == NULL)
            return doc;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "AO2J0005: provider %s: %s: %s", pv->name, urls[i], why);
        *last = LAST_FAILED;
    }
    return NULL;
}

/* Holding the claim: fetch (the JWKS alone when keys_only) and store. */
static last_e fetch(apr_pool_t *p, server_rec *s, const ao2_http_opts_t *o,
                    entry_t *e, int keys_only)
{
    const ao2_provider_t *pv = e->pv;
    ao2_provider_t merged = *pv;
    const char *doc = NULL, *jwks = "", *why;
    apr_size_t dlen = 0, jlen = 0;
    last_e last = LAST_OK;
    snapshot_t *sn;

    if (keys_only && (sn = snapshot_acquire(p, e, s)) != NULL)
        merged = sn->meta.provider;
    else if (pv->issuer &&
             (doc = fetch_doc(p, s, o, pv, &merged, &dlen, &last)) == NULL)
        return last;
    if (merged.jwks_url) {
        jwks = get(p, s, o, pv, AO2_ME_JWKS, merged.jwks_url, AO2_JWKS_MAX_LEN,
                   &jlen, &last);
        if (jwks == NULL)
            return last;
        if (ao2_jwks_parse(p, jwks, jlen, &why) == NULL) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                         "AO2J0006: provider %s: JWKS %s: %s", pv->name,
                         merged.jwks_url, why);
            return LAST_FAILED;
        }
    }
    slot_write(e->slot, doc, dlen, jwks, jlen);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 "AO2J0007: provider %s: %s fetched", pv->name,
                 keys_only ? "JWKS" : "metadata");
    return LAST_OK;
}

static int claim(slot_t *sl, apr_int64_t now, const ao2_http_opts_t *o)
{
    apr_uint32_t held = apr_atomic_read32(&sl->claim);
    apr_int64_t stale = 2 * (o->total_timeout_ms / 1000) + 2;

    if (held != 0 && now - (apr_int64_t)held <= stale)
        return 0;
    return apr_atomic_cas32(&sl->claim, (apr_uint32_t)now, held) == held;
}

/* Fetches when due, then settles when to fetch next. */
static void refresh(apr_pool_t *p, server_rec *s, const ao2_http_opts_t *o,
                    entry_t *e, apr_int64_t now, int keys_only)
{
    slot_t *sl = e->slot;
    last_e last = fetch(p, s, o, e, keys_only);
    /* The back-off counts from the fetch's end: from its start, a fetch
     * that hung longer than the back-off would be due again at once, and
     * the next caller would hang on it again. */
    apr_int64_t end = (apr_int64_t)apr_time_sec(apr_time_now());
    apr_int64_t wait;

    ao2_metrics_refresh(e->pv->index, keys_only ? AO2_MD_JWKS : AO2_MD_METADATA,
                        last == LAST_OK);
    sl->last = last;
    if (keys_only)
        sl->keys_at = now;
    if (last == LAST_OK) {
        sl->failures = 0;
        if (!keys_only) {
            sl->fetched_at = now;
            sl->next_try = now + AO2_DEFAULT_METADATA_REFRESH;
        }
    } else {
        /* 2, 4, 8 ... seconds, at most AO2_DEFAULT_METADATA_BACKOFF. */
        sl->failures++;
        wait = sl->failures >= 9 ? AO2_DEFAULT_METADATA_BACKOFF
                                 : (apr_int64_t)1 << sl->failures;
        if (wait > AO2_DEFAULT_METADATA_BACKOFF)
            wait = AO2_DEFAULT_METADATA_BACKOFF;
        if (!keys_only)
            sl->next_try = end + wait;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "AO2J0008: provider %s: metadata unavailable (%u "
                     "failures); %s",
                     e->pv->name, (unsigned)sl->failures,
                     sl->fetched_at ? "the previous copy stays in use"
                                    : "calls that need it fail until then");
    }
    apr_atomic_set32(&sl->claim, 0);
}

/* Another process or thread fetches the first copy: wait for it in one of
 * the waiting places of calls (a gate over its waiting count alone). 0:
 * none free. */
static int first_copy_wait(const ao2_gate_t *calls, slot_t *sl,
                           const ao2_http_opts_t *http)
{
    ao2_gate_t room = {NULL, 0, NULL, 0, 0, NULL, NULL};
    apr_time_t deadline =
        apr_time_now() + apr_time_from_msec(2 * http->total_timeout_ms + 1000);

    if (calls) {
        room.in = calls->waiting;
        room.max = calls->max_waiting;
    }
    if (!ao2_gate_enter(&room))
        return 0;
    while (apr_atomic_read32(&sl->claim) != 0 && apr_time_now() < deadline)
        apr_sleep(apr_time_from_msec(10));
    ao2_gate_leave(&room);
    return 1;
}

/* Holding the claim: fetches inside calls. 0: no place (the claim is given
 * back for the next caller). */
static int capped_refresh(apr_pool_t *p, server_rec *s,
                          const ao2_http_opts_t *http, const ao2_gate_t *calls,
                          entry_t *e, apr_int64_t now, int keys_only)
{
    if (!ao2_gate_enter(calls)) {
        apr_atomic_set32(&e->slot->claim, 0);
        return 0;
    }
    refresh(p, s, http, e, now, keys_only);
    ao2_gate_leave(calls);
    return 1;
}

ao2_err_t *ao2_discovery_get(apr_pool_t *p, server_rec *s,
                             const ao2_http_opts_t *http,
                             const ao2_gate_t *calls, const ao2_provider_t *pv,
                             int refresh_keys, const ao2_provider_meta_t **out)
{
    entry_t *e = find_entry(pv);
    apr_int64_t now = (apr_int64_t)apr_time_sec(apr_time_now());
    ao2_provider_meta_t *fixed;
    snapshot_t *sn;
    slot_t *sl;
    int due, keys_due, busy = 0;

    if (e == NULL) {
        /* Everything configured, nothing to discover, no keys. */
        fixed = apr_pcalloc(p, sizeof(*fixed));
        fixed->provider = *pv;
        *out = fixed;
        return NULL;
    }
    sl = e->slot;
    /* next_try is 0 before the first fetch; after a failure it holds the
     * back-off, with or without a previous copy. */
    due = now >= sl->next_try;
    keys_due = refresh_keys && sl->fetched_at != 0 &&
               now - sl->keys_at >= AO2_DEFAULT_JWKS_MIN_REFETCH;
    if (due || keys_due) {
        if (claim(sl, now, http))
            /* A scheduled refresh without a slot keeps the copy it has;
             * the keys a token asks for, or a first copy, cannot wait. */
            busy = !capped_refresh(p, s, http, calls, e, now, !due) &&
                   (sl->fetched_at == 0 || refresh_keys);
        else if (sl->fetched_at == 0)
            busy = !first_copy_wait(calls, sl, http);
    }
    if (busy)
        return ao2_err_make(p, 503, "temporarily_unavailable",
                            "too many provider calls at once");
    sn = snapshot_acquire(p, e, s);
    if (sn == NULL)
        return ao2_err_make(
            p, sl->last == LAST_TIMEOUT ? 504 : 502, "temporarily_unavailable",
            "the provider's metadata (discovery, JWKS) cannot be had now");
    *out = &sn->meta;
    return NULL;
}
