/* What every table accepted by ao2_params_parse_form or _json must satisfy,
 * and what every refusal must look like. */
#ifndef AO2_FUZZ_PARAMS_H
#define AO2_FUZZ_PARAMS_H

#include <string.h>

#include <apr_tables.h>

#include "ao2_params.h"
#include "fuzz.h"

static void ao2_fuzz_check_params(apr_pool_t *p, const ao2_err_t *err,
                                  const apr_table_t *t)
{
    const apr_array_header_t *elts = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)elts->elts;
    int i;

    if (err) {
        AO2_FUZZ_ASSERT(err->status == 400);
        AO2_FUZZ_ASSERT(strcmp(err->code, "invalid_request") == 0);
        AO2_FUZZ_ASSERT(elts->nelts == 0);
        return;
    }
    AO2_FUZZ_ASSERT(elts->nelts <= AO2_PARAMS_MAX_FIELDS);
    for (i = 0; i < elts->nelts; i++) {
        const char *s[2] = {e[i].key, e[i].val};
        ao2_err_t *get_err;
        int k;

        AO2_FUZZ_ASSERT(e[i].key[0] != '\0');
        for (k = 0; k < 2; k++) {
            size_t len = strlen(s[k]), j;
            AO2_FUZZ_ASSERT(len <= AO2_PARAMS_MAX_VALUE);
            for (j = 0; j < len; j++) {
                unsigned char c = (unsigned char)s[k][j];
                AO2_FUZZ_ASSERT(c >= 0x20 && c != 0x7f);
            }
        }
        /* Either one value or a refusal, never a third outcome. */
        AO2_FUZZ_ASSERT((ao2_params_get(p, t, e[i].key, &get_err) != NULL) !=
                        (get_err != NULL));
    }
}

#endif
