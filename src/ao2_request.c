#include "ao2_request.h"

#include <apr_base64.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <string.h>

#include "ao2_crypto.h"
#include "ao2_json.h"
#include "ao2_params.h"

APLOG_USE_MODULE(api_oauth2);

static ao2_err_t *read_body(request_rec *r, apr_off_t max, char **body,
                            apr_size_t *len)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_size_t got = 0;
    char *buf;
    long n;

    *body = NULL;
    *len = 0;
    if (cl && apr_atoi64(cl) > max)
        return ao2_err_make(
            r->pool, HTTP_REQUEST_ENTITY_TOO_LARGE, "invalid_request",
            "the body is larger than %" APR_OFF_T_FMT " bytes", max);
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK)
        return ao2_err_make(r->pool, HTTP_BAD_REQUEST, "invalid_request",
                            "the body cannot be read");
    if (!ap_should_client_block(r))
        return NULL;
    /* One byte more than allowed tells "too large" from "exactly max". */
    buf = apr_palloc(r->pool, (apr_size_t)max + 2);
    while ((n = ap_get_client_block(r, buf + got, (apr_size_t)max + 1 - got)) >
           0) {
        got += (apr_size_t)n;
        if (got > (apr_size_t)max)
            return ao2_err_make(
                r->pool, HTTP_REQUEST_ENTITY_TOO_LARGE, "invalid_request",
                "the body is larger than %" APR_OFF_T_FMT " bytes", max);
    }
    if (n < 0)
        return ao2_err_make(r->pool, HTTP_BAD_REQUEST, "invalid_request",
                            "the body cannot be read");
    buf[got] = '\0';
    *body = buf;
    *len = got;
    return NULL;
}

static int media_type_is(const char *ct, const char *type)
{
    apr_size_t n = strlen(type);

    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, type, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

ao2_err_t *ao2_request_params(request_rec *r, const ao2_dir_conf_t *dc,
                              apr_table_t **params)
{
    apr_table_t *t = apr_table_make(r->pool, 8);
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    ao2_err_t *err;
    char *body;
    apr_size_t len;

    *params = t;
    if (r->args &&
        (err = ao2_params_parse_form(r->pool, r->args, strlen(r->args), t)))
        return err;
    /* The URL lands in access logs, proxies' logs and browser histories:
     * a secret there is a leaked secret (RFC 6749 §2.3.1: body or Basic). */
    if (apr_table_get(t, "client_secret"))
        return ao2_err_make(r->pool, HTTP_BAD_REQUEST, "invalid_request",
                            "client_secret must not be sent in the URL, "
                            "where access logs keep it: send it in the body "
                            "or with HTTP Basic (and replace it: it has been "
                            "exposed)");
    if ((err = read_body(r, dc->max_body, &body, &len)))
        return err;
    if (len == 0)
        return NULL;
    if (ct && media_type_is(ct, "application/json"))
        return ao2_params_parse_json(r->pool, body, len, t);
    if (ct && media_type_is(ct, "application/x-www-form-urlencoded"))
        return ao2_params_parse_form_body(r->pool, body, len, t);
    return ao2_err_make(r->pool, HTTP_UNSUPPORTED_MEDIA_TYPE, "invalid_request",
                        "send application/json or "
                        "application/x-www-form-urlencoded");
}

ao2_err_t *ao2_request_param(request_rec *r, const apr_table_t *params,
                             const char *name, apr_size_t max_len,
                             const char **value)
{
    ao2_err_t *err = NULL;
    const char *v = ao2_params_get(r->pool, params, name, &err);

    if (err)
        return err;
    if (v == NULL || *v == '\0')
        return ao2_err_make(r->pool, HTTP_BAD_REQUEST, "invalid_request",
                            "%s is missing", name);
    if (strlen(v) > max_len)
        return ao2_err_make(r->pool, HTTP_BAD_REQUEST, "invalid_request",
                            "%s is longer than %" APR_SIZE_T_FMT " characters",
                            name, max_len);
    *value = v;
    return NULL;
}

/* RFC 6749 §2.3.1: id and secret are form-encoded inside Basic. */
static int parse_basic(request_rec *r, const char **id, const char **secret)
{
    const char *h = apr_table_get(r->headers_in, "Authorization");
    unsigned char *raw;
    apr_size_t len;
    char *colon;
    const char *b64;

    if (h == NULL || strncasecmp(h, "Basic ", 6) != 0)
        return 0;
    b64 = h + 6;
    while (*b64 == ' ')
        b64++;
    if (strlen(b64) > 2048)
        return -1;
    raw = apr_palloc(r->pool, apr_base64_decode_len(b64) + 1);
    len = (apr_size_t)apr_base64_decode((char *)raw, b64);
    raw[len] = '\0';
    if (memchr(raw, '\0', len) != NULL)
        return -1;
    colon = strchr((char *)raw, ':');
    if (colon == NULL)
        return -1;
    *colon = '\0';
    if (ao2_url_decode((char *)raw, 1) < 0 || ao2_url_decode(colon + 1, 1) < 0)
        return -1;
    *id = (const char *)raw;
    *secret = colon + 1;
    return 1;
}

static ao2_err_t *bad_client(request_rec *r, int challenge, const char *why)
{
    /* RFC 6749 §5.2: a client that tried Basic, or sent no credentials at
     * all, is told the scheme. */
    if (challenge)
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       "Basic realm=\"api_oauth2\"");
    return ao2_err_make(r->pool, HTTP_UNAUTHORIZED, "invalid_client", "%s",
                        why);
}

ao2_err_t *ao2_request_client(request_rec *r, const ao2_dir_conf_t *dc,
                              const apr_table_t *params,
                              const ao2_client_t **client)
{
    const char *basic_id = NULL, *basic_secret = NULL, *id, *secret;
    const ao2_client_t *c;
    ao2_err_t *err = NULL;
    int basic = parse_basic(r, &basic_id, &basic_secret);
    int auth_on = dc->client_auth != 0;

    id = ao2_params_get(r->pool, params, "client_id", &err);
    if (err)
        return err;
    secret = ao2_params_get(r->pool, params, "client_secret", &err);
    if (err)
        return err;
    if (basic < 0)
        return bad_client(r, 1, "malformed Basic credentials");
    if (basic && secret && auth_on)
        return ao2_err_make(r->pool, HTTP_BAD_REQUEST, "invalid_request",
                            "use one client authentication method, not two");
    if (basic) {
        if (id && strcmp(id, basic_id) != 0)
            return ao2_err_make(r->pool, HTTP_BAD_REQUEST, "invalid_request",
                                "client_id differs from the Basic user");
        id = basic_id;
        secret = basic_secret;
    }
    /* Without client authentication a client_id is a plain parameter. */
    if ((id == NULL || *id == '\0') && !auth_on)
        return ao2_err_make(r->pool, HTTP_BAD_REQUEST, "invalid_request",
                            "client_id is missing");
    if (id == NULL || *id == '\0')
        return bad_client(r, 1,
                          "client authentication is required: HTTP Basic "
                          "(client_id:client_secret, each form-encoded) or "
                          "client_id and client_secret in the body");
    c = ao2_dir_find_client(dc, id);
    if (!auth_on) {
        if (c == NULL)
            return bad_client(r, 0, "unknown client");
        *client = c;
        return NULL;
    }
    if (secret == NULL)
        return bad_client(r, 1, "client authentication is required");
    /* An unknown id costs the same comparison as a wrong secret. */
    if (!ao2_ct_equal(secret, strlen(secret), c ? c->client_secret : "-",
                      c ? strlen(c->client_secret) : 1) ||
        c == NULL)
        return bad_client(r, basic > 0, "client authentication failed");
    *client = c;
    return NULL;
}

int ao2_reply_json(request_rec *r, int status, const char *json)
{
    r->status = status;
    ap_set_content_type(r, "application/json");
    /* RFC 6749 §5.1: token answers must not be cached anywhere. */
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Pragma", "no-cache");
    ap_set_content_length(r, (apr_off_t)strlen(json));
    if (!r->header_only)
        ap_rputs(json, r);
    return OK;
}

typedef struct {
    const void *note[AO2_NOTE_N];
} notes_t;

void ao2_request_note_set(request_rec *r, ao2_note_e which, const void *value)
{
    notes_t *n = ap_get_module_config(r->request_config, &api_oauth2_module);

    if (n == NULL) {
        n = apr_pcalloc(r->pool, sizeof(*n));
        ap_set_module_config(r->request_config, &api_oauth2_module, n);
    }
    n->note[which] = value;
}

const void *ao2_request_note(const request_rec *r, ao2_note_e which)
{
    for (; r; r = r->prev ? r->prev : r->main) {
        const notes_t *n =
            ap_get_module_config(r->request_config, &api_oauth2_module);
        if (n && n->note[which])
            return n->note[which];
    }
    return NULL;
}

void ao2_retry_after(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Retry-After",
                   APR_STRINGIFY(AO2_RETRY_AFTER));
}

int ao2_reply_error(request_rec *r, const ao2_err_t *err)
{
    ao2_json_t *j = ao2_json_object(r->pool);

    if (err->retry || err->status == HTTP_SERVICE_UNAVAILABLE)
        ao2_retry_after(r);

    ao2_json_set_str(j, "error", err->code);
    if (err->description)
        ao2_json_set_str(j, "error_description", err->description);
    ap_log_rerror(APLOG_MARK, err->status >= 500 ? APLOG_ERR : APLOG_INFO, 0, r,
                  "AO2R0001: %d %s: %s", err->status, err->code,
                  err->description ? err->description : "");
    return ao2_reply_json(r, err->status, ao2_json_dump(r->pool, j));
}
