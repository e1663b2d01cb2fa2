#include "ao2_keyfilter.h"

#include <string.h>

/* Four bit positions per key, by double hashing of one 64-bit hash: at one
 * key per 16 bits that leaves under 0.3% of unknown keys "maybe" (and a
 * "maybe" only costs the lookup it would have cost anyway). */
#define PROBES   4
#define MIN_BITS 1024u

struct ao2_keyfilter {
    apr_uint64_t seed;
    apr_uint32_t mask; /* bits - 1 */
    apr_uint32_t words[];
};

apr_size_t ao2_keyfilter_size(apr_uint32_t bits)
{
    return sizeof(ao2_keyfilter_t) + (apr_size_t)(bits / 32) * 4;
}

apr_status_t ao2_keyfilter_init(ao2_keyfilter_t **f, void *mem, apr_size_t size,
                                apr_uint32_t bits, apr_uint64_t seed)
{
    ao2_keyfilter_t *kf = mem;

    if (bits < MIN_BITS || (bits & (bits - 1)) != 0 ||
        size < ao2_keyfilter_size(bits))
        return APR_EINVAL;
    memset(mem, 0, ao2_keyfilter_size(bits));
    kf->seed = seed;
    kf->mask = bits - 1;
    *f = kf;
    return APR_SUCCESS;
}

/* FNV-1a over the seed and the key, then a 64-bit finaliser (splitmix64):
 * well spread, cheap, and not predictable without the seed. */
static apr_uint64_t hash(apr_uint64_t seed, const char *key, apr_size_t len)
{
    apr_uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

void ao2_keyfilter_add(ao2_keyfilter_t *f, const char *key, apr_size_t len)
{
    apr_uint64_t h = hash(f->seed, key, len);
    apr_uint32_t a = (apr_uint32_t)h, b = (apr_uint32_t)(h >> 32) | 1;
    int i;

    for (i = 0; i < PROBES; i++) {
        apr_uint32_t bit = (a + (apr_uint32_t)i * b) & f->mask;
        __atomic_fetch_or(&f->words[bit / 32], 1u << (bit % 32),
                          __ATOMIC_SEQ_CST);
    }
}

int ao2_keyfilter_maybe(const ao2_keyfilter_t *f, const char *key,
                        apr_size_t len)
{
    apr_uint64_t h = hash(f->seed, key, len);
    apr_uint32_t a = (apr_uint32_t)h, b = (apr_uint32_t)(h >> 32) | 1;
    int i;

    for (i = 0; i < PROBES; i++) {
        apr_uint32_t bit = (a + (apr_uint32_t)i * b) & f->mask;
        if (!(__atomic_load_n(&f->words[bit / 32], __ATOMIC_SEQ_CST) &
              (1u << (bit % 32))))
            return 0;
    }
    return 1;
}
