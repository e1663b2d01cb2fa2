/* The only jansson user. Every ao2_json_t is owned by the pool it was made
 * in: a cleanup drops the reference, callers never free. */
#ifndef AO2_JSON_H
#define AO2_JSON_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct ao2_json ao2_json_t;

/* Parses exactly one JSON object of at most len bytes (no trailing data).
 * NULL with *why set (static text, no input echoed) when it is not one. */
ao2_json_t *ao2_json_parse_object(apr_pool_t *p, const char *buf,
                                  apr_size_t len, const char **why);
ao2_json_t *ao2_json_object(apr_pool_t *p);

/* A top-level member as ao2_json_parse_flat and ao2_json_members hand it
 * over. Names and strings are not NUL-terminated and hold no NUL byte; they
 * point into the text or the object and are valid only during the call. */
typedef enum {
    AO2_JSON_NULL,
    AO2_JSON_FALSE,
    AO2_JSON_TRUE,
    AO2_JSON_INTEGER,
    AO2_JSON_STRING,
    AO2_JSON_OTHER, /* a real, array or object: ao2_json_members only */
} ao2_json_kind_e;

typedef struct ao2_json_member {
    const char *name;
    apr_size_t name_len;
    ao2_json_kind_e kind;
    const char *str; /* AO2_JSON_STRING */
    apr_size_t str_len;
    apr_int64_t num; /* AO2_JSON_INTEGER */
} ao2_json_member_t;

typedef enum {
    AO2_JSON_FLAT_OK,
    /* Outside what the flat reader knows, or fn said so: the text is for
     * ao2_json_parse_object, which decides. */
    AO2_JSON_FLAT_UNHANDLED,
    AO2_JSON_FLAT_INVALID, /* fn refused a member */
} ao2_json_flat_e;

typedef ao2_json_flat_e (*ao2_json_member_fn)(void *ctx,
                                              const ao2_json_member_t *m);

/* jansson costs tens of thousands of instructions on the few hundred bytes
 * of a store value; this reads them in a few thousand. It reads only a flat
 * object, the whole of buf: members that are strings of printable ASCII
 * without escapes, integers, true, false or null. What it reads is what
 * ao2_json_parse_object would give; anything else is UNHANDLED, never a
 * verdict of its own. fn is called for each member in order, and may have
 * been called for some before UNHANDLED or INVALID: what it gathered is
 * then void. Duplicate names are fn's to refuse. */
ao2_json_flat_e ao2_json_parse_flat(const char *buf, apr_size_t len,
                                    ao2_json_member_fn fn, void *ctx);

/* fn for each top-level member of j, in order, stopping at the first answer
 * that is not AO2_JSON_FLAT_OK (returned). What the tests hold
 * ao2_json_parse_flat to. */
ao2_json_flat_e ao2_json_members(const ao2_json_t *j, ao2_json_member_fn fn,
                                 void *ctx);

/* NULL when absent or not a string. */
const char *ao2_json_str(const ao2_json_t *j, const char *key);
/* 1 when present and an integer (a real with no fraction also counts). */
int ao2_json_int(const ao2_json_t *j, const char *key, apr_int64_t *out);
/* 1 when present and a boolean. */
int ao2_json_bool(const ao2_json_t *j, const char *key, int *out);
int ao2_json_has(const ao2_json_t *j, const char *key);
/* 1 when key is a string equal to value or an array containing it. */
int ao2_json_str_or_array_has(const ao2_json_t *j, const char *key,
                              const char *value);
/* A string under key, or an array of strings (none with a space) joined
 * by spaces; NULL otherwise. */
const char *ao2_json_str_list(apr_pool_t *p, const ao2_json_t *j,
                              const char *key);
/* Number of elements when key is an array, -1 otherwise. */
int ao2_json_array_len(const ao2_json_t *j, const char *key);

/* The elements of the array under key that are objects, as ao2_json_t *
 * owned by p (other elements are skipped); NULL when key is not an array. */
apr_array_header_t *ao2_json_array_objects(apr_pool_t *p, const ao2_json_t *j,
                                           const char *key);

/* Copies the top-level members, all strings, into t. APR_EINVAL (with
 * *bad_key set) on a member of another type: a number or a boolean would
 * pass as the text of a parameter the contract defines as a string. */
apr_status_t ao2_json_to_table(const ao2_json_t *j, apr_table_t *t,
                               const char **bad_key);

void ao2_json_set_str(ao2_json_t *j, const char *key, const char *value);
void ao2_json_set_int(ao2_json_t *j, const char *key, apr_int64_t value);
void ao2_json_set_bool(ao2_json_t *j, const char *key, int value);

/* Compact serialisation, keys in insertion order. */
char *ao2_json_dump(apr_pool_t *p, const ao2_json_t *j);

#endif
