/* The differential property of ao2_json_parse_flat, shared by
 * t/unit/test_json.c and t/fuzz/fuzz_json_flat.c: whatever the flat reader
 * reads, ao2_json_parse_object reads too, as the same members in the same
 * order with the same values; what it refuses (a duplicate name, the one
 * refusal it leaves to its caller), jansson refuses. */
#ifndef AO2_JSON_FLAT_CHECK_H
#define AO2_JSON_FLAT_CHECK_H

#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "ao2_json.h"

/* Members as either reader gave them, copied: they are only lent. */
typedef struct flat_check_list {
    apr_pool_t *p;
    apr_array_header_t *members;
} flat_check_list_t;

static ao2_json_flat_e flat_check_collect(void *ctx, const ao2_json_member_t *m)
{
    flat_check_list_t *l = ctx;
    ao2_json_member_t *copy;
    int i;

    for (i = 0; i < l->members->nelts; i++) {
        const ao2_json_member_t *o =
            &APR_ARRAY_IDX(l->members, i, ao2_json_member_t);
        if (o->name_len == m->name_len &&
            memcmp(o->name, m->name, m->name_len) == 0) {
            return AO2_JSON_FLAT_INVALID;
        }
    }
    copy = apr_array_push(l->members);
    *copy = *m;
    copy->name = apr_pstrmemdup(l->p, m->name, m->name_len);
    copy->str = m->str ? apr_pstrmemdup(l->p, m->str, m->str_len) : NULL;
    return AO2_JSON_FLAT_OK;
}

static int flat_check_same(const ao2_json_member_t *a,
                           const ao2_json_member_t *b)
{
    if (a->name_len != b->name_len ||
        memcmp(a->name, b->name, a->name_len) != 0 || a->kind != b->kind) {
        return 0;
    }
    if (a->kind == AO2_JSON_STRING) {
        return a->str_len == b->str_len &&
               memcmp(a->str, b->str, a->str_len) == 0;
    }
    return a->kind != AO2_JSON_INTEGER || a->num == b->num;
}

/* NULL when the property holds for text, else what breaks it. *rc (when
 * not NULL) is the flat reader's answer, for tests that want it read. */
static const char *flat_check(apr_pool_t *p, const char *text, apr_size_t len,
                              ao2_json_flat_e *rc)
{
    flat_check_list_t fast = {p,
                              apr_array_make(p, 8, sizeof(ao2_json_member_t))};
    flat_check_list_t slow = {p,
                              apr_array_make(p, 8, sizeof(ao2_json_member_t))};
    ao2_json_flat_e got =
        ao2_json_parse_flat(text, len, flat_check_collect, &fast);
    ao2_json_t *j;
    int i;

    if (rc) {
        *rc = got;
    }
    if (got == AO2_JSON_FLAT_UNHANDLED) {
        return NULL;
    }
    j = ao2_json_parse_object(p, text, len, NULL);
    if (got == AO2_JSON_FLAT_INVALID) {
        return j ? "jansson reads what the flat reader refused" : NULL;
    }
    if (!j) {
        return "jansson refuses what the flat reader read";
    }
    if (ao2_json_members(j, flat_check_collect, &slow) != AO2_JSON_FLAT_OK) {
        return "jansson's members do not list";
    }
    if (fast.members->nelts != slow.members->nelts) {
        return "another number of members";
    }
    for (i = 0; i < fast.members->nelts; i++) {
        if (!flat_check_same(
                &APR_ARRAY_IDX(fast.members, i, ao2_json_member_t),
                &APR_ARRAY_IDX(slow.members, i, ao2_json_member_t))) {
            return "a member differs";
        }
    }
    return NULL;
}

#endif
