/* The only libcurl user: form POSTs and GETs to the provider. Handles live in
 * a per-process pool built in child_init; one handle is used by one thread
 * at a time and goes back to the pool with its connection kept alive. */
#ifndef AO2_HTTP_H
#define AO2_HTTP_H

#include <apr_pools.h>

typedef struct ao2_http_opts {
    long connect_timeout_ms; /* <= 0: AO2_DEFAULT_CONNECT_TIMEOUT */
    long total_timeout_ms;   /* <= 0: AO2_DEFAULT_TOTAL_TIMEOUT */
    apr_size_t max_response; /* bytes (0: default); more fails, APR_ENOSPC */
    const char *ca_file;     /* NULL: system CAs; verification always on */
} ao2_http_opts_t;

typedef struct ao2_http_response {
    int status;
    char *body; /* NUL-terminated, len bytes */
    apr_size_t len;
    const char *content_type; /* may be NULL */
    /* A 3xx answer's Location, made absolute (libcurl resolves it against
     * the request URL); NULL otherwise. Never followed here. */
    const char *location;
} ao2_http_response_t;

/* Once per child (pchild); max_handles bounds the idle handles kept. */
apr_status_t ao2_http_child_init(apr_pool_t *pchild, int max_handles);
/* Once per parent in post_config (curl_global_init). */
apr_status_t ao2_http_global_init(apr_pool_t *pconf);

/* method "GET" or "POST". authorization: full header value or NULL.
 * form_body: application/x-www-form-urlencoded body for POST or NULL.
 * Returns APR_SUCCESS when an HTTP answer (any status) arrived,
 * APR_TIMEUP on timeout, APR_ENOSPC when the answer exceeded max_response,
 * APR_ECONNREFUSED / APR_EGENERAL when the provider could not be reached.
 * *why is a short static-ish text for the log (never contains secrets). */
apr_status_t ao2_http_request(apr_pool_t *p, const ao2_http_opts_t *o,
                              const char *method, const char *url,
                              const char *authorization, const char *form_body,
                              ao2_http_response_t *out, const char **why);

#endif
