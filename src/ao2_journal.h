/* The tombstones a node has learned (ao2_revlog.h), kept in a file so that
 * a restart (graceful or full) does not forget them. Without it a restarted
 * node knows only what the revocation log in memcached still holds, and a
 * neighbour who deleted the log's entries could make it believe an old
 * index entry or verdict written back there.
 *
 * The file is a ring of fixed-size records, one slot per sequence number
 * modulo the number of slots: written with pwrite at a slot nobody else
 * writes at the same time (the caller hands out sequence numbers
 * atomically), never grown beyond slots x AO2_JOURNAL_RECORD bytes, never
 * compacted, no lock. Each record is MACed under ApiOAuth2StoreKey's MAC
 * key together with its sequence number, so a torn, forged or moved record
 * is skipped when read. The descriptor is opened once before the children
 * fork and inherited. Pure: no httpd; unit-tested on a temporary file. */
#ifndef AO2_JOURNAL_H
#define AO2_JOURNAL_H

#include <apr.h>
#include <apr_errno.h>

#include "ao2_crypto.h"

#define AO2_JOURNAL_RECORD 80

/* Called for each sound record whose until is after now_sec. */
typedef void (*ao2_journal_fn)(void *baton, const char *hash,
                               apr_int64_t until);

/* Reads every slot of fd (a file of up to slots records) and calls fn for
 * the live tombstones. Returns the sequence number to write next: one past
 * the highest sound record's (0 in an empty file). */
apr_uint64_t ao2_journal_load(int fd, apr_uint32_t slots, const ao2_keys_t *k,
                              apr_int64_t now_sec, ao2_journal_fn fn,
                              void *baton);

/* Writes the record of seq: hash (AO2_SHA256_B64URL_LEN characters) buried
 * until until. */
apr_status_t ao2_journal_write(int fd, apr_uint32_t slots, const ao2_keys_t *k,
                               apr_uint64_t seq, const char *hash,
                               apr_int64_t until);

#endif
