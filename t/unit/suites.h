/* Every unit-test suite, one line each: AO2_SUITE(x) runs the table
 * ao2_suite_x that t/unit/test_x.c defines. Add a line for a new file. */
AO2_SUITE(crypto)
AO2_SUITE(json)
AO2_SUITE(params)
AO2_SUITE(cache_table)
AO2_SUITE(oauth2)
AO2_SUITE(record)
AO2_SUITE(verdict)
AO2_SUITE(pathcheck)
AO2_SUITE(validate)
AO2_SUITE(jose)
AO2_SUITE(metadata)
AO2_SUITE(keyfilter)
