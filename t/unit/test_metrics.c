/* ao2_metrics: the Prometheus text is valid exposition format (every
 * sample line parses, every family has HELP and TYPE before its samples),
 * the counts are the ones recorded, histogram buckets are cumulative,
 * label values are escaped, counts of forked processes add up, and off
 * records nothing. */
#include <regex.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "ao2_metrics.h"
#include "tap.h"

typedef struct text {
    apr_pool_t *p;
    char *s;
} text_t;

static void append(void *baton, const char *s, apr_size_t len)
{
    text_t *t = baton;

    t->s = apr_pstrcat(t->p, t->s, apr_pstrmemdup(t->p, s, len), NULL);
}

static const char *scrape(apr_pool_t *p)
{
    text_t t = {p, ""};

    ao2_metrics_prometheus(p, append, &t);
    return t.s;
}

static int has_line(const char *text, const char *line)
{
    const char *at = text;
    apr_size_t n = strlen(line);

    while ((at = strstr(at, line)) != NULL) {
        if ((at == text || at[-1] == '\n') && at[n] == '\n')
            return 1;
        at += n;
    }
    return 0;
}

/* Each line a HELP, a TYPE or a sample of a family declared before it; the
 * number of the first bad line, or 0. */
static int bad_line(apr_pool_t *p, const char *text)
{
    regex_t sample, help, type;
    char *copy = apr_pstrdup(p, text), *last, *line;
    const char *declared = "";
    regmatch_t m[2];
    int n = 0, bad = 0;

    regcomp(&help, "^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) [^\n]+$", REG_EXTENDED);
    regcomp(&type,
            "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$",
            REG_EXTENDED);
    regcomp(&sample,
            "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([a-zA-Z_][a-zA-Z0-9_]*=\""
            "([^\"\\\\\n]|\\\\[\\\\\"n])*\",?)*\\})? -?[0-9]+(\\.[0-9]+)?$",
            REG_EXTENDED);
    for (line = apr_strtok(copy, "\n", &last); line && !bad;
         line = apr_strtok(NULL, "\n", &last)) {
        n++;
        if (regexec(&help, line, 2, m, 0) == 0)
            declared =
                apr_pstrmemdup(p, line + m[1].rm_so, m[1].rm_eo - m[1].rm_so);
        else if (regexec(&type, line, 2, m, 0) == 0)
            bad =
                strncmp(line + m[1].rm_so, declared, strlen(declared)) ? n : 0;
        else if (regexec(&sample, line, 2, m, 0) == 0)
            /* The family's name, or it with _bucket, _sum or _count. */
            bad = strncmp(line, declared, strlen(declared)) ? n : 0;
        else
            bad = n;
    }
    regfree(&help);
    regfree(&type);
    regfree(&sample);
    return bad;
}

static const char *const providers[] = {"op1", "we\"ird\\op"};

static void test_before_init(apr_pool_t *p)
{
    ao2_metrics_total_t t[AO2_METRICS_TOTALS];

    ao2_metrics_init(p, providers, 2, 0);
    ao2_metrics_bearer(AO2_MB_VALID);
    ok(has_line(scrape(p), "api_oauth2_metrics_enabled 0"),
       "off: the page says so");
    ok(strstr(scrape(p), "bearer") == NULL, "off: no counters");
    is_int(ao2_metrics_totals(t), 0, "off: no totals for server-status");
}

/* What the scrape says after the records of test_counts_and_format. */
static const struct {
    const char *line, *name;
} want[] = {
    {"api_oauth2_metrics_enabled 1", "enabled"},
    {"api_oauth2_bearer_checks_total{outcome=\"valid\"} 3",
     "valid Bearer checks"},
    {"api_oauth2_bearer_checks_total{outcome=\"missing\"} 0",
     "outcomes never seen are 0"},
    {"api_oauth2_cache_lookups_total{tier=\"memcache\","
     "result=\"miss\"} 2",
     "cache misses by tier"},
    {"api_oauth2_cache_errors_total{tier=\"memcache\","
     "op=\"get\"} 1",
     "cache errors by tier"},
    {"api_oauth2_store_errors_total{op=\"get\"} 0",
     "not found is no store error"},
    {"api_oauth2_store_errors_total{op=\"set\"} 1", "store errors"},
    {"api_oauth2_lock_waits_total{lock=\"refresh\","
     "end=\"appeared\"} 1",
     "lock waits"},
    {"api_oauth2_lock_wait_seconds_total{lock=\"refresh\"} "
     "1.500000",
     "lock wait time in seconds"},
    {"api_oauth2_provider_calls_total{provider=\"op1\","
     "endpoint=\"token\",result=\"rejected\"} 1",
     "a 4xx is rejected"},
    {"api_oauth2_provider_calls_total{provider=\"op1\","
     "endpoint=\"token\",result=\"error\"} 1",
     "no answer is an error"},
    {"api_oauth2_provider_call_duration_seconds_bucket{provider="
     "\"op1\",endpoint=\"token\",le=\"0.005\"} 1",
     "first bucket"},
    {"api_oauth2_provider_call_duration_seconds_bucket{provider="
     "\"op1\",endpoint=\"token\",le=\"0.05\"} 2",
     "buckets are cumulative"},
    {"api_oauth2_provider_call_duration_seconds_bucket{provider="
     "\"op1\",endpoint=\"token\",le=\"10\"} 2",
     "12 s is above the last bound"},
    {"api_oauth2_provider_call_duration_seconds_bucket{provider="
     "\"op1\",endpoint=\"token\",le=\"+Inf\"} 3",
     "+Inf holds every call"},
    {"api_oauth2_provider_call_duration_seconds_sum{provider="
     "\"op1\",endpoint=\"token\"} 12.033000",
     "sum in seconds"},
    {"api_oauth2_provider_call_duration_seconds_count{provider="
     "\"op1\",endpoint=\"token\"} 3",
     "count"},
    {"api_oauth2_provider_calls_total{provider="
     "\"we\\\"ird\\\\op\",endpoint=\"jwks\",result=\"ok\"} 1",
     "label values escaped"},
    {"api_oauth2_metadata_refreshes_total{provider="
     "\"we\\\"ird\\\\op\",document=\"jwks\",result=\"failed\"} "
     "1",
     "metadata refreshes"},
};

static void test_counts_and_format(apr_pool_t *p)
{
    const char *text;
    apr_size_t i;
    int n;

    is_int(ao2_metrics_init(p, providers, 2, 1), APR_SUCCESS, "init");
    for (n = 0; n < 3; n++)
        ao2_metrics_bearer(AO2_MB_VALID);
    ao2_metrics_bearer(AO2_MB_INVALID);
    ao2_metrics_cache(AO2_MT_MEMCACHE, AO2_MC_HIT);
    ao2_metrics_cache(AO2_MT_MEMCACHE, AO2_MC_MISS);
    ao2_metrics_cache(AO2_MT_MEMCACHE, AO2_MC_MISS);
    ao2_metrics_cache_error(AO2_MT_MEMCACHE, AO2_MO_GET);
    ao2_metrics_store(AO2_MO_GET, APR_NOTFOUND);
    ao2_metrics_store(AO2_MO_SET, APR_EGENERAL);
    ao2_metrics_lock_wait(AO2_ML_REFRESH, AO2_MW_APPEARED, 1500000);
    ao2_metrics_provider_call(0, AO2_ME_TOKEN, APR_SUCCESS, 200, 3000);
    ao2_metrics_provider_call(0, AO2_ME_TOKEN, APR_SUCCESS, 400, 30000);
    ao2_metrics_provider_call(0, AO2_ME_TOKEN, APR_TIMEUP, 0, 12000000);
    ao2_metrics_provider_call(1, AO2_ME_JWKS, APR_SUCCESS, 200, 5000);
    ao2_metrics_provider_call(2, AO2_ME_JWKS, APR_SUCCESS, 200, 5000);
    ao2_metrics_refresh(1, AO2_MD_METADATA, 1);
    ao2_metrics_refresh(1, AO2_MD_JWKS, 0);
    text = scrape(p);
    is_int(bad_line(p, text), 0, "every line is HELP, TYPE or a sample");
    is_int(bad_line(p, "# HELP x a\n# TYPE x counter\nx{a=\"b} 1\n"), 3,
           "the check finds an unclosed label");
    is_int(bad_line(p, "# HELP x a\n# TYPE x counter\ny 1\n"), 3,
           "the check finds a sample of an undeclared family");
    for (i = 0; i < AO2_COUNT(want); i++)
        ok(has_line(text, want[i].line), "%s", want[i].name);
    ok(!strstr(text, "endpoint=\"refresh\""),
       "endpoints never called have no series");
    ok(strstr(text, "provider=\"2\"") == NULL && !strstr(text, "(null)"),
       "a provider out of range is ignored");
}

static void test_totals(apr_pool_t *p)
{
    ao2_metrics_total_t t[AO2_METRICS_TOTALS];

    ao2_metrics_init(p, providers, 2, 1);
    ao2_metrics_bearer(AO2_MB_VALID);
    ao2_metrics_bearer(AO2_MB_MISSING);
    ao2_metrics_provider_call(1, AO2_ME_USERINFO, APR_EGENERAL, 0, 10);
    is_int(ao2_metrics_totals(t), AO2_METRICS_TOTALS, "all totals");
    is_str(t[0].name, "BearerChecks", "first total");
    is_int(t[0].value, 2, "Bearer checks of all outcomes");
    is_int(t[2].value, 1, "refused counts the missing token");
    is_int(t[7].value, 1, "provider calls");
    is_int(t[8].value, 1, "provider errors");
}

/* As httpd does it: the parent makes the table, forked children record
 * at once, any process reads the sum. */
static void test_processes_add_up(apr_pool_t *p)
{
    pid_t kids[4];
    int i, status;

    ao2_metrics_init(p, providers, 2, 1);
    for (i = 0; i < 4; i++) {
        if ((kids[i] = fork()) == 0) {
            int j;
            for (j = 0; j < 10000; j++)
                ao2_metrics_bearer(AO2_MB_VALID);
            _exit(0);
        }
    }
    for (i = 0; i < 4; i++)
        waitpid(kids[i], &status, 0);
    ok(has_line(scrape(p),
                "api_oauth2_bearer_checks_total{outcome=\"valid\"} 40000"),
       "4 processes x 10000 checks add up");
}

const ao2_test_case_t ao2_suite_metrics[] = {
    {"before init and off", test_before_init},
    {"counts and format", test_counts_and_format},
    {"totals", test_totals},
    {"processes add up", test_processes_add_up},
    {NULL, NULL},
};
