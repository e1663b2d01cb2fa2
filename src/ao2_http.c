/* HTTP client on libcurl. Nothing here logs: callers know which provider and
 * which step failed, and they alone decide what is safe to write down. */
#include "ao2_http.h"
#include "ao2_defaults.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include <curl/curl.h>

#include <string.h>
#include <strings.h>

#define FIRST_CHUNK 4096

/* Idle easy handles of this process. Each keeps its own connection cache
 * across curl_easy_reset, so returning handles here is what keeps
 * connections to the provider alive between requests. */
typedef struct handle_pool {
#if APR_HAS_THREADS
    apr_thread_mutex_t *lock;
#endif
    CURL **idle;
    int n_idle;
    int max_idle;
} handle_pool_t;

/* Set once in child_init, before any worker thread runs; NULL in the parent,
 * where a request (e.g. discovery in post_config) uses a throw-away handle. */
static handle_pool_t *handles;
static int global_inited;

static apr_status_t global_cleanup(void *data)
{
    /* libcurl counts init/cleanup pairs, so other curl users in the process
     * (mod_md) are not affected. */
    curl_global_cleanup();
    global_inited = 0;
    return APR_SUCCESS;
}

apr_status_t ao2_http_global_init(apr_pool_t *pconf)
{
    /* post_config runs twice at start-up: one init per pconf lifetime. */
    if (global_inited) {
        return APR_SUCCESS;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return APR_EGENERAL;
    }
    global_inited = 1;
    apr_pool_cleanup_register(pconf, NULL, global_cleanup,
                              apr_pool_cleanup_null);
    return APR_SUCCESS;
}

static apr_status_t handles_cleanup(void *data)
{
    handle_pool_t *hp = data;
    int i;

    /* pchild goes away after the worker threads have been joined. */
    for (i = 0; i < hp->n_idle; i++) {
        curl_easy_cleanup(hp->idle[i]);
    }
    hp->n_idle = 0;
    handles = NULL;
    return APR_SUCCESS;
}

apr_status_t ao2_http_child_init(apr_pool_t *pchild, int max_handles)
{
    handle_pool_t *hp = apr_pcalloc(pchild, sizeof(*hp));

    if (max_handles < 1) {
        max_handles = 1;
    }
#if APR_HAS_THREADS
    {
        apr_status_t rv = apr_thread_mutex_create(
            &hp->lock, APR_THREAD_MUTEX_DEFAULT, pchild);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
#endif
    hp->max_idle = max_handles;
    hp->idle = apr_pcalloc(pchild, sizeof(CURL *) * (apr_size_t)max_handles);
    apr_pool_cleanup_register(pchild, hp, handles_cleanup,
                              apr_pool_cleanup_null);
    handles = hp;
    return APR_SUCCESS;
}

static CURL *handle_get(void)
{
    handle_pool_t *hp = handles;
    CURL *h = NULL;

    if (hp) {
#if APR_HAS_THREADS
        apr_thread_mutex_lock(hp->lock);
#endif
        if (hp->n_idle > 0) {
            h = hp->idle[--hp->n_idle];
        }
#if APR_HAS_THREADS
        apr_thread_mutex_unlock(hp->lock);
#endif
    }
    /* Created outside the lock: curl_easy_init allocates and may be slow. */
    return h ? h : curl_easy_init();
}

static void handle_put(CURL *h)
{
    handle_pool_t *hp = handles;

    /* Forget this request's options (the Authorization header among them)
     * but keep live connections, DNS and TLS session caches. */
    curl_easy_reset(h);
    if (hp) {
#if APR_HAS_THREADS
        apr_thread_mutex_lock(hp->lock);
#endif
        if (hp->n_idle < hp->max_idle) {
            hp->idle[hp->n_idle++] = h;
            h = NULL;
        }
#if APR_HAS_THREADS
        apr_thread_mutex_unlock(hp->lock);
#endif
    }
    if (h) {
        curl_easy_cleanup(h);
    }
}

typedef struct body_ctx {
    apr_pool_t *p;
    char *buf;
    apr_size_t len;
    apr_size_t cap; /* bytes usable, a NUL always fits after them */
    apr_size_t max;
    int overflow;
} body_ctx_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    body_ctx_t *b = userdata;
    apr_size_t n = size * nmemb;

    if (n > b->max - b->len) {
        b->overflow = 1;
        return 0; /* anything but n aborts the transfer */
    }
    if (b->len + n > b->cap) {
        /* Doubling keeps the pool's dead copies to about the final size. */
        apr_size_t cap = b->cap ? b->cap : FIRST_CHUNK;
        char *nbuf;

        while (cap < b->len + n) {
            cap *= 2;
        }
        if (cap > b->max) {
            cap = b->max;
        }
        nbuf = apr_palloc(b->p, cap + 1);
        if (b->len) {
            memcpy(nbuf, b->buf, b->len);
        }
        b->buf = nbuf;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    return n;
}

static int has_crlf(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

static apr_status_t map_curl_error(CURLcode rc, const body_ctx_t *b)
{
    if (b->overflow || rc == CURLE_FILESIZE_EXCEEDED) {
        return APR_ENOSPC;
    }
    switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
            return APR_TIMEUP;
        case CURLE_COULDNT_CONNECT:
            return APR_ECONNREFUSED;
        default:
            return APR_EGENERAL;
    }
}

/* Everything a request sets; a failure here is a libcurl build without the
 * feature (e.g. no TLS), reported like any other transfer error. */
static CURLcode set_options(CURL *h, const ao2_http_opts_t *o,
                            const char *method, const char *url,
                            const char *form_body, struct curl_slist *hdrs,
                            body_ctx_t *b)
{
    CURLcode rc = CURLE_OK;
    long connect_ms = o && o->connect_timeout_ms > 0
                          ? o->connect_timeout_ms
                          : AO2_DEFAULT_CONNECT_TIMEOUT;
    long total_ms = o && o->total_timeout_ms > 0 ? o->total_timeout_ms
                                                 : AO2_DEFAULT_TOTAL_TIMEOUT;

#define SET(opt, val)                                                          \
    do {                                                                       \
        if (rc == CURLE_OK) {                                                  \
            rc = curl_easy_setopt(h, opt, val);                                \
        }                                                                      \
    } while (0)

    SET(CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* A redirect from a token endpoint is never legitimate, and following
     * one could carry the client credentials elsewhere. */
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    /* Worker threads: no SIGALRM-based DNS timeouts. */
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SET(CURLOPT_TIMEOUT_MS, total_ms);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (o && o->ca_file) {
        SET(CURLOPT_CAINFO, o->ca_file);
    }
    SET(CURLOPT_USERAGENT, "mod_api_oauth2");
    SET(CURLOPT_HTTPHEADER, hdrs);
    /* Refuses early when the Content-Length already says too much; the
     * write callback catches chunked answers. */
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b->max);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, b);
    if (!strcmp(method, "POST")) {
        const char *body = form_body ? form_body : "";
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDS, body);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else {
        SET(CURLOPT_HTTPGET, 1L);
    }
#undef SET
    return rc;
}

apr_status_t ao2_http_request(apr_pool_t *p, const ao2_http_opts_t *o,
                              const char *method, const char *url,
                              const char *authorization, const char *form_body,
                              ao2_http_response_t *out, const char **why)
{
    struct curl_slist *hdrs = NULL, *h1;
    body_ctx_t b;
    CURL *h;
    CURLcode rc;
    long status = 0;
    char *ctype = NULL, *loc = NULL;
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    *why = NULL;

    if (!method || (strcmp(method, "GET") && strcmp(method, "POST"))) {
        *why = "unsupported HTTP method";
        return APR_EINVAL;
    }
    if (!url ||
        (strncasecmp(url, "https://", 8) && strncasecmp(url, "http://", 7))) {
        *why = "URL is not http or https";
        return APR_EINVAL;
    }
    /* A line break would let a value smuggle headers into the request. */
    if (has_crlf(url) || has_crlf(authorization)) {
        *why = "line break in URL or header";
        return APR_EINVAL;
    }

    memset(&b, 0, sizeof(b));
    b.p = p;
    b.max =
        o && o->max_response > 0 ? o->max_response : AO2_DEFAULT_MAX_RESPONSE;

    h1 = curl_slist_append(NULL, "Accept: application/json");
    hdrs = h1;
    /* curl would otherwise wait up to a second for 100-continue on large
     * bodies. */
    if (hdrs) {
        hdrs = curl_slist_append(hdrs, "Expect:");
    }
    if (hdrs && form_body && !strcmp(method, "POST")) {
        hdrs = curl_slist_append(
            hdrs, "Content-Type: application/x-www-form-urlencoded");
    }
    if (hdrs && authorization) {
        hdrs = curl_slist_append(
            hdrs, apr_pstrcat(p, "Authorization: ", authorization, NULL));
    }
    if (!hdrs) {
        curl_slist_free_all(h1);
        *why = "out of memory";
        return APR_ENOMEM;
    }

    h = handle_get();
    if (!h) {
        curl_slist_free_all(hdrs);
        *why = "cannot create a curl handle";
        return APR_ENOMEM;
    }

    rc = set_options(h, o, method, url, form_body, hdrs, &b);
    if (rc == CURLE_OK) {
        rc = curl_easy_perform(h);
    }
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        /* Owned by the handle until its next use: copy before handing the
         * handle back. */
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
        out->content_type = ctype ? apr_pstrdup(p, ctype) : NULL;
        if (status >= 300 && status < 400 &&
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK &&
            loc) {
            out->location = apr_pstrdup(p, loc);
        }
        rv = APR_SUCCESS;
    } else {
        /* Static text without the URL, so safe for the log. */
        *why = curl_easy_strerror(rc);
        if (b.overflow || rc == CURLE_FILESIZE_EXCEEDED) {
            *why = "response too large";
        }
        rv = map_curl_error(rc, &b);
    }
    handle_put(h);
    curl_slist_free_all(hdrs);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    out->status = (int)status;
    out->len = b.len;
    out->body = b.buf ? b.buf : apr_palloc(p, 1);
    out->body[out->len] = '\0';
    return APR_SUCCESS;
}
