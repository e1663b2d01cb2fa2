/* A Bloom filter of the keys a node-local store holds, in shared memory:
 * "certainly absent" answers a lookup of an unknown key (a made-up Bearer
 * token, the bulk of a flood) without the store's global mutex or a file
 * open. Keys are only added (a removed key stays "maybe"); every process
 * sets bits with atomic ORs and reads without a lock. */
#ifndef AO2_KEYFILTER_H
#define AO2_KEYFILTER_H

#include <apr.h>
#include <apr_errno.h>

typedef struct ao2_keyfilter ao2_keyfilter_t;

/* Bytes of memory for a filter of `bits` bits (a power of two, at least
 * 1024) and its header. */
apr_size_t ao2_keyfilter_size(apr_uint32_t bits);
/* Lays a filter out in mem (size from ao2_keyfilter_size); seed makes the
 * bit positions unpredictable from outside. APR_EINVAL for bad sizes. */
apr_status_t ao2_keyfilter_init(ao2_keyfilter_t **f, void *mem, apr_size_t size,
                                apr_uint32_t bits, apr_uint64_t seed);
void ao2_keyfilter_add(ao2_keyfilter_t *f, const char *key, apr_size_t len);
/* 0: the key was never added; 1: it may have been. */
int ao2_keyfilter_maybe(const ao2_keyfilter_t *f, const char *key,
                        apr_size_t len);

#endif
