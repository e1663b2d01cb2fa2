#include "ao2_endpoints.h"

#include <apr_strings.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <ap_listen.h>
#include <string.h>

#include "ao2_bearer.h"
#include "ao2_crypto.h"
#include "ao2_discovery.h"
#include "ao2_gate.h"
#include "ao2_http.h"
#include "ao2_json.h"
#include "ao2_lock.h"
#include "ao2_metrics.h"
#include "ao2_oauth2.h"
#include "ao2_record.h"
#include "ao2_request.h"

APLOG_USE_MODULE(api_oauth2);

#define AO2_MAX_IDENTITY 256
#define AO2_MAX_CODE     4096
#define AO2_MAX_STATE    256

/* What every endpoint needs about the request it serves. */
typedef struct endpoint_ctx {
    request_rec *r;
    const ao2_dir_conf_t *dc;
    const ao2_server_conf_t *sc;
    ao2_global_t *g;
    apr_table_t *params;
} endpoint_ctx_t;

int ao2_endpoint_match(const request_rec *r, const ao2_dir_conf_t *dc,
                       const char **rest)
{
    apr_size_t n;
    const char *s;

    if (dc->api != 1 || dc->api_path == NULL || r->uri == NULL)
        return 0;
    n = strlen(dc->api_path);
    if (strncmp(r->uri, dc->api_path, n) != 0)
        return 0;
    s = r->uri + n;
    if (strncmp(s, "/oauth2", 7) != 0 || (s[7] != '\0' && s[7] != '/'))
        return 0;
    *rest = s[7] ? s + 8 : "";
    return 1;
}

static apr_int64_t now_sec(void)
{
    return (apr_int64_t)apr_time_sec(apr_time_now());
}

static ao2_err_t *unavailable(endpoint_ctx_t *cx, apr_status_t rv,
                              const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, cx->r,
                  "AO2E0001: token store: cannot %s; the client gets 503, "
                  "an AO2S line before says why",
                  what);
    return ao2_err_make(cx->r->pool, HTTP_SERVICE_UNAVAILABLE,
                        "temporarily_unavailable", "the token store cannot %s",
                        what);
}

static ao2_err_t *load_record(endpoint_ctx_t *cx, const char *key,
                              ao2_record_t *rec)
{
    char *val;
    apr_size_t len;
    apr_status_t rv = ao2_store_get(cx->g->store, cx->r->server, key,
                                    cx->r->pool, &val, &len);

    if (APR_STATUS_IS_NOTFOUND(rv))
        return ao2_err_make(cx->r->pool, HTTP_NOT_FOUND, "not_found",
                            "no tokens are stored for this "
                            "client_user_identity");
    if (rv != APR_SUCCESS)
        return unavailable(cx, rv, "read a record");
    rv = ao2_record_decode(cx->r->pool, &cx->g->keys, key, val, len, rec);
    if (rv != APR_SUCCESS) {
        /* Written under another ApiOAuth2StoreKey, an older format or forged:
         * unusable, so the client authorizes again. */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, cx->r,
                      "AO2E0008: a token record does not open; treated as "
                      "absent");
        return ao2_err_make(cx->r->pool, HTTP_NOT_FOUND, "not_found",
                            "no usable tokens are stored for this "
                            "client_user_identity");
    }
    return NULL;
}

/* Whether the record came from the provider the client is configured with
 * now: its name and its identity (issuer, else token endpoint) when the
 * record names one. Otherwise the record's refresh token must not go to
 * the provider configured now (another server), nor its tokens be used:
 * logged, with what is done instead. */
static int same_provider(endpoint_ctx_t *cx, const ao2_client_t *c,
                         const ao2_record_t *rec, const char *instead)
{
    const char *now_id = ao2_provider_identity(c->provider);

    if (!strcmp(rec->provider, c->provider->name) &&
        (rec->provider_id == NULL || !strcmp(rec->provider_id, now_id)))
        return 1;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, cx->r,
                  "AO2E0011: the tokens of client %s for login %s came from "
                  "provider %s (%s), the client is now configured with "
                  "provider %s (%s): %s",
                  c->client_id, rec->login ? rec->login : "-", rec->provider,
                  rec->provider_id ? rec->provider_id : "identity not kept",
                  c->provider->name, now_id, instead);
    return 0;
}

static ao2_err_t *other_provider(apr_pool_t *p)
{
    return ao2_err_make(p, HTTP_BAD_REQUEST, "invalid_grant",
                        "the stored authorization is from another provider "
                        "than the one configured now; authorize again");
}

/* An access token that was refreshed away or revoked here keeps an index
 * entry that says so until it would have expired: the Bearer check then
 * refuses it without asking the provider, which may still call it active.
 * A tombstone that could not be written is the caller's to report: the
 * token would still be accepted. */
static apr_status_t bury_token(endpoint_ctx_t *cx, const char *token,
                               apr_int64_t until, int cluster)
{
    apr_pool_t *p = cx->r->pool;
    ao2_index_t ix = {"-",  NULL, NULL, NULL, until, 1,
                      NULL, NULL, NULL, NULL, 0};
    const char *ikey = ao2_index_key(p, token);
    apr_size_t len;
    char *val = ao2_index_encode(p, &cx->g->keys, ikey, &ix, &len);
    apr_status_t rv;

    if (val == NULL)
        rv = APR_EGENERAL;
    else if (until > now_sec())
        rv = ao2_store_set(cx->g->store, cx->r->server, ikey, val, len,
                           apr_time_from_sec(until), p);
    else
        rv = ao2_store_remove(cx->g->store, cx->r->server, ikey, p);
    ao2_bearer_forget(cx->r, token, until, cluster);
    return rv;
}

static apr_status_t bury_access_token(endpoint_ctx_t *cx,
                                      const ao2_record_t *old)
{
    return bury_token(
        cx, old->access_token,
        ao2_tombstone_until(old->expires_at, now_sec(), cx->sc->record_ttl), 1);
}

/* The record outlives its access token: the refresh token may still work. */
static ao2_err_t *save_record(endpoint_ctx_t *cx, const char *key,
                              const ao2_record_t *rec, const ao2_record_t *old)
{
    apr_pool_t *p = cx->r->pool;
    apr_int64_t keep = now_sec() + cx->sc->record_ttl;
    ao2_index_t ix = {key,
                      rec->login,
                      rec->db,
                      rec->scope,
                      rec->expires_at,
                      0,
                      rec->provider,
                      rec->client_id,
                      rec->provider_id,
                      rec->login_claim,
                      rec->email_verified};
    const char *ikey;
    apr_size_t len;
    char *val;
    apr_status_t rv;

    if (rec->expires_at > keep)
        keep = rec->expires_at;
    val = ao2_record_encode(p, &cx->g->keys, key, rec, &len);
    if (val == NULL || len > AO2_STORE_MAX_VALUE)
        return unavailable(cx, APR_ENOSPC, "hold a record this large");
    rv = ao2_store_set(cx->g->store, cx->r->server, key, val, len,
                       apr_time_from_sec(keep), p);
    if (rv != APR_SUCCESS)
        return unavailable(cx, rv, "write a record");
    ikey = ao2_index_key(p, rec->access_token);
    val = ao2_index_encode(p, &cx->g->keys, ikey, &ix, &len);
    if (val == NULL)
        return unavailable(cx, APR_EGENERAL, "seal an index entry");
    rv = ao2_store_set(cx->g->store, cx->r->server, ikey, val, len,
                       apr_time_from_sec(rec->expires_at), p);
    if (rv != APR_SUCCESS)
        return unavailable(cx, rv, "write an index entry");
    if (old && old->access_token &&
        strcmp(old->access_token, rec->access_token) != 0 &&
        bury_access_token(cx, old) != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, cx->r,
                      "AO2E0014: the refreshed-away access token's tombstone "
                      "could not be written (an AO2S line before says why): "
                      "other servers may accept it until it expires");
    /* A refresh token is never a Bearer credential, whatever a provider's
     * introspection says of it. */
    if (rec->refresh_token &&
        (old == NULL || old->refresh_token == NULL ||
         strcmp(old->refresh_token, rec->refresh_token) != 0))
        bury_token(cx, rec->refresh_token, keep, 0);
    /* Nor is an ID token, whatever its aud says. */
    if (rec->id_token && (old == NULL || old->id_token == NULL ||
                          strcmp(old->id_token, rec->id_token) != 0))
        bury_token(cx, rec->id_token, keep, 0);
    return NULL;
}

/* This process's gates of provider pv (ao2_config.h); NULL before
 * post_config made them. */
static ao2_provider_gates_t *gates_of(const endpoint_ctx_t *cx,
                                      const ao2_provider_t *pv)
{
    if (cx->g->provider_gates == NULL || pv->index < 0 ||
        pv->index >= cx->g->providers->nelts)
        return NULL;
    return &cx->g->provider_gates[pv->index];
}

/* Calls to one provider in flight in this process, the same cap and
 * waiting room as the Bearer check's (ao2_gate.h): a provider that hangs
 * holds that many threads, the rest answer 503 at once. */
static ao2_err_t *call_slot(endpoint_ctx_t *cx, const ao2_provider_t *pv,
                            const char *what, ao2_gate_t *gate)
{
    ao2_provider_gates_t *pg = gates_of(cx, pv);

    memset(gate, 0, sizeof(*gate));
    if (pg == NULL)
        return NULL;
    *gate =
        ao2_gate_provider_calls(&pg->calls, &pg->call_waiters, &pg->call_ended);
    if (ao2_gate_enter(gate))
        return NULL;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, cx->r,
                  "AO2E0012: provider %s endpoint: too many calls to provider "
                  "%s at once; the client gets 503 with Retry-After",
                  what, pv->name);
    return ao2_err_make(cx->r->pool, HTTP_SERVICE_UNAVAILABLE,
                        "temporarily_unavailable",
                        "too many calls to the provider are in flight; try "
                        "again shortly");
}

/* what names the endpoint to the client and in the log; endpoint and pv
 * file the call in the metrics. */
static ao2_err_t *call_provider(endpoint_ctx_t *cx, const ao2_provider_t *pv,
                                ao2_metric_endpoint_e endpoint,
                                const char *what, const char *url,
                                const char *authorization, const char *form,
                                ao2_http_response_t *resp)
{
    const char *why = "";
    apr_time_t start;
    apr_status_t rv;
    ao2_gate_t gate;
    ao2_err_t *busy = call_slot(cx, pv, what, &gate);

    if (busy)
        return busy;
    start = apr_time_now();
    rv = ao2_http_request(cx->r->pool, &cx->sc->http, form ? "POST" : "GET",
                          url, authorization, form, resp, &why);
    ao2_gate_leave(&gate);
    ao2_metrics_provider_call(pv->index, endpoint, rv,
                              rv == APR_SUCCESS ? resp->status : 0,
                              apr_time_now() - start);
    if (rv == APR_SUCCESS)
        return NULL;
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, cx->r,
                  "AO2E0002: provider %s endpoint: %s; the client gets "
                  "502/504 and the stored record is kept: check the "
                  "provider and ApiOAuth2ProviderTimeout",
                  what, why);
    if (rv == APR_TIMEUP)
        return ao2_err_make(cx->r->pool, HTTP_GATEWAY_TIME_OUT,
                            "temporarily_unavailable",
                            "the provider's %s endpoint did not answer in "
                            "time",
                            what);
    if (rv == APR_ENOSPC)
        return ao2_err_make(
            cx->r->pool, HTTP_BAD_GATEWAY, "invalid_provider_response",
            "the provider's %s endpoint answered too much", what);
    return ao2_err_make(cx->r->pool, HTTP_BAD_GATEWAY,
                        "temporarily_unavailable",
                        "the provider's %s endpoint cannot be reached", what);
}

/* The client as this request uses it: its provider with the discovered
 * endpoints (configured ones win) and keys. */
static ao2_err_t *resolve(endpoint_ctx_t *cx, const ao2_client_t *c,
                          int refresh_keys, ao2_client_t **out,
                          const ao2_provider_meta_t **meta)
{
    ao2_client_t *rc;
    ao2_err_t *err =
        ao2_discovery_get(cx->r->pool, cx->r->server, &cx->sc->http, NULL,
                          c->provider, refresh_keys, meta);

    if (err)
        return err;
    rc = apr_palloc(cx->r->pool, sizeof(*rc));
    *rc = *c;
    rc->provider = &(*meta)->provider;
    *out = rc;
    return NULL;
}

/* OIDC Core §3.1.3.7 with the provider's JWKS; a kid the keys do not have
 * (the provider rotated) fetches the JWKS again, once. */
static ao2_err_t *verify_id_token(endpoint_ctx_t *cx, ao2_client_t **c,
                                  const ao2_provider_meta_t **meta,
                                  const char *id_token, const char *nonce,
                                  ao2_json_t **claims)
{
    apr_pool_t *p = cx->r->pool;
    ao2_jws_result_e jws;
    ao2_err_t *err;

    if ((*meta)->jwks == NULL)
        return ao2_err_make(p, HTTP_BAD_GATEWAY, "invalid_id_token",
                            "the provider sent an ID token but publishes no "
                            "keys to check it (configure issuer= or jwks=)");
    err = ao2_verify_id_token(p, id_token, *c, (*meta)->jwks, nonce,
                              apr_time_now(), claims, &jws);
    if (err && jws == AO2_JWS_UNKNOWN_KID) {
        ao2_err_t *again = resolve(cx, *c, 1, c, meta);
        if (again)
            return again;
        if ((*meta)->jwks)
            err = ao2_verify_id_token(p, id_token, *c, (*meta)->jwks, nonce,
                                      apr_time_now(), claims, &jws);
    }
    if (err)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, cx->r,
                      "AO2J0009: ID token from provider %s refused: %s",
                      (*c)->provider->name, err->description);
    return err;
}

/* The login from the ID token, else from userinfo (asked with the new
 * access token), else the one already on record (refresh without ID token). */
static ao2_err_t *find_login(endpoint_ctx_t *cx, const ao2_client_t *c,
                             const ao2_json_t *id_claims, ao2_record_t *rec)
{
    const char *claim = cx->dc->login_claim;
    apr_pool_t *p = cx->r->pool;
    int verify = cx->dc->email_verified, unverified = 0;
    const char *login =
        ao2_claim_login_checked(p, id_claims, claim, verify, &unverified);
    const ao2_json_t *from = id_claims;
    ao2_http_response_t resp;
    ao2_json_t *info;
    ao2_err_t *err;
    const char *why;

    if (login == NULL && rec->login == NULL && c->provider->userinfo_url) {
        err = call_provider(cx, c->provider, AO2_ME_USERINFO, "userinfo",
                            c->provider->userinfo_url,
                            apr_pstrcat(p, "Bearer ", rec->access_token, NULL),
                            NULL, &resp);
        if (err)
            return err;
        if (resp.status != 200)
            return ao2_provider_error(p, resp.status, resp.body, resp.len);
        info = ao2_json_parse_object(p, resp.body, resp.len, &why);
        if (info == NULL)
            return ao2_err_make(p, HTTP_BAD_GATEWAY,
                                "invalid_provider_response",
                                "userinfo is not a JSON object");
        /* OIDC Core §5.3.2: userinfo must describe the ID token's user. */
        if (id_claims && ao2_json_str(id_claims, "sub") &&
            (ao2_json_str(info, "sub") == NULL ||
             strcmp(ao2_json_str(info, "sub"), ao2_json_str(id_claims, "sub"))))
            return ao2_err_make(p, HTTP_BAD_GATEWAY,
                                "invalid_provider_response",
                                "userinfo describes another subject");
        login = ao2_claim_login_checked(p, info, claim, verify, &unverified);
        from = info;
    }
    if (login) {
        /* Where it came from, for the Bearer check of other locations
         * with the same client: their login policy may be stricter. */
        rec->login = login;
        rec->login_claim = claim;
        rec->email_verified =
            !strcmp(claim, "email") && ao2_email_verified(from);
    } else if (unverified && rec->login == NULL)
        return ao2_err_make(p, HTTP_FORBIDDEN, "access_denied",
                            "the provider has not verified this user's email "
                            "(ApiOAuth2EmailVerified)");
    if (rec->login == NULL)
        return ao2_err_make(p, HTTP_BAD_GATEWAY, "invalid_provider_response",
                            "the provider gave no usable \"%s\" claim", claim);
    return NULL;
}

/* Turns a token endpoint answer into the record; nonce only on callback. */
static ao2_err_t *apply_tokens(endpoint_ctx_t *cx, ao2_client_t *c,
                               const ao2_provider_meta_t *meta,
                               const ao2_http_response_t *resp,
                               const char *nonce, ao2_record_t *rec)
{
    apr_pool_t *p = cx->r->pool;
    ao2_token_response_t tr;
    ao2_json_t *claims = NULL;
    apr_int64_t now = now_sec();
    ao2_err_t *err;

    err = ao2_parse_token_response(p, resp->status, resp->body, resp->len, &tr);
    if (err)
        return err;
    if (strcasecmp(tr.token_type, "Bearer") != 0)
        return ao2_err_make(p, HTTP_BAD_GATEWAY, "invalid_provider_response",
                            "the provider issued a non-Bearer token");
    if (tr.id_token &&
        (err = verify_id_token(cx, &c, &meta, tr.id_token, nonce, &claims)))
        return err;
    /* A refresh keeps the record's ID token until now: the same user. */
    if ((err = ao2_check_refreshed_sub(p, rec->id_token, claims)))
        return err;
    rec->access_token = tr.access_token;
    if (tr.refresh_token)
        rec->refresh_token = tr.refresh_token;
    if (tr.id_token)
        rec->id_token = tr.id_token;
    rec->token_type = tr.token_type;
    rec->scope = tr.scope ? tr.scope : (rec->scope ? rec->scope : c->scope);
    rec->issued_at = now;
    /* No expires_in: a bounded life all the same (the client is told). */
    rec->expires_at =
        now + (tr.expires_in >= 0 ? tr.expires_in : AO2_UNDATED_TOKEN_TTL);
    rec->db = cx->dc->odoo_db;
    return find_login(cx, c, claims, rec);
}

static ao2_err_t *client_and_identity(endpoint_ctx_t *cx,
                                      const ao2_client_t **c,
                                      const char **identity)
{
    ao2_err_t *err = ao2_request_client(cx->r, cx->dc, cx->params, c);

    if (err)
        return err;
    return ao2_request_param(cx->r, cx->params, "client_user_identity",
                             AO2_MAX_IDENTITY, identity);
}

/* From the name of the server the API's <Location> is written in: its
 * ServerName with scheme and port (what UseCanonicalName On gives), else the
 * port of its <VirtualHost> address, else the first Listen port; https when
 * ServerName says so or the port is 443. Never from a request's Host. */
static const char *server_redirect_uri(apr_pool_t *p, const server_rec *s,
                                       const char *api_path)
{
    unsigned port = s->port;
    const char *scheme = s->server_scheme;

    if (port == 0 && s->addrs)
        port = s->addrs->host_port;
    if (port == 0 && ap_listeners && ap_listeners->bind_addr)
        port = ap_listeners->bind_addr->port;
    if (scheme == NULL)
        scheme = port == 443 ? "https" : "http";
    return ao2_origin_url(p, scheme, s->server_hostname, port,
                          apr_pstrcat(p, api_path, "/oauth2/callback", NULL));
}

int ao2_endpoints_post_config(apr_pool_t *pconf, server_rec *s)
{
    int i;

    for (i = 0; ao2_global && i < ao2_global->apis->nelts; i++) {
        ao2_dir_conf_t *dc =
            APR_ARRAY_IDX(ao2_global->apis, i, ao2_dir_conf_t *);
        const server_rec *origin = dc->api_server ? dc->api_server : s;

        if (dc->redirect_uri)
            continue;
        dc->redirect_uri = server_redirect_uri(pconf, origin, dc->api_path);
        if (dc->redirect_uri == NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "AO2E0010: %s (%s:%d): no redirect URI can be made "
                         "from ServerName \"%s\"; set ApiOAuth2RedirectURI",
                         dc->api_path, dc->api_file, dc->api_line,
                         origin->server_hostname ? origin->server_hostname
                                                 : "");
            return !OK;
        }
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "AO2E0009: %s (%s:%d): redirect URI %s, derived from "
                     "the server's name; ApiOAuth2RedirectURI sets another",
                     dc->api_path, dc->api_file, dc->api_line,
                     dc->redirect_uri);
    }
    return OK;
}

static const char *redirect_uri(endpoint_ctx_t *cx)
{
    if (cx->dc->redirect_uri)
        return cx->dc->redirect_uri;
    return server_redirect_uri(cx->r->pool, cx->r->server, cx->dc->api_path);
}

static int do_authorize(endpoint_ctx_t *cx)
{
    apr_pool_t *p = cx->r->pool;
    const ao2_client_t *c;
    ao2_client_t *rc;
    const ao2_provider_meta_t *meta;
    ao2_state_t st;
    const char *state, *key, *url;
    ao2_json_t *out;
    ao2_err_t *err;
    apr_size_t len;
    apr_status_t rv;
    char *val;

    if ((err = client_and_identity(cx, &c, &st.user_identity)) ||
        (err = resolve(cx, c, 0, &rc, &meta)))
        return ao2_reply_error(cx->r, err);
    state = ao2_random_b64url(p, AO2_STATE_BYTES);
    st.nonce = ao2_random_b64url(p, AO2_NONCE_BYTES);
    st.code_verifier = ao2_random_b64url(p, AO2_PKCE_VERIFIER_BYTES);
    if (!state || !st.nonce || !st.code_verifier)
        return ao2_reply_error(
            cx->r, unavailable(cx, APR_EGENERAL, "get random bytes"));
    st.api = cx->dc->api_path;
    st.client_id = c->client_id;
    st.redirect_uri = redirect_uri(cx);
    st.expires_at = now_sec() + cx->sc->state_ttl;
    key = ao2_state_key(p, state);
    val = ao2_state_encode(p, &cx->g->keys, key, &st, &len);
    rv = val ? ao2_store_set(cx->g->store, cx->r->server, key, val, len,
                             apr_time_from_sec(st.expires_at), p)
             : APR_EGENERAL;
    if (rv != APR_SUCCESS)
        return ao2_reply_error(cx->r, unavailable(cx, rv, "keep the state"));
    url = ao2_authorize_url(p, rc, st.redirect_uri, state, st.nonce,
                            ao2_pkce_challenge(p, st.code_verifier));
    out = ao2_json_object(p);
    ao2_json_set_str(out, "authorization_url", url);
    ao2_json_set_str(out, "state", state);
    ao2_json_set_int(out, "expires_in", cx->sc->state_ttl);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, cx->r,
                  "AO2E0003: authorization started for client %s",
                  c->client_id);
    return ao2_reply_json(cx->r, HTTP_OK, ao2_json_dump(p, out));
}

/* Single use: the state is taken out of the store before anything else. */
static ao2_err_t *take_state(endpoint_ctx_t *cx, const char *state,
                             ao2_state_t *st)
{
    apr_pool_t *p = cx->r->pool;
    const char *key = ao2_state_key(p, state);
    char *val;
    apr_size_t len;
    apr_status_t rv =
        ao2_store_take(cx->g->store, cx->r->server, key, p, &val, &len);

    if (rv != APR_SUCCESS && !APR_STATUS_IS_NOTFOUND(rv))
        return unavailable(cx, rv, "read the state");
    if (rv != APR_SUCCESS ||
        ao2_state_decode(p, &cx->g->keys, key, val, len, st) != APR_SUCCESS ||
        st->expires_at < now_sec() || strcmp(st->api, cx->dc->api_path) != 0)
        return ao2_err_make(p, HTTP_BAD_REQUEST, "invalid_state",
                            "the state is unknown, used or expired");
    return NULL;
}

static int do_callback(endpoint_ctx_t *cx)
{
    apr_pool_t *p = cx->r->pool;
    const char *state, *code, *perror, *form, *auth, *key;
    const ao2_client_t *conf_c;
    ao2_client_t *c;
    const ao2_provider_meta_t *meta;
    ao2_http_response_t resp;
    ao2_record_t rec, prev;
    ao2_state_t st;
    ao2_err_t *err;

    if ((err = ao2_request_param(cx->r, cx->params, "state", AO2_MAX_STATE,
                                 &state)) ||
        (err = take_state(cx, state, &st)))
        return ao2_reply_error(cx->r, err);
    conf_c = ao2_dir_find_client(cx->dc, st.client_id);
    if (conf_c == NULL)
        return ao2_reply_error(
            cx->r, ao2_err_make(p, HTTP_BAD_REQUEST, "invalid_state",
                                "the client of this state is no longer "
                                "configured"));
    /* RFC 9207 before anything else of the response is believed, errors
     * included: a response from another issuer is an attack (mix-up). */
    if ((err = resolve(cx, conf_c, 0, &c, &meta)) ||
        (err = ao2_check_response_iss(p, c->provider,
                                      apr_table_get(cx->params, "iss"))))
        return ao2_reply_error(cx->r, err);
    perror = apr_table_get(cx->params, "error");
    if (perror) {
        const char *code_out =
            ao2_sanitize_error_code(perror, "invalid_request");
        const char *desc = ao2_sanitize_description(
            p, apr_table_get(cx->params, "error_description"));
        return ao2_reply_error(
            cx->r,
            ao2_err_make(p,
                         strcmp(code_out, "access_denied") == 0
                             ? HTTP_FORBIDDEN
                             : HTTP_BAD_REQUEST,
                         code_out, "provider: %s", desc ? desc : code_out));
    }
    if ((err =
             ao2_request_param(cx->r, cx->params, "code", AO2_MAX_CODE, &code)))
        return ao2_reply_error(cx->r, err);
    form = ao2_form_add(p, NULL, "grant_type", "authorization_code");
    form = ao2_form_add(p, form, "code", code);
    form = ao2_form_add(p, form, "redirect_uri", st.redirect_uri);
    form = ao2_form_add(p, form, "code_verifier", st.code_verifier);
    auth = ao2_client_credentials(p, c, &form);
    if ((err = call_provider(cx, c->provider, AO2_ME_TOKEN, "token",
                             c->provider->token_url, auth, form, &resp)))
        return ao2_reply_error(cx->r, err);
    memset(&rec, 0, sizeof(rec));
    rec.api = cx->dc->api_path;
    rec.client_id = c->client_id;
    rec.user_identity = st.user_identity;
    rec.provider = conf_c->provider->name;
    rec.provider_id = ao2_provider_identity(conf_c->provider);
    if ((err = apply_tokens(cx, c, meta, &resp, st.nonce, &rec)))
        return ao2_reply_error(cx->r, err);
    key = ao2_record_key(p, rec.api, rec.client_id, rec.user_identity);
    if ((err = save_record(cx, key, &rec,
                           load_record(cx, key, &prev) ? NULL : &prev)))
        return ao2_reply_error(cx->r, err);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, cx->r,
                  "AO2E0004: tokens issued to client %s for login %s",
                  c->client_id, rec.login);
    return ao2_reply_json(cx->r, HTTP_OK,
                          ao2_record_token_info(p, &rec, now_sec()));
}

/* The waiting room of lk (ao2_gate.h): its identity's count (by a hash of
 * the lock key; its base64url MAC is evenly spread) and its provider's, in
 * room[0..1]. */
static const ao2_gate_t *refresh_room(endpoint_ctx_t *cx, const ao2_lock_t *lk,
                                      const ao2_provider_t *pv,
                                      ao2_gate_t room[2])
{
    ao2_provider_gates_t *pg = gates_of(cx, pv);
    apr_uint32_t h = 0;
    apr_size_t i;

    if (pg == NULL)
        return NULL;
    for (i = 5; i < AO2_LOCK_KEY_LEN; i++)
        h = h * 31 + (unsigned char)lk->key[i];
    memset(room, 0, 2 * sizeof(*room));
    room[0].in = &cx->g->refresh_waiters[h % AO2_REFRESH_WAIT_SLOTS];
    room[0].max = AO2_DEFAULT_REFRESH_WAITERS;
    room[0].next = &room[1];
    room[1].in = &pg->refresh_waiters;
    room[1].max = AO2_DEFAULT_PROVIDER_REFRESH_WAITERS;
    return room;
}

/* Concurrent refreshes of one identity, from any process (and any server
 * sharing a memcache cache) make one refresh grant: rotating refresh tokens
 * die when used twice. The first takes a short lock entry in the cache; the
 * others wait for it, then answer the tokens it stored. A crashed holder's
 * lock expires after one provider timeout.
 *
 * A holder whose provider call failed (502/504) leaves that answer in the
 * lock entry for AO2_FAILED_LOOKUP_TTL seconds instead of removing it: the
 * waiters, and callers arriving meanwhile, give the same answer at once rather
 * than each trying the failing provider in turn behind the lock (which made the
 * last of many callers wait many provider timeouts).
 *
 * Waiting holds a thread, so only so many wait (AO2_DEFAULT_REFRESH_WAITERS
 * per identity, AO2_DEFAULT_PROVIDER_REFRESH_WAITERS per provider, in this
 * process); the rest get lk->full and answer 503 at once. */
static void refresh_lock(endpoint_ctx_t *cx, ao2_lock_t *lk, const char *key,
                         const ao2_provider_t *pv, int provider_calls)
{
    /* The lease outlives its holder's work: each provider call is bounded by
     * the total ApiOAuth2ProviderTimeout (curl enforces it), the store
     * writes that follow by AO2_LOCK_WRITE_MARGIN. Waiters wait as long. */
    int ttl = provider_calls * (int)(cx->sc->http.total_timeout_ms / 1000) +
              AO2_LOCK_WRITE_MARGIN;

    ao2_gate_t room[2];

    ao2_lock_key(lk, &cx->g->keys, AO2_LOCK_REFRESH_PREFIX, key, strlen(key));
    lk->room = refresh_room(cx, lk, pv, room);
    ao2_lock_take(cx->g->cache, lk, ttl, apr_time_from_sec(ttl), NULL, NULL);
    lk->room = NULL;
    if (lk->full)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, cx->r,
                      "AO2E0013: too many requests wait for a refresh of "
                      "this identity (or of provider %s's identities); the "
                      "client gets 503 with Retry-After",
                      pv->name);
    else if (lk->rv != APR_SUCCESS && lk->rv != APR_EEXIST)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, lk->rv, cx->r,
                      "AO2E0007: refresh lock unavailable (cache down?); "
                      "refreshing without it");
}

/* Ours only: removed, or left holding the provider failure for a moment
 * (then err is a held answer: Retry-After). */
static void refresh_unlock(endpoint_ctx_t *cx, const ao2_lock_t *lk,
                           ao2_err_t *err)
{
    int failed = err && (err->status == HTTP_BAD_GATEWAY ||
                         err->status == HTTP_GATEWAY_TIME_OUT);

    if (failed && lk->rv == APR_SUCCESS)
        err->retry = 1;

    ao2_lock_release(cx->g->cache, lk, failed ? err->status : 0,
                     AO2_FAILED_LOOKUP_TTL);
}

/* The refresh grant for the record under key, saved in place. */
static ao2_err_t *refresh_record(endpoint_ctx_t *cx, const ao2_client_t *conf_c,
                                 const char *key, ao2_record_t *rec)
{
    apr_pool_t *p = cx->r->pool;
    const ao2_record_t old = *rec;
    const char *form, *auth;
    const ao2_provider_meta_t *meta;
    ao2_http_response_t resp;
    ao2_client_t *c;
    ao2_err_t *err;

    if (rec->refresh_token == NULL)
        return ao2_err_make(p, HTTP_BAD_REQUEST, "invalid_grant",
                            "the provider issued no refresh token for this "
                            "identity");
    if ((err = resolve(cx, conf_c, 0, &c, &meta)))
        return err;
    /* A record written before identities were kept gets one now. */
    rec->provider_id = ao2_provider_identity(conf_c->provider);
    form = ao2_form_add(p, NULL, "grant_type", "refresh_token");
    form = ao2_form_add(p, form, "refresh_token", rec->refresh_token);
    auth = ao2_client_credentials(p, c, &form);
    if ((err = call_provider(cx, c->provider, AO2_ME_REFRESH, "token",
                             c->provider->token_url, auth, form, &resp)) ||
        (err = apply_tokens(cx, c, meta, &resp, NULL, rec)))
        return err;
    rec->refreshed_ms = apr_time_as_msec(apr_time_now());
    if ((err = save_record(cx, key, rec, &old)))
        return err;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, cx->r,
                  "AO2E0005: tokens refreshed for client %s, login %s",
                  c->client_id, rec->login);
    return NULL;
}

/* The record's own tokens: never those of another provider's record. */
static int reply_stored(endpoint_ctx_t *cx, const ao2_client_t *c,
                        const ao2_record_t *rec)
{
    if (!same_provider(cx, c, rec, "refused, the client authorizes again"))
        return ao2_reply_error(cx->r, other_provider(cx->r->pool));
    return ao2_reply_json(cx->r, HTTP_OK,
                          ao2_record_token_info(cx->r->pool, rec, now_sec()));
}

/* Another's refresh failed just now: its answer, for as long as it is held. */
static ao2_err_t *held_failure(apr_pool_t *p, int status)
{
    ao2_err_t *err = ao2_err_make(p, status, "temporarily_unavailable",
                                  "the provider failed a refresh of this "
                                  "identity just now; try again shortly");

    err->retry = 1;
    return err;
}

static int do_token(endpoint_ctx_t *cx)
{
    apr_pool_t *p = cx->r->pool;
    const ao2_client_t *c;
    const char *identity, *key, *seen;
    int window = cx->sc->refresh_window;
    ao2_record_t rec;
    ao2_err_t *err;
    ao2_lock_t lk;

    if ((err = client_and_identity(cx, &c, &identity)))
        return ao2_reply_error(cx->r, err);
    key = ao2_record_key(p, cx->dc->api_path, c->client_id, identity);
    if ((err = load_record(cx, key, &rec)))
        return ao2_reply_error(cx->r, err);
    /* Refreshed a moment ago for another caller of this identity, on any
     * server: its tokens, without the lock (SPEC's refresh window). */
    if (!ao2_record_refresh_due(&rec, NULL, apr_time_now(), window))
        return reply_stored(cx, c, &rec);
    seen = rec.access_token;
    refresh_lock(cx, &lk, key, c->provider, 1);
    if (lk.failed)
        return ao2_reply_error(cx->r, held_failure(p, lk.failed));
    if (lk.full)
        return ao2_reply_error(
            cx->r,
            ao2_err_make(p, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                         "too many requests wait for a refresh of this "
                         "identity; try again shortly"));
    if (lk.rv == APR_EEXIST)
        return ao2_reply_error(
            cx->r,
            ao2_err_make(p, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                         "another refresh of this identity is still "
                         "running"));
    /* Reloaded under the lock: the holder we waited for, or one that
     * finished between our read and the lock, refreshed for us. Never the
     * refresh token of another provider's record. */
    err = load_record(cx, key, &rec);
    if (err == NULL &&
        !same_provider(cx, c, &rec, "refused, the client authorizes again"))
        err = other_provider(p);
    if (err == NULL &&
        ao2_record_refresh_due(&rec, seen, apr_time_now(), window))
        err = refresh_record(cx, c, key, &rec);
    refresh_unlock(cx, &lk, err);
    if (err)
        return ao2_reply_error(cx->r, err);
    return ao2_reply_json(cx->r, HTTP_OK,
                          ao2_record_token_info(p, &rec, now_sec()));
}

/* RFC 7009: 200 also for tokens the provider no longer knows. */
static ao2_err_t *revoke_at_provider(endpoint_ctx_t *cx, const ao2_client_t *c,
                                     const char *token, const char *hint)
{
    apr_pool_t *p = cx->r->pool;
    const char *form = ao2_form_add(p, NULL, "token", token);
    const char *auth;
    ao2_http_response_t resp;
    ao2_err_t *err;

    form = ao2_form_add(p, form, "token_type_hint", hint);
    auth = ao2_client_credentials(p, c, &form);
    if ((err = call_provider(cx, c->provider, AO2_ME_REVOKE, "revocation",
                             c->provider->revoke_url, auth, form, &resp)))
        return err;
    if (resp.status == 200)
        return NULL;
    err = ao2_provider_error(p, resp.status, resp.body, resp.len);
    /* A provider that cannot revoke access tokens still revoked the grant. */
    if (strcmp(err->code, "unsupported_token_type") == 0)
        return NULL;
    return err;
}

/* Revokes at the provider, buries the access token, deletes the record.
 * A record of another provider than the client's now is deleted here only:
 * its tokens go to no provider (*c stays NULL). */
static ao2_err_t *revoke_record(endpoint_ctx_t *cx, const ao2_client_t *conf_c,
                                const char *key, const ao2_record_t *rec,
                                ao2_client_t **c)
{
    const ao2_provider_meta_t *meta;
    ao2_err_t *err;

    if (same_provider(cx, conf_c, rec,
                      "deleted here, revoked at no provider")) {
        if ((err = resolve(cx, conf_c, 0, c, &meta)))
            return err;
        if ((*c)->provider->revoke_url &&
            ((rec->refresh_token &&
              (err = revoke_at_provider(cx, *c, rec->refresh_token,
                                        "refresh_token"))) ||
             (err = revoke_at_provider(cx, *c, rec->access_token,
                                       "access_token"))))
            return err;
    }
    /* Not recorded, not revoked: 503, and the record stays so that the
     * client's retry revokes again (a provider answers 200 for a token it
     * revoked already, RFC 7009). */
    if (bury_access_token(cx, rec) != APR_SUCCESS)
        return unavailable(cx, APR_EGENERAL,
                           "record the revoke (the token's tombstone)");
    if (ao2_store_remove(cx->g->store, cx->r->server, key, cx->r->pool) !=
        APR_SUCCESS)
        return unavailable(cx, APR_EGENERAL, "delete a record");
    return NULL;
}

static int do_revoke(endpoint_ctx_t *cx)
{
    apr_pool_t *p = cx->r->pool;
    const ao2_client_t *conf_c;
    ao2_client_t *c = NULL;
    const char *identity, *key;
    ao2_record_t rec;
    ao2_json_t *out;
    ao2_err_t *err;
    ao2_lock_t lk;

    if ((err = client_and_identity(cx, &conf_c, &identity)))
        return ao2_reply_error(cx->r, err);
    key = ao2_record_key(p, cx->dc->api_path, conf_c->client_id, identity);
    if ((err = load_record(cx, key, &rec)))
        return ao2_reply_error(cx->r, err);
    /* Under the refresh lock (two provider calls long): a refresh running
     * now finishes first and its tokens are the ones revoked; one that
     * starts later finds no record. Without it, a refresh in flight would
     * save its tokens after the delete and bring the record back. A holder
     * that just failed wrote nothing: go ahead. */
    refresh_lock(cx, &lk, key, conf_c->provider, 2);
    if (lk.rv == APR_EEXIST && !lk.failed)
        return ao2_reply_error(
            cx->r,
            ao2_err_make(p, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                         "a refresh of this identity is still running"));
    err = load_record(cx, key, &rec);
    if (err == NULL)
        err = revoke_record(cx, conf_c, key, &rec, &c);
    ao2_lock_release(cx->g->cache, &lk, 0, 0);
    if (err)
        return ao2_reply_error(cx->r, err);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, cx->r,
                  "AO2E0006: tokens revoked for client %s, login %s",
                  conf_c->client_id, rec.login);
    out = ao2_json_object(p);
    ao2_json_set_bool(out, "revoked", 1);
    if (c == NULL || !c->provider->revoke_url)
        ao2_json_set_bool(out, "revoked_at_provider", 0);
    return ao2_reply_json(cx->r, HTTP_OK, ao2_json_dump(p, out));
}

static const struct {
    const char *path;
    int (*run)(endpoint_ctx_t *cx);
} endpoints[] = {
    {"provider/authorize", do_authorize},
    {"callback", do_callback},
    {"token", do_token},
    {"revoke", do_revoke},
};

int ao2_endpoint_handle(request_rec *r, const ao2_dir_conf_t *dc,
                        const char *rest)
{
    endpoint_ctx_t cx = {r, dc, NULL, ao2_global, NULL};
    ao2_err_t *err;
    apr_size_t i;

    for (i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        if (strcmp(rest, endpoints[i].path) == 0)
            break;
    }
    if (i == sizeof(endpoints) / sizeof(endpoints[0]))
        return ao2_reply_error(r, ao2_err_make(r->pool, HTTP_NOT_FOUND,
                                               "not_found",
                                               "no such OAuth2 endpoint"));
    /* httpd files HEAD under M_GET; it acts like GET and would refresh or
     * revoke with the answer thrown away. */
    if ((r->method_number != M_GET && r->method_number != M_POST) ||
        r->header_only) {
        apr_table_setn(r->headers_out, "Allow", "GET, POST");
        return ao2_reply_error(r, ao2_err_make(r->pool, HTTP_METHOD_NOT_ALLOWED,
                                               "invalid_request",
                                               "use GET or POST"));
    }
    if (cx.g == NULL || cx.g->store == NULL)
        return ao2_reply_error(r,
                               ao2_err_make(r->pool, HTTP_SERVICE_UNAVAILABLE,
                                            "temporarily_unavailable",
                                            "the module is not set up"));
    cx.sc = ap_get_module_config(r->server->module_config, &api_oauth2_module);
    if ((err = ao2_request_params(r, dc, &cx.params)))
        return ao2_reply_error(r, err);
    return endpoints[i].run(&cx);
}
