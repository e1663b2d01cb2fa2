#include "ao2_revlog.h"

#include <apr_strings.h>
#include <string.h>

#include "ao2_cache_table.h"
#include "ao2_defaults.h"
#include "ao2_journal.h"

#define LOG_WARNING 4
#define LOG_INFO    6

#define COUNTER_KEY  "ao2g:generation"
#define ENTRY_PREFIX "ao2r:"
#define TOMB_PREFIX  "ao2t:"
#define TOMB_KEY_LEN (5 + AO2_SHA256_B64URL_LEN)
/* Entries read in one go at most; more behind is a gap (flush), as is a
 * counter that jumped (a memcached restart recreates it much higher). */
#define MAX_BATCH 64
/* Tries of a writer to find a generation nobody has written. */
#define MAX_TRIES 8
/* How long, at most, the checks that arrive while a node reads the log for
 * the first time wait for it (1 ms steps): its floor would make whatever
 * they cache before it a miss for everyone after (no single flight). */
#define FIRST_WAIT_STEPS 500
/* How long a hole in the log may last before it counts as a gap. */
#define HOLE_GRACE apr_time_from_sec(1)

#define LOAD(p)     __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

/* In shared memory, one per node. */
typedef struct rl_state {
    apr_uint64_t seen;  /* highest generation learned; 0: never read */
    apr_uint64_t floor; /* memcached verdicts stamped below: misses */
    apr_uint32_t epoch;
    apr_uint32_t flushed;
    apr_int64_t next_poll;  /* apr_time_t */
    apr_int64_t last_ok;    /* apr_time_t the last good read began */
    apr_uint64_t evictions; /* of the tombstone table, when last looked */
    apr_uint32_t failing;   /* 1 while the log cannot be read (logged once) */
    apr_uint32_t tried;     /* 1 once the node's first read has ended */
    /* The first generation found without its entry, and since when: a
     * writer counts before it writes, and writers on several servers
     * finish in any order, so a hole is a gap only once it has lasted. */
    apr_uint64_t hole;
    apr_int64_t hole_since;
    apr_uint64_t journal_seq;   /* the journal's next record */
    apr_uint32_t journal_fails; /* writes failed since last logged */
    /* 1 while the counter read last could not be trusted (forged): the
     * log is as lost, nothing cached answers (ao2_revlog_view). */
    apr_uint32_t lost;
} __attribute__((aligned(64))) rl_state_t;

struct ao2_revlog {
    rl_state_t *st;
    ao2_cache_table_t *tombs;
    ao2_cache_t *cache;
    const ao2_keys_t *keys;
    apr_interval_time_t interval;
    int journal; /* descriptor (ao2_journal.h), -1: none */
};

typedef enum { LEARNED, ABSENT, BAD } entry_e;

apr_size_t ao2_revlog_size(apr_uint32_t tombstones)
{
    apr_size_t t = ao2_cache_table_size(tombstones);

    return t ? sizeof(rl_state_t) * 2 + t : 0;
}

apr_status_t ao2_revlog_init(ao2_revlog_t **rlp, apr_pool_t *p, void *mem,
                             apr_size_t size, apr_uint32_t tombstones,
                             apr_uint64_t seed, ao2_cache_t *cache,
                             const ao2_keys_t *keys,
                             apr_interval_time_t interval)
{
    ao2_revlog_t *rl;
    rl_state_t *st;
    apr_size_t need = ao2_revlog_size(tombstones);
    apr_status_t rv;

    if (!need || size < need || cache->type->incr == NULL ||
        cache->type->put_new == NULL)
        return APR_EINVAL;
    st = (rl_state_t *)(((apr_uintptr_t)mem + sizeof(rl_state_t) - 1) &
                        ~(apr_uintptr_t)(sizeof(rl_state_t) - 1));
    memset(st, 0, sizeof(*st));
    rl = apr_pcalloc(p, sizeof(*rl));
    rv = ao2_cache_table_init(&rl->tombs, st + 1,
                              size - ((char *)(st + 1) - (char *)mem),
                              tombstones, seed);
    if (rv != APR_SUCCESS)
        return rv;
    rl->st = st;
    rl->cache = cache;
    rl->keys = keys;
    rl->interval = interval;
    rl->journal = -1;
    *rlp = rl;
    return APR_SUCCESS;
}

apr_interval_time_t ao2_revlog_bound(const ao2_revlog_t *rl)
{
    return 2 * rl->interval;
}

static void say(ao2_revlog_log_fn log, void *baton, int level, apr_status_t rv,
                const char *msg)
{
    if (log)
        log(baton, level, rv, msg);
}

static void tomb_key(char *out, const char *hash)
{
    memcpy(out, TOMB_PREFIX, 5);
    memcpy(out + 5, hash, AO2_SHA256_B64URL_LEN);
    out[TOMB_KEY_LEN] = '\0';
}

int ao2_revlog_buried(ao2_revlog_t *rl, const char *hash, apr_int64_t now_sec)
{
    char key[TOMB_KEY_LEN + 1], v[8];
    apr_size_t len = sizeof(v);

    tomb_key(key, hash);
    return ao2_cache_table_get(rl->tombs, key, TOMB_KEY_LEN, v, &len,
                               now_sec) == APR_SUCCESS;
}

static void tomb_set(ao2_revlog_t *rl, const char *hash, apr_int64_t until,
                     apr_int64_t now_sec)
{
    char key[TOMB_KEY_LEN + 1];

    tomb_key(key, hash);
    ao2_cache_table_set(rl->tombs, key, TOMB_KEY_LEN, "1", 1, until, now_sec);
}

/* Into the table and, once per token, the journal: a node reads back at
 * start-up what it learned before, with or without the log's entries. */
static void tomb_add(ao2_revlog_t *rl, const char *hash, apr_int64_t until,
                     apr_int64_t now_sec)
{
    apr_uint64_t seq;

    if (ao2_revlog_buried(rl, hash, now_sec))
        return;
    tomb_set(rl, hash, until, now_sec);
    if (rl->journal < 0)
        return;
    seq = __atomic_fetch_add(&rl->st->journal_seq, 1, __ATOMIC_SEQ_CST);
    if (ao2_journal_write(rl->journal, ao2_cache_table_capacity(rl->tombs),
                          rl->keys, seq, hash, until) != APR_SUCCESS)
        __atomic_add_fetch(&rl->st->journal_fails, 1, __ATOMIC_SEQ_CST);
}

static void say_journal(ao2_revlog_t *rl, ao2_revlog_log_fn log, void *baton)
{
    if (LOAD(&rl->st->journal_fails) &&
        __atomic_exchange_n(&rl->st->journal_fails, 0, __ATOMIC_SEQ_CST))
        say(log, baton, LOG_WARNING, 0,
            "AO2G0005: a tombstone could not be written to the revocation "
            "journal: this node refuses the token until it restarts, and "
            "after a restart as long as the log in memcached names it");
}

typedef struct {
    ao2_revlog_t *rl;
    apr_int64_t now_sec;
    apr_uint32_t read_back;
} journal_load_t;

static void journal_loaded(void *baton, const char *hash, apr_int64_t until)
{
    journal_load_t *jl = baton;

    tomb_set(jl->rl, hash, until, jl->now_sec);
    jl->read_back++;
}

apr_uint32_t ao2_revlog_journal(ao2_revlog_t *rl, int fd, apr_int64_t now_sec)
{
    journal_load_t jl = {rl, now_sec, 0};

    rl->st->journal_seq =
        ao2_journal_load(fd, ao2_cache_table_capacity(rl->tombs), rl->keys,
                         now_sec, journal_loaded, &jl);
    rl->journal = fd;
    return jl.read_back;
}

static apr_size_t entry_key(char *out, apr_uint64_t gen)
{
    return (apr_size_t)apr_snprintf(out, 32, ENTRY_PREFIX "%" APR_UINT64_T_FMT,
                                    gen);
}

/* hash, ' ', until in decimal, then the MAC over the entry's key and all
 * that: an entry cannot be forged, nor moved to another generation. */
static apr_size_t entry_encode(const ao2_revlog_t *rl, const char *key,
                               apr_size_t klen, const char *hash,
                               apr_int64_t until, char *buf)
{
    int n = apr_snprintf(buf, AO2_CACHE_MAX_VALUE, "%.*s %" APR_INT64_T_FMT,
                         AO2_SHA256_B64URL_LEN, hash, until);

    if (ao2_mac(rl->keys, AO2_MAC_REVLOG, key, klen, buf, (apr_size_t)n,
                (unsigned char *)buf + n) != APR_SUCCESS)
        return 0;
    return (apr_size_t)n + AO2_MAC_TAG_LEN;
}

/* Generation gen's entry into the tombstones. */
static entry_e learn(ao2_revlog_t *rl, apr_uint64_t gen, apr_int64_t now_sec)
{
    char key[32], buf[AO2_CACHE_MAX_VALUE + 1];
    apr_size_t klen = entry_key(key, gen), len = AO2_CACHE_MAX_VALUE, i;
    apr_int64_t until = 0;

    if (rl->cache->type->get(rl->cache, key, klen, buf, &len) != APR_SUCCESS)
        return ABSENT;
    if (len > AO2_CACHE_MAX_VALUE ||
        len < AO2_SHA256_B64URL_LEN + 2 + AO2_MAC_TAG_LEN ||
        !ao2_mac_verify(rl->keys, AO2_MAC_REVLOG, key, klen, buf,
                        len - AO2_MAC_TAG_LEN,
                        (unsigned char *)buf + len - AO2_MAC_TAG_LEN) ||
        buf[AO2_SHA256_B64URL_LEN] != ' ')
        return BAD;
    for (i = AO2_SHA256_B64URL_LEN + 1; i < len - AO2_MAC_TAG_LEN; i++) {
        if (buf[i] < '0' || buf[i] > '9' || until > APR_INT64_MAX / 10 - 1)
            return BAD;
        until = until * 10 + (buf[i] - '0');
    }
    if (until > now_sec)
        tomb_add(rl, buf, until, now_sec);
    return LEARNED;
}

/* A counter starts at the time in microseconds and grows by one per revoke,
 * far slower than the clock: one further ahead of this node's clock than
 * any skew between servers is no counter's, but forged (or wrapped past
 * 2^64 - 1 from a forged one). Never believed, it cannot carry a node's
 * generation to where no entry can be written after it. */
static int trusted(apr_uint64_t g, apr_time_t now)
{
    return g <= (apr_uint64_t)now + (apr_uint64_t)AO2_REVLOG_AHEAD;
}

/* Removed, the counter comes back at the time with the next incr: read as
 * a reset, a gap every node recovers from. */
static void counter_drop(ao2_revlog_t *rl)
{
    rl->cache->type->remove(rl->cache, COUNTER_KEY, sizeof(COUNTER_KEY) - 1);
}

static apr_status_t counter_add(ao2_revlog_t *rl, apr_uint64_t delta,
                                apr_time_t now, apr_uint64_t *g)
{
    return rl->cache->type->incr(rl->cache, COUNTER_KEY,
                                 sizeof(COUNTER_KEY) - 1, delta,
                                 (apr_uint64_t)now, g);
}

static void raise_to(apr_uint64_t *p, apr_uint64_t v)
{
    apr_uint64_t cur = LOAD(p);

    while (cur < v && !__atomic_compare_exchange_n(
                          p, &cur, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        ;
}

static apr_uint64_t tomb_evictions(const ao2_revlog_t *rl)
{
    ao2_cache_table_stats_t st;

    ao2_cache_table_stats(rl->tombs, &st);
    return st.evictions;
}

/* At the node's first read: the entries up to gen, newest first, back to
 * AO2_REVLOG_BACKFILL of them or a run of BACKFILL_GONE missing. */
#define BACKFILL_GONE 64

static int backfill(ao2_revlog_t *rl, apr_uint64_t gen, apr_int64_t now_sec)
{
    apr_uint64_t n;
    int learned = 0, gone = 0;

    for (n = gen;
         n > 0 && gen - n < AO2_REVLOG_BACKFILL && gone < BACKFILL_GONE; n--) {
        if (learn(rl, n, now_sec) == LEARNED) {
            learned++;
            gone = 0;
        } else {
            gone++;
        }
    }
    return learned;
}

/* Writes hash's entry (until 0: a mark, nothing buried) at the next free
 * generation, *at; APR_EGENERAL when no free one was found in MAX_TRIES. */
static apr_status_t write_entry(ao2_revlog_t *rl, const char *hash,
                                apr_int64_t until, int ttl, apr_time_t now,
                                apr_uint64_t *at)
{
    char key[32], buf[AO2_CACHE_MAX_VALUE];
    apr_size_t klen, len;
    apr_uint64_t g = 0, s;
    apr_status_t rv;
    int tries;

    rv = counter_add(rl, 1, now, &g);
    for (tries = 0; rv == APR_SUCCESS && tries < MAX_TRIES; tries++) {
        if (!trusted(g, now)) {
            counter_drop(rl);
            rv = counter_add(rl, 1, now, &g);
            continue;
        }
        /* A counter put back below what this node learned: past it. */
        s = LOAD(&rl->st->seen);
        if (g <= s) {
            rv = counter_add(rl, s - g + 1, now, &g);
            continue;
        }
        klen = entry_key(key, g);
        len = entry_encode(rl, key, klen, hash, until, buf);
        if (len == 0)
            return APR_EGENERAL;
        rv = rl->cache->type->put_new(rl->cache, key, klen, buf, len, ttl);
        if (rv == APR_SUCCESS)
            *at = g;
        if (rv != APR_EEXIST)
            return rv;
        /* Taken: the counter was put back below an entry. */
        rv = counter_add(rl, 1, now, &g);
    }
    return rv == APR_SUCCESS ? APR_EGENERAL : rv;
}

/* After a write that failed: the counter jumps further than a reader reads
 * in one go, so every node counts a gap at its next read (drops its local
 * copies, and the memcached verdicts made before) instead of answering as
 * if nothing had been revoked. */
static void counter_jump(ao2_revlog_t *rl, apr_time_t now)
{
    apr_uint64_t g;

    counter_add(rl, MAX_BATCH + 1, now, &g);
}

/* A node's first read: an entry that names no token, at a generation
 * above every verdict made before, which becomes the node's floor. g: the
 * counter as read. Falls back to g + 1 as the floor when nothing can be
 * written: the verdicts stamped g then count as misses here, and so do this
 * node's own until it reads a higher counter (one store read per token). */
static apr_uint64_t mark_start(ao2_revlog_t *rl, apr_uint64_t g, apr_time_t now)
{
    unsigned char nonce[AO2_SHA256_LEN];
    char mark[AO2_SHA256_B64URL_LEN + 1];
    apr_uint64_t at = 0;

    if (ao2_random_bytes(nonce, sizeof(nonce)) != APR_SUCCESS)
        return g + 1;
    ao2_digest_b64url_into(nonce, mark);
    if (write_entry(rl, mark, 0, AO2_REVLOG_ENTRY_TTL, now, &at) != APR_SUCCESS)
        return g + 1;
    return at;
}

/* Reads the counter (incr by 0, which also recreates it after a memcached
 * restart) and every entry after the generation learned. */
static void read_log_once(ao2_revlog_t *rl, apr_time_t now,
                          ao2_revlog_log_fn log, void *baton);

/* The counter read cannot be trusted: the log is lost until it can. The
 * local copies are dropped, and meanwhile nothing cached answers (every
 * check reads the store, where the revoke's tombstone is); the counter is
 * removed so that it comes back at the time. The generation learned stays
 * where it was. */
static void lose(ao2_revlog_t *rl, ao2_revlog_log_fn log, void *baton)
{
    rl_state_t *st = rl->st;

    STORE(&st->flushed, __atomic_add_fetch(&st->epoch, 1, __ATOMIC_SEQ_CST));
    counter_drop(rl);
    if (!__atomic_exchange_n(&st->lost, 1, __ATOMIC_SEQ_CST))
        say(log, baton, LOG_WARNING, 0,
            "AO2G0006: the revocation log's counter in memcached is far "
            "ahead of the clock (forged): it is reset; until it reads "
            "right, this node answers no check from a cached verdict");
}

static void read_log(ao2_revlog_t *rl, apr_time_t now, ao2_revlog_log_fn log,
                     void *baton)
{
    read_log_once(rl, now, log, baton);
    STORE(&rl->st->tried, 1);
}

static void read_log_once(ao2_revlog_t *rl, apr_time_t now,
                          ao2_revlog_log_fn log, void *baton)
{
    rl_state_t *st = rl->st;
    apr_int64_t now_sec = apr_time_sec(now);
    apr_uint64_t g, s, n, ev;
    int gap = 0, learned = 0, first, i, was_lost;
    entry_e e;

    if (counter_add(rl, 0, now, &g) != APR_SUCCESS) {
        if (!__atomic_exchange_n(&st->failing, 1, __ATOMIC_SEQ_CST))
            say(log, baton, LOG_WARNING, 0,
                "AO2G0001: the revocation log in memcached cannot be read: "
                "node-local copies of verdicts stop answering and every "
                "check asks memcached or the store until it can");
        return;
    }
    if (__atomic_exchange_n(&st->failing, 0, __ATOMIC_SEQ_CST))
        say(log, baton, LOG_INFO, 0,
            "AO2G0002: the revocation log in memcached reads again");
    if (!trusted(g, now)) {
        lose(rl, log, baton);
        return;
    }
    was_lost = __atomic_exchange_n(&st->lost, 0, __ATOMIC_SEQ_CST);
    s = LOAD(&st->seen);
    first = s == 0;
    if (first) {
        /* The verdicts made before this node started count as misses here,
         * even when the counter was put back to their generation: the
         * node moves it on first. What was revoked before, it reads back
         * as far as the log (and its journal) still hold it. */
        gap = 1;
        g = mark_start(rl, g, now);
        s = g;
        learned += backfill(rl, g - 1, now_sec);
    } else if (g > s) {
        apr_uint64_t hole = 0;

        if (g - s > MAX_BATCH)
            gap = 1;
        /* Every entry there is counts at once, a hole or not. One that is
         * not ours is no writer's unfinished work: a gap at once. */
        for (n = s + 1; !gap && n <= g; n++) {
            e = learn(rl, n, now_sec);
            if (e == LEARNED)
                learned++;
            else if (e == BAD)
                gap = 1;
            else if (!hole)
                hole = n;
        }
        if (gap) {
            /* read on from the counter */
        } else if (hole && LOAD(&st->hole) == hole &&
                   now - LOAD(&st->hole_since) >= HOLE_GRACE) {
            gap = 1; /* evicted, expired, never written, forged: unknown */
        } else if (hole) {
            if (LOAD(&st->hole) != hole) {
                STORE(&st->hole, hole);
                STORE(&st->hole_since, (apr_int64_t)now);
            }
            g = hole - 1; /* read again from there next time */
        }
        s = g;
    } else if (g < s) {
        /* Put back (replayed, wrapped, set) lower than what was learned: a
         * writer that learned less than this node writes after the counter,
         * where this node never reads again. A gap. */
        gap = 1;
    }
    /* The entries after what was learned are read all the same, and the
     * writers never write over one (put_new). */
    for (i = 0; i < MAX_BATCH && learn(rl, s + 1, now_sec) == LEARNED; i++) {
        s++;
        learned++;
    }
    /* Back from a forged counter: what was revoked meanwhile may not have
     * been learned. */
    if (was_lost)
        gap = 1;
    /* A tombstone pushed out of a full table is forgotten: as a gap. */
    ev = tomb_evictions(rl);
    if (ev != LOAD(&st->evictions)) {
        STORE(&st->evictions, ev);
        gap = 1;
    }
    if (gap) {
        raise_to(&st->floor, s);
        if (!first)
            say(log, baton, LOG_INFO, 0,
                "AO2G0003: revocation log entries were lost (memcached "
                "restarted or evicted them, or more than 64 arrived at "
                "once): this node's local copies are dropped and older "
                "memcached verdicts count as misses");
    }
    if (gap || learned) {
        apr_uint32_t epoch =
            __atomic_add_fetch(&st->epoch, 1, __ATOMIC_SEQ_CST);
        if (gap)
            STORE(&st->flushed, epoch);
    }
    /* After the tombstones: a verdict stamped with this generation was made
     * by a check that saw them. */
    raise_to(&st->seen, s);
    STORE(&st->last_ok, (apr_int64_t)now);
    say_journal(rl, log, baton);
}

void ao2_revlog_view(ao2_revlog_t *rl, apr_time_t now, ao2_revlog_log_fn log,
                     void *baton, ao2_revlog_view_t *v)
{
    rl_state_t *st = rl->st;
    apr_int64_t next = LOAD(&st->next_poll), last;
    int i;

    /* One caller per node and interval reads the log; the others go on
     * with what was learned. */
    if ((apr_int64_t)now >= next &&
        __atomic_compare_exchange_n(&st->next_poll, &next,
                                    (apr_int64_t)(now + rl->interval), 0,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        read_log(rl, now, log, baton);
    for (i = 0; i < FIRST_WAIT_STEPS && !LOAD(&st->tried); i++)
        apr_sleep(apr_time_from_msec(1));
    v->epoch = LOAD(&st->epoch);
    v->flushed = LOAD(&st->flushed);
    v->gen = LOAD(&st->seen);
    v->floor = LOAD(&st->floor);
    last = LOAD(&st->last_ok);
    v->fresh = v->gen != 0 && last != 0 &&
               (apr_int64_t)now - last < (apr_int64_t)ao2_revlog_bound(rl);
    if (LOAD(&st->lost)) {
        v->fresh = 0;
        v->floor = APR_UINT64_MAX;
    }
}

void ao2_revlog_bury(ao2_revlog_t *rl, const char *hash, apr_int64_t until,
                     apr_time_t now, ao2_revlog_log_fn log, void *baton)
{
    apr_int64_t now_sec = apr_time_sec(now), ttl = until - now_sec;
    apr_uint64_t at;
    apr_status_t rv;

    if (ttl <= 0)
        return;
    /* Every process of this node, at once. */
    tomb_add(rl, hash, until, now_sec);
    __atomic_add_fetch(&rl->st->epoch, 1, __ATOMIC_SEQ_CST);
    if (ttl > AO2_REVLOG_ENTRY_TTL)
        ttl = AO2_REVLOG_ENTRY_TTL;
    rv = write_entry(rl, hash, until, (int)ttl, now, &at);
    if (rv != APR_SUCCESS) {
        counter_jump(rl, now);
        say(log, baton, LOG_WARNING, rv,
            "AO2G0004: a revoke or refresh could not be written to the "
            "revocation log in memcached: this server refuses the token; "
            "the others count a gap at their next read of the log (local "
            "copies dropped, the store's tombstone answers), or stop "
            "answering from local copies if they cannot read it either");
    }
    say_journal(rl, log, baton);
}
