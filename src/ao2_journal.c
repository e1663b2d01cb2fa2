#include "ao2_journal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* A record: magic, seq and until little-endian, the hash, a zero byte, then
 * the MAC over the 64 bytes before it, under the journal's own key. The
 * magic kept a record from passing for any other value MACed under the key
 * all kinds shared before, which still reads old records. */
#define MAGIC     "ao2j"
#define MAGIC_LEN 4
#define SEQ_AT    4
#define UNTIL_AT  12
#define HASH_AT   20
#define BODY_LEN  64
#define TAG_AT    BODY_LEN
/* Slots read per pread at start-up. */
#define CHUNK 256

typedef char body_fits[(HASH_AT + AO2_SHA256_B64URL_LEN < BODY_LEN &&
                        TAG_AT + AO2_MAC_TAG_LEN == AO2_JOURNAL_RECORD)
                           ? 1
                           : -1];

static void put_le64(unsigned char *p, apr_uint64_t v)
{
    int i;

    for (i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static apr_uint64_t get_le64(const unsigned char *p)
{
    apr_uint64_t v = 0;
    int i;

    for (i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* 1 when rec is a record this key wrote for slot, its fields in *seq and
 * *until. */
static int sound(const unsigned char *rec, apr_uint32_t slot,
                 apr_uint32_t slots, const ao2_keys_t *k, apr_uint64_t *seq,
                 apr_int64_t *until)
{
    int i;

    if (memcmp(rec, MAGIC, MAGIC_LEN) != 0 || rec[BODY_LEN - 1] != 0)
        return 0;
    for (i = 0; i < AO2_SHA256_B64URL_LEN; i++)
        if (!b64url_char(rec[HASH_AT + i]))
            return 0;
    if (!ao2_mac_verify(k, AO2_MAC_JOURNAL, rec, BODY_LEN, NULL, 0,
                        rec + TAG_AT))
        return 0;
    *seq = get_le64(rec + SEQ_AT);
    *until = (apr_int64_t)get_le64(rec + UNTIL_AT);
    /* Copied to another slot it would survive its own overwriting. */
    return *seq % slots == slot;
}

apr_uint64_t ao2_journal_load(int fd, apr_uint32_t slots, const ao2_keys_t *k,
                              apr_int64_t now_sec, ao2_journal_fn fn,
                              void *baton)
{
    unsigned char buf[CHUNK * AO2_JOURNAL_RECORD];
    char hash[AO2_SHA256_B64URL_LEN + 1];
    apr_uint64_t next = 0, seq;
    apr_int64_t until;
    apr_uint32_t slot = 0, i, n;
    ssize_t got;

    while (slot < slots) {
        n = slots - slot < CHUNK ? slots - slot : CHUNK;
        got = pread(fd, buf, (size_t)n * AO2_JOURNAL_RECORD,
                    (off_t)slot * AO2_JOURNAL_RECORD);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n = (apr_uint32_t)(got / AO2_JOURNAL_RECORD);
        for (i = 0; i < n; i++) {
            if (!sound(buf + (apr_size_t)i * AO2_JOURNAL_RECORD, slot + i,
                       slots, k, &seq, &until))
                continue;
            if (seq >= next)
                next = seq + 1;
            if (until > now_sec) {
                memcpy(hash, buf + (apr_size_t)i * AO2_JOURNAL_RECORD + HASH_AT,
                       AO2_SHA256_B64URL_LEN);
                hash[AO2_SHA256_B64URL_LEN] = '\0';
                fn(baton, hash, until);
            }
        }
        if (n == 0)
            break;
        slot += n;
    }
    return next;
}

apr_status_t ao2_journal_write(int fd, apr_uint32_t slots, const ao2_keys_t *k,
                               apr_uint64_t seq, const char *hash,
                               apr_int64_t until)
{
    unsigned char rec[AO2_JOURNAL_RECORD];
    off_t at = (off_t)(seq % slots) * AO2_JOURNAL_RECORD;
    apr_status_t rv;
    ssize_t put;

    memset(rec, 0, sizeof(rec));
    memcpy(rec, MAGIC, MAGIC_LEN);
    put_le64(rec + SEQ_AT, seq);
    put_le64(rec + UNTIL_AT, (apr_uint64_t)until);
    memcpy(rec + HASH_AT, hash, AO2_SHA256_B64URL_LEN);
    rv = ao2_mac(k, AO2_MAC_JOURNAL, rec, BODY_LEN, NULL, 0, rec + TAG_AT);
    if (rv != APR_SUCCESS)
        return rv;
    do
        put = pwrite(fd, rec, sizeof(rec), at);
    while (put < 0 && errno == EINTR);
    if (put < 0)
        return APR_FROM_OS_ERROR(errno);
    return put == (ssize_t)sizeof(rec) ? APR_SUCCESS : APR_EGENERAL;
}
