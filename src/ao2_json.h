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

/* Copies the top-level members into t: strings as they are, integers and
 * booleans in decimal/"true"/"false". APR_EINVAL (with *bad_key set) on a
 * member that is an object, array, null or real. */
apr_status_t ao2_json_to_table(const ao2_json_t *j, apr_table_t *t,
                               const char **bad_key);

void ao2_json_set_str(ao2_json_t *j, const char *key, const char *value);
void ao2_json_set_int(ao2_json_t *j, const char *key, apr_int64_t value);
void ao2_json_set_bool(ao2_json_t *j, const char *key, int value);

/* Compact serialisation, keys in insertion order. */
char *ao2_json_dump(apr_pool_t *p, const ao2_json_t *j);

#endif
