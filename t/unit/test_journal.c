/* ao2_journal: the revocation journal's ring of records on a temporary
 * file, and what reading it back skips. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ao2_journal.h"
#include "tap.h"

#define NOW   1000000
#define SLOTS 8
#define REC   AO2_JOURNAL_RECORD

typedef struct {
    int n;
    char hashes[4 * SLOTS][AO2_SHA256_B64URL_LEN + 1];
    apr_int64_t until[4 * SLOTS];
} seen_t;

static void collect(void *baton, const char *hash, apr_int64_t until)
{
    seen_t *s = baton;

    if (s->n < 4 * SLOTS) {
        memcpy(s->hashes[s->n], hash, AO2_SHA256_B64URL_LEN + 1);
        s->until[s->n] = until;
    }
    s->n++;
}

/* A distinct base64url hash per i. */
static const char *hash_of(int i, char *buf)
{
    int k;

    for (k = 0; k < AO2_SHA256_B64URL_LEN; k++)
        buf[k] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                [(i * 7 + k) % 64];
    buf[AO2_SHA256_B64URL_LEN] = '\0';
    return buf;
}

static int temp_file(void)
{
    char path[] = "/tmp/ao2-unit-journal-XXXXXX";
    int fd = mkstemp(path);

    if (fd >= 0)
        unlink(path);
    return fd;
}

static void keys(ao2_keys_t *k, unsigned char fill)
{
    unsigned char master[32];

    memset(master, fill, sizeof(master));
    ao2_keys_derive(k, master, sizeof(master));
}

static void round_trip(apr_pool_t *p)
{
    ao2_keys_t k;
    char h[AO2_SHA256_B64URL_LEN + 1];
    seen_t s = {0};
    int fd = temp_file();

    (void)p;
    keys(&k, 1);
    ok(fd >= 0, "a temporary file");
    is_int((long long)ao2_journal_load(fd, SLOTS, &k, NOW, collect, &s), 0,
           "empty file: next sequence 0");
    is_int(s.n, 0, "nothing read back");
    ok(ao2_journal_write(fd, SLOTS, &k, 0, hash_of(0, h), NOW + 60) ==
           APR_SUCCESS,
       "record 0 written");
    ok(ao2_journal_write(fd, SLOTS, &k, 1, hash_of(1, h), NOW - 1) ==
           APR_SUCCESS,
       "record 1 written (already expired)");
    ok(ao2_journal_write(fd, SLOTS, &k, 2, hash_of(2, h), NOW + 600) ==
           APR_SUCCESS,
       "record 2 written");
    is_int(lseek(fd, 0, SEEK_END), 3 * REC, "three records long");
    is_int((long long)ao2_journal_load(fd, SLOTS, &k, NOW, collect, &s), 3,
           "next sequence: one past the highest");
    is_int(s.n, 2, "the expired one is not read back");
    is_str(s.hashes[0], hash_of(0, h), "record 0's hash");
    is_int(s.until[0], NOW + 60, "and its until");
    is_str(s.hashes[1], hash_of(2, h), "record 2's hash");
    close(fd);
}

/* A journal written by the release before, when every kind of MAC was
 * made under the one v1 key: read back after the upgrade, or the
 * tombstones it holds would be forgotten at the first restart. */
static void written_before(apr_pool_t *p)
{
    ao2_keys_t k, before;
    char h[AO2_SHA256_B64URL_LEN + 1];
    seen_t s = {0};
    int fd = temp_file();

    (void)p;
    keys(&k, 1);
    before = k;
    memcpy(before.mac[AO2_MAC_JOURNAL], k.mac_v1, sizeof(k.mac_v1));
    ao2_journal_write(fd, SLOTS, &before, 0, hash_of(0, h), NOW + 60);
    is_int((long long)ao2_journal_load(fd, SLOTS, &k, NOW, collect, &s), 1,
           "a record of the release before counts");
    is_str(s.n == 1 ? s.hashes[0] : "", hash_of(0, h), "and is read back");
    close(fd);
}

static void ring(apr_pool_t *p)
{
    ao2_keys_t k;
    char h[AO2_SHA256_B64URL_LEN + 1];
    seen_t s = {0};
    int fd = temp_file(), i;

    (void)p;
    keys(&k, 1);
    for (i = 0; i < 3 * SLOTS + 2; i++)
        ao2_journal_write(fd, SLOTS, &k, (apr_uint64_t)i, hash_of(i, h),
                          NOW + 60);
    is_int(lseek(fd, 0, SEEK_END), SLOTS * REC, "never longer than its slots");
    is_int((long long)ao2_journal_load(fd, SLOTS, &k, NOW, collect, &s),
           3 * SLOTS + 2, "next sequence after wrapping");
    is_int(s.n, SLOTS, "the newest SLOTS records read back");
    is_str(s.hashes[0], hash_of(3 * SLOTS, h),
           "slot 0 holds the newest record written there");
    close(fd);
}

static void skipped(apr_pool_t *p)
{
    ao2_keys_t k, other;
    char h[AO2_SHA256_B64URL_LEN + 1];
    unsigned char rec[REC];
    seen_t s = {0};
    int fd = temp_file(), i;

    (void)p;
    keys(&k, 1);
    keys(&other, 2);
    for (i = 0; i < 4; i++)
        ao2_journal_write(fd, SLOTS, &k, (apr_uint64_t)i, hash_of(i, h),
                          NOW + 60);
    /* 0: one bit flipped in its hash. */
    pread(fd, rec, REC, 0);
    rec[30] ^= 1;
    pwrite(fd, rec, REC, 0);
    /* 1: written under another key. */
    ao2_journal_write(fd, SLOTS, &other, 1, hash_of(1, h), NOW + 60);
    /* 2: a copy of record 3 (moved to another slot). */
    pread(fd, rec, REC, 3 * REC);
    pwrite(fd, rec, REC, 2 * REC);
    /* 5: torn, half a record at the end of the file. */
    pwrite(fd, rec, REC / 2, 5 * REC);
    is_int((long long)ao2_journal_load(fd, SLOTS, &k, NOW, collect, &s), 4,
           "next sequence from the sound records only");
    is_int(s.n, 1, "only record 3 read back");
    is_str(s.hashes[0], hash_of(3, h), "record 3");
    close(fd);
}

const ao2_test_case_t ao2_suite_journal[] = {
    {"write and read back", round_trip},
    {"written by the release before", written_before},
    {"a ring of slots", ring},
    {"forged, flipped, moved, torn records are skipped", skipped},
    {NULL, NULL},
};
