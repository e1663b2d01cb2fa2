/* A fixed-size, 16-way set-associative table in one block of memory.
 *
 * Why this shape: the cache is read on every protected request by up to
 * (processes x 32) threads, and most reads hit a few hot tokens. So:
 *
 * - Readers take no lock and write nothing shared. Each set has a sequence
 *   number (a seqlock): even when stable, odd while a writer changes the
 *   set. A reader copies what it wants, then checks that the number did not
 *   move; if it did, it tries again, and after a few tries reports a miss,
 *   which is always allowed. Readers of one hot key thus never bounce a
 *   lock's cache line between cores, and a reader never waits for a
 *   sleeping writer.
 * - Writers (set, add, remove: a miss path, or a revoke) serialise per set on a
 *   process-shared, robust pthread mutex that lives in the set. Robust,
 *   because a child that crashes inside a write must not wedge the set for
 *   every other process: the next writer gets EOWNERDEAD, empties the set
 *   (it may be half-written) and carries on.
 * - Every shared word is read and written with __atomic builtins (relaxed,
 *   ordered by the fences of the seqlock protocol, as in H.-J. Boehm, "Can
 *   seqlocks get along with programming language memory models?", 2012).
 *   On x86 and arm64 they compile to plain loads and stores; they keep the
 *   intended races defined behaviour and ThreadSanitizer quiet.
 *
 * A set's header (sequence, tags, lengths, expiries) sits in its own cache
 * lines, so a lookup compares tags without touching the 576-byte entries,
 * then reads one key line and as many value lines as the value needs.
 *
 * Eviction, within the set: an empty or expired entry first, else the one
 * nearest its expiry. Short-lived negative results therefore leave before
 * longer positive ones, and a flood of made-up tokens evicts mostly itself.
 */
#include "ao2_cache_table.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define WAYS      AO2_CACHE_TABLE_WAYS
#define MAX_KEY   AO2_CACHE_TABLE_MAX_KEY
#define MAX_VALUE AO2_CACHE_TABLE_MAX_VALUE
#define KEY_WORDS (MAX_KEY / 8)
#define VAL_WORDS (MAX_VALUE / 8)
#define LINE      64
/* A writer holds a set for well under a microsecond; a reader that still
 * sees it busy after this many looks reports a miss instead of waiting. */
#define READ_TRIES 64

#define LOAD(p)             __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v)         __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define LOAD_ACQUIRE(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_RELEASE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* GCC's ThreadSanitizer does not model fences and warns about them; every
 * shared word here is accessed atomically, so it misses no race. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#if MAX_KEY % 8 || MAX_VALUE % 8 || MAX_VALUE > 0xffff || MAX_KEY > 0xffff
#error "the table packs keys and values in 8-byte words, lengths in 16 bits"
#endif

typedef struct set {
    apr_uint32_t seq;        /* odd while a writer is in the set */
    apr_uint32_t tag[WAYS];  /* 0: empty; else bits of the key's hash | 1 */
    apr_uint32_t lens[WAYS]; /* key length << 16 | value length */
    apr_int64_t expiry[WAYS];
    pthread_mutex_t lock; /* writers only */
} __attribute__((aligned(LINE))) set_t;

typedef struct entry {
    apr_uint64_t key[KEY_WORDS]; /* zero-padded */
    apr_uint64_t val[VAL_WORDS];
} entry_t;

struct ao2_cache_table {
    apr_uint32_t nsets;
    apr_uint64_t seed;
    /* ao2_cache_table_forgets: read on every request by a connection's
     * memo, moved on a revoke or refresh. */
    apr_uint32_t forgets;
    /* Off the line every reader reads: only writers touch these. */
    apr_uint64_t evictions __attribute__((aligned(LINE)));
    apr_uint64_t repairs;
} __attribute__((aligned(LINE)));

/* Layout: [slack to a line] table, sets[nsets], entries[nsets * WAYS]. */
static set_t *sets_of(const ao2_cache_table_t *t)
{
    return (set_t *)(t + 1);
}

static entry_t *entries_of(const ao2_cache_table_t *t)
{
    return (entry_t *)(sets_of(t) + t->nsets);
}

apr_size_t ao2_cache_table_size(apr_uint32_t entries)
{
    apr_size_t nsets;

    if (entries < AO2_CACHE_TABLE_MIN_ENTRIES ||
        entries > AO2_CACHE_TABLE_MAX_ENTRIES) {
        return 0;
    }
    nsets = (entries + WAYS - 1) / WAYS;
    return LINE + sizeof(ao2_cache_table_t) + nsets * sizeof(set_t) +
           nsets * WAYS * sizeof(entry_t);
}

apr_status_t ao2_cache_table_init(ao2_cache_table_t **tp, void *mem,
                                  apr_size_t size, apr_uint32_t entries,
                                  apr_uint64_t seed)
{
    apr_size_t need = ao2_cache_table_size(entries);
    pthread_mutexattr_t attr;
    ao2_cache_table_t *t;
    set_t *sets;
    apr_uint32_t i;
    int rc;

    if (!need || size < need) {
        return APR_EINVAL;
    }
    t = (ao2_cache_table_t *)(((apr_uintptr_t)mem + LINE - 1) &
                              ~(apr_uintptr_t)(LINE - 1));
    memset(t, 0, need - ((char *)t - (char *)mem));
    t->nsets = (entries + WAYS - 1) / WAYS;
    t->seed = seed;

    if ((rc = pthread_mutexattr_init(&attr)) != 0) {
        return rc;
    }
    if ((rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) ||
        (rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST))) {
        pthread_mutexattr_destroy(&attr);
        return rc;
    }
    sets = sets_of(t);
    for (i = 0; i < t->nsets && !rc; i++) {
        rc = pthread_mutex_init(&sets[i].lock, &attr);
    }
    pthread_mutexattr_destroy(&attr);
    /* No pthread_mutex_destroy, here or anywhere: on Linux it frees
     * nothing, and the segment outlives its creator's view of it (after a
     * graceful restart, old children still use it), where a destroyed
     * mutex would break them. The memory going away is the end of it. */
    if (rc) {
        return rc;
    }
    *tp = t;
    return APR_SUCCESS;
}

apr_uint32_t ao2_cache_table_capacity(const ao2_cache_table_t *t)
{
    return t->nsets * WAYS;
}

apr_uint32_t ao2_cache_table_forgets(ao2_cache_table_t *t, int advance)
{
    return advance ? __atomic_add_fetch(&t->forgets, 1, __ATOMIC_ACQ_REL)
                   : __atomic_load_n(&t->forgets, __ATOMIC_ACQUIRE);
}

void ao2_cache_table_stats(const ao2_cache_table_t *t,
                           ao2_cache_table_stats_t *st)
{
    st->evictions = LOAD(&t->evictions);
    st->repairs = LOAD(&t->repairs);
}

static apr_uint64_t mix(apr_uint64_t h)
{
    h ^= h >> 33;
    h *= APR_UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= APR_UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

/* Seeded so that set placement cannot be predicted from outside. Not a
 * MAC: the worst a guessed seed allows is evicting entries of one set. */
static apr_uint64_t hash(apr_uint64_t seed, const apr_uint64_t *kw,
                         apr_size_t nwords, apr_size_t klen)
{
    apr_uint64_t h = seed ^ (klen * APR_UINT64_C(0x9e3779b97f4a7c15));
    apr_size_t i;

    for (i = 0; i < nwords; i++) {
        h = (h ^ kw[i]) * APR_UINT64_C(0x9e3779b97f4a7c15);
        h ^= h >> 29;
    }
    return mix(h);
}

/* A key, loaded once into zero-padded words, and where it lives. */
typedef struct lookup {
    apr_uint64_t kw[KEY_WORDS];
    apr_size_t nwords;
    apr_uint32_t lens; /* klen << 16, value length to be or-ed in */
    apr_uint32_t tag;
    set_t *set;
    entry_t *entries; /* the set's first */
} lookup_t;

static apr_status_t prepare(const ao2_cache_table_t *t, const char *key,
                            apr_size_t klen, lookup_t *lk)
{
    apr_uint64_t h;
    apr_uint32_t s;

    if (!key || klen == 0 || klen > MAX_KEY) {
        return APR_EINVAL;
    }
    lk->nwords = (klen + 7) / 8;
    lk->kw[lk->nwords - 1] = 0;
    memcpy(lk->kw, key, klen);
    lk->lens = (apr_uint32_t)klen << 16;
    h = hash(t->seed, lk->kw, lk->nwords, klen);
    lk->tag = (apr_uint32_t)h | 1;
    /* Multiply-shift maps the high half onto [0, nsets) without a
     * division and without asking nsets to be a power of two. */
    s = (apr_uint32_t)(((h >> 32) * t->nsets) >> 32);
    lk->set = sets_of(t) + s;
    lk->entries = entries_of(t) + (apr_size_t)s * WAYS;
    return APR_SUCCESS;
}

apr_uint32_t ao2_cache_table_set_index(const ao2_cache_table_t *t,
                                       const char *key, apr_size_t klen)
{
    lookup_t lk;

    if (prepare(t, key, klen, &lk) != APR_SUCCESS) {
        return 0;
    }
    return (apr_uint32_t)(lk.set - sets_of(t));
}

/* The way that holds the key, or -1. Readers call it between two looks at
 * the sequence; writers under the lock. */
static int find(const lookup_t *lk)
{
    const set_t *set = lk->set;
    int w;
    apr_size_t i;

    for (w = 0; w < WAYS; w++) {
        if (LOAD(&set->tag[w]) != lk->tag ||
            (LOAD(&set->lens[w]) & 0xffff0000u) != lk->lens) {
            continue;
        }
        for (i = 0; i < lk->nwords; i++) {
            if (LOAD(&lk->entries[w].key[i]) != lk->kw[i]) {
                break;
            }
        }
        if (i == lk->nwords) {
            return w;
        }
    }
    return -1;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

apr_status_t ao2_cache_table_get(ao2_cache_table_t *t, const char *key,
                                 apr_size_t klen, char *buf, apr_size_t *len,
                                 apr_int64_t now)
{
    lookup_t lk;
    apr_status_t rv;
    int tries;

    if ((rv = prepare(t, key, klen, &lk)) != APR_SUCCESS) {
        return rv;
    }
    for (tries = 0; tries < READ_TRIES; tries++) {
        apr_uint32_t seq = LOAD_ACQUIRE(&lk.set->seq);
        apr_size_t vlen, n, i;
        const entry_t *e;
        int w, live;

        if (seq & 1) {
            cpu_relax();
            continue;
        }
        /* A torn read can only produce a miss or a value that the check
         * below throws away, and a miss needs no such check. */
        if ((w = find(&lk)) < 0) {
            return APR_NOTFOUND;
        }
        e = &lk.entries[w];
        live = LOAD(&lk.set->expiry[w]) > now;
        vlen = LOAD(&lk.set->lens[w]) & 0xffff;
        if (live) {
            /* vlen may be torn too: never copy past either buffer. */
            n = vlen < *len ? vlen : *len;
            n = n < MAX_VALUE ? n : MAX_VALUE;
            for (i = 0; i < n; i += 8) {
                apr_uint64_t word = LOAD(&e->val[i / 8]);
                memcpy(buf + i, &word, n - i < 8 ? n - i : 8);
            }
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (LOAD(&lk.set->seq) != seq) {
            continue;
        }
        if (!live) {
            return APR_NOTFOUND;
        }
        *len = vlen;
        return APR_SUCCESS;
    }
    return APR_NOTFOUND;
}

/* A writer's window: readers that overlap it retry. */
static void write_begin(set_t *set)
{
    apr_uint32_t seq = LOAD(&set->seq);

    /* Still odd if a writer died in the set: readers must keep away. */
    STORE(&set->seq, seq | 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(set_t *set)
{
    STORE_RELEASE(&set->seq, LOAD(&set->seq) + 1);
}

static void clear_way(set_t *set, int w)
{
    STORE(&set->tag[w], 0);
    STORE(&set->lens[w], 0);
    STORE(&set->expiry[w], 0);
}

static apr_status_t lock_set(ao2_cache_table_t *t, set_t *set)
{
    int rc = pthread_mutex_lock(&set->lock);
    int w;

    if (rc == EOWNERDEAD) {
        /* Its holder died, perhaps halfway through a write: nothing in the
         * set can be trusted, and a cache may forget. */
        write_begin(set);
        for (w = 0; w < WAYS; w++) {
            clear_way(set, w);
        }
        write_end(set);
        __atomic_fetch_add(&t->repairs, 1, __ATOMIC_RELAXED);
        rc = pthread_mutex_consistent(&set->lock);
    }
    return rc;
}

static void unlock_set(set_t *set)
{
    pthread_mutex_unlock(&set->lock);
}

/* Under the lock. */
static void remove_locked(lookup_t *lk)
{
    int w = find(lk);

    if (w >= 0) {
        write_begin(lk->set);
        clear_way(lk->set, w);
        write_end(lk->set);
    }
}

/* Under the lock: where a new key goes. */
static int victim(ao2_cache_table_t *t, set_t *set, apr_int64_t now)
{
    apr_int64_t nearest = 0, e;
    int w, best = 0;

    for (w = 0; w < WAYS; w++) {
        if (LOAD(&set->tag[w]) == 0 || (e = LOAD(&set->expiry[w])) <= now) {
            return w;
        }
        if (w == 0 || e < nearest) {
            nearest = e;
            best = w;
        }
    }
    __atomic_fetch_add(&t->evictions, 1, __ATOMIC_RELAXED);
    return best;
}

/* Under the lock, into way w. */
static void store(lookup_t *lk, int w, const char *val, apr_size_t len,
                  apr_int64_t expiry)
{
    entry_t *e = &lk->entries[w];
    apr_size_t i;

    write_begin(lk->set);
    for (i = 0; i < lk->nwords; i++) {
        STORE(&e->key[i], lk->kw[i]);
    }
    for (i = 0; i < len; i += 8) {
        apr_uint64_t word = 0;
        memcpy(&word, val + i, len - i < 8 ? len - i : 8);
        STORE(&e->val[i / 8], word);
    }
    STORE(&lk->set->lens[w], lk->lens | (apr_uint32_t)len);
    STORE(&lk->set->expiry[w], expiry);
    STORE(&lk->set->tag[w], lk->tag);
    write_end(lk->set);
}

apr_status_t ao2_cache_table_set(ao2_cache_table_t *t, const char *key,
                                 apr_size_t klen, const char *val,
                                 apr_size_t len, apr_int64_t expiry,
                                 apr_int64_t now)
{
    lookup_t lk;
    apr_status_t rv;
    int w;

    if ((rv = prepare(t, key, klen, &lk)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = lock_set(t, lk.set)) != APR_SUCCESS) {
        return rv;
    }
    if (len > MAX_VALUE || expiry <= now) {
        remove_locked(&lk);
        rv = len > MAX_VALUE ? APR_ENOSPC : APR_SUCCESS;
    } else {
        if ((w = find(&lk)) < 0) {
            w = victim(t, lk.set, now);
        }
        store(&lk, w, val, len, expiry);
    }
    unlock_set(lk.set);
    return rv;
}

apr_status_t ao2_cache_table_add(ao2_cache_table_t *t, const char *key,
                                 apr_size_t klen, const char *val,
                                 apr_size_t len, apr_int64_t expiry,
                                 apr_int64_t now)
{
    lookup_t lk;
    apr_status_t rv;
    int w;

    if ((rv = prepare(t, key, klen, &lk)) != APR_SUCCESS) {
        return rv;
    }
    if (len > MAX_VALUE) {
        return APR_ENOSPC;
    }
    if (expiry <= now) {
        return APR_EINVAL;
    }
    if ((rv = lock_set(t, lk.set)) != APR_SUCCESS) {
        return rv;
    }
    if ((w = find(&lk)) >= 0 && LOAD(&lk.set->expiry[w]) > now) {
        rv = APR_EEXIST;
    } else {
        if (w < 0) {
            w = victim(t, lk.set, now);
        }
        store(&lk, w, val, len, expiry);
    }
    unlock_set(lk.set);
    return rv;
}

apr_status_t ao2_cache_table_remove(ao2_cache_table_t *t, const char *key,
                                    apr_size_t klen)
{
    lookup_t lk;
    apr_status_t rv;

    if ((rv = prepare(t, key, klen, &lk)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = lock_set(t, lk.set)) != APR_SUCCESS) {
        return rv;
    }
    remove_locked(&lk);
    unlock_set(lk.set);
    return APR_SUCCESS;
}
