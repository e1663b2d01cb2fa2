#include "ao2_config.h"

#include <apr_file_io.h>
#include <stddef.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <http_log.h>
#include <mpm_common.h>
#include <unixd.h>

APLOG_USE_MODULE(api_oauth2);

#ifndef AO2_DEFAULT_STORE
#define AO2_DEFAULT_STORE "dbm:/var/lib/apache2/api_oauth2/tokens"
#endif
#define AO2_MAX_KEY_FILE 4096

ao2_global_t *ao2_global;

static apr_status_t global_gone(void *unused)
{
    ao2_global = NULL;
    return APR_SUCCESS;
}

/* Made on first use in each configuration cycle: directives may be read
 * before or after pre_config runs, and a restart must start afresh. */
static ao2_global_t *global_get(apr_pool_t *pconf)
{
    if (ao2_global == NULL) {
        ao2_global = apr_pcalloc(pconf, sizeof(*ao2_global));
        ao2_global->providers = apr_array_make(pconf, 4, sizeof(void *));
        ao2_global->apis = apr_array_make(pconf, 4, sizeof(void *));
        ao2_global->cache_ttl = AO2_DEFAULT_CACHE_TTL;
        ao2_global->cache_neg_ttl = AO2_DEFAULT_CACHE_NEG_TTL;
        apr_pool_cleanup_register(pconf, NULL, global_gone,
                                  apr_pool_cleanup_null);
    }
    return ao2_global;
}

void ao2_config_reset(apr_pool_t *pconf)
{
    global_get(pconf);
}

void *ao2_create_server_conf(apr_pool_t *p, server_rec *s)
{
    ao2_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->http.connect_timeout_ms = AO2_DEFAULT_CONNECT_TIMEOUT;
    sc->http.total_timeout_ms = AO2_DEFAULT_TOTAL_TIMEOUT;
    sc->http.max_response = 256 * 1024;
    sc->state_ttl = AO2_DEFAULT_STATE_TTL;
    sc->record_ttl = AO2_DEFAULT_RECORD_TTL;
    return sc;
}

#define MERGE_SET(field, flag)                                                 \
    do {                                                                       \
        conf->field = add->flag ? add->field : base->field;                    \
        conf->flag = add->flag || base->flag;                                  \
    } while (0)

void *ao2_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    const ao2_server_conf_t *base = basev, *add = addv;
    ao2_server_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    MERGE_SET(http.connect_timeout_ms, connect_timeout_set);
    MERGE_SET(http.total_timeout_ms, total_timeout_set);
    MERGE_SET(http.ca_file, ca_file_set);
    MERGE_SET(http.max_response, max_response_set);
    MERGE_SET(state_ttl, state_ttl_set);
    MERGE_SET(record_ttl, record_ttl_set);
    return conf;
}

void *ao2_create_dir_conf(apr_pool_t *p, char *dir)
{
    ao2_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));

    dc->path = dir;
    dc->api = -1;
    dc->client_auth = -1;
    dc->max_body = AO2_DEFAULT_MAX_BODY;
    return dc;
}

void *ao2_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const ao2_dir_conf_t *base = basev, *add = addv;
    ao2_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));
    int api_from_add = add->api != -1;

    conf->path = add->path;
    conf->api = api_from_add ? add->api : base->api;
    conf->api_path = api_from_add ? add->api_path : base->api_path;
    conf->api_file = api_from_add ? add->api_file : base->api_file;
    conf->api_line = api_from_add ? add->api_line : base->api_line;
    conf->clients = add->clients ? add->clients : base->clients;
    conf->redirect_uri =
        add->redirect_uri ? add->redirect_uri : base->redirect_uri;
    conf->login_claim = add->login_claim ? add->login_claim : base->login_claim;
    conf->odoo_db = add->odoo_db ? add->odoo_db : base->odoo_db;
    conf->client_auth =
        add->client_auth != -1 ? add->client_auth : base->client_auth;
    MERGE_SET(max_body, max_body_set);
    return conf;
}

const ao2_client_t *ao2_dir_find_client(const ao2_dir_conf_t *dc,
                                        const char *client_id)
{
    int i;

    if (dc->clients == NULL || client_id == NULL)
        return NULL;
    for (i = 0; i < dc->clients->nelts; i++) {
        const ao2_client_t *c = APR_ARRAY_IDX(dc->clients, i, ao2_client_t *);
        if (strcmp(c->client_id, client_id) == 0)
            return c;
    }
    return NULL;
}

static const ao2_provider_t *find_provider(const char *name)
{
    int i;

    if (ao2_global == NULL)
        return NULL;
    for (i = 0; i < ao2_global->providers->nelts; i++) {
        const ao2_provider_t *pv =
            APR_ARRAY_IDX(ao2_global->providers, i, ao2_provider_t *);
        if (strcmp(pv->name, name) == 0)
            return pv;
    }
    return NULL;
}

static const char *global_only(cmd_parms *cmd)
{
    return ap_check_cmd_context(cmd, GLOBAL_ONLY);
}

static const char *parse_seconds(cmd_parms *cmd, const char *arg, long min,
                                 long max, long *out)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < min || v > max)
        return apr_psprintf(cmd->pool,
                            "%s: \"%s\" is not a whole number of seconds "
                            "from %ld to %ld",
                            cmd->cmd->name, arg, min, max);
    *out = v;
    return NULL;
}

/* An absolute http(s) URL with a host, no fragment, no user info. */
static const char *check_url(cmd_parms *cmd, const char *what, const char *url)
{
    apr_uri_t u;

    if (apr_uri_parse(cmd->pool, url, &u) != APR_SUCCESS || !u.scheme ||
        (strcasecmp(u.scheme, "https") && strcasecmp(u.scheme, "http")) ||
        !u.hostname || !*u.hostname || u.fragment || u.user)
        return apr_psprintf(cmd->pool,
                            "%s: %s \"%s\" is not an absolute http(s) URL",
                            cmd->cmd->name, what, url);
    return NULL;
}

const char *ao2_cmd_token_store(cmd_parms *cmd, void *dc, const char *arg)
{
    ao2_global_t *g = global_get(cmd->pool);
    const char *err = global_only(cmd);

    if (err)
        return err;
    err = ao2_store_create(&g->store, arg, cmd->pool);
    return err ? apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err) : NULL;
}

/* Read at configuration time, as root: an unreadable or short key stops
 * "apachectl configtest", and the children never need the file. */
static const char *load_key(apr_pool_t *p, const char *path, ao2_keys_t *keys)
{
    unsigned char buf[AO2_MAX_KEY_FILE];
    apr_file_t *f;
    apr_size_t n = sizeof(buf);
    apr_status_t rv;
    apr_finfo_t fi;
    char ebuf[128];

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p);
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "cannot read key file %s: %s", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
    rv = apr_file_read_full(f, buf, sizeof(buf), &n);
    if (apr_file_info_get(&fi, APR_FINFO_PROT, f) == APR_SUCCESS &&
        (fi.protection & (APR_FPROT_GREAD | APR_FPROT_WREAD)))
        ap_log_perror(APLOG_MARK, APLOG_WARNING, 0, p,
                      "AO2C0001: key file %s is readable by group or others; "
                      "make it 0600 root",
                      path);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF)
        return apr_psprintf(p, "cannot read key file %s: %s", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
    if (n < AO2_MASTER_KEY_MIN)
        return apr_psprintf(p,
                            "key file %s has %" APR_SIZE_T_FMT
                            " bytes; at least %d random bytes are needed",
                            path, n, AO2_MASTER_KEY_MIN);
    if (ao2_keys_derive(keys, buf, n) != APR_SUCCESS)
        return "cannot derive keys";
    memset(buf, 0, sizeof(buf));
    return NULL;
}

const char *ao2_cmd_store_key(cmd_parms *cmd, void *dc, const char *arg)
{
    ao2_global_t *g = global_get(cmd->pool);
    const char *err = global_only(cmd);

    if (err)
        return err;
    if (strncmp(arg, "file:", 5) != 0 || arg[5] == '\0')
        return apr_psprintf(cmd->pool, "%s: \"%s\" is not file:PATH",
                            cmd->cmd->name, arg);
    g->key_file = ap_server_root_relative(cmd->pool, arg + 5);
    if (g->key_file == NULL)
        return apr_psprintf(cmd->pool, "%s: bad path %s", cmd->cmd->name,
                            arg + 5);
    err = load_key(cmd->pool, g->key_file, &g->keys);
    return err ? apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err) : NULL;
}

const char *ao2_cmd_cache(cmd_parms *cmd, void *dc, const char *arg)
{
    ao2_global_t *g = global_get(cmd->pool);
    const char *err = global_only(cmd);

    if (err)
        return err;
    err = ao2_cache_create(&g->cache, arg, cmd->pool);
    return err ? apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err) : NULL;
}

/* A server-wide number of seconds in [min, max]. */
static const char *set_global_seconds(cmd_parms *cmd, const char *arg, long min,
                                      long max, int *field)
{
    long v;
    const char *err = global_only(cmd);

    if (err || (err = parse_seconds(cmd, arg, min, max, &v)))
        return err;
    *field = (int)v;
    return NULL;
}

const char *ao2_cmd_cache_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_global_seconds(cmd, arg, 1, 86400,
                              &global_get(cmd->pool)->cache_ttl);
}

const char *ao2_cmd_cache_neg_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_global_seconds(cmd, arg, 0, 3600,
                              &global_get(cmd->pool)->cache_neg_ttl);
}

const char *ao2_cmd_cache_local_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_global_seconds(cmd, arg, 0, 60,
                              &global_get(cmd->pool)->cache_local_ttl);
}

static const char *provider_set(cmd_parms *cmd, ao2_provider_t *pv,
                                const char *word)
{
    static const struct {
        const char *key;
        apr_size_t offset;
    } urls[] = {
        {"issuer", offsetof(ao2_provider_t, issuer)},
        {"authorize", offsetof(ao2_provider_t, authorize_url)},
        {"token", offsetof(ao2_provider_t, token_url)},
        {"revoke", offsetof(ao2_provider_t, revoke_url)},
        {"userinfo", offsetof(ao2_provider_t, userinfo_url)},
        {"introspect", offsetof(ao2_provider_t, introspect_url)},
    };
    const char *eq = strchr(word, '=');
    const char *key, *value, *err;
    apr_size_t i;

    if (eq == NULL || eq == word || eq[1] == '\0')
        return apr_psprintf(cmd->pool, "%s %s: \"%s\" is not key=value",
                            cmd->cmd->name, pv->name, word);
    key = apr_pstrmemdup(cmd->pool, word, eq - word);
    value = eq + 1;
    if (strcmp(key, "auth") == 0) {
        if (strcmp(value, "client_secret_basic") == 0)
            pv->auth_method = AO2_AUTH_CLIENT_SECRET_BASIC;
        else if (strcmp(value, "client_secret_post") == 0)
            pv->auth_method = AO2_AUTH_CLIENT_SECRET_POST;
        else
            return apr_psprintf(cmd->pool,
                                "%s %s: auth=%s is not client_secret_basic "
                                "or client_secret_post",
                                cmd->cmd->name, pv->name, value);
        return NULL;
    }
    if (strcmp(key, "introspect_token_type") == 0) {
        if (strcmp(value, "required") && strcmp(value, "optional"))
            return apr_psprintf(cmd->pool,
                                "%s %s: introspect_token_type=%s is not "
                                "required or optional",
                                cmd->cmd->name, pv->name, value);
        pv->introspect_requires_token_type = strcmp(value, "required") == 0;
        return NULL;
    }
    for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        if (strcmp(key, urls[i].key) == 0) {
            if ((err = check_url(cmd, key, value)))
                return err;
            *(const char **)((char *)pv + urls[i].offset) =
                apr_pstrdup(cmd->pool, value);
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool,
                        "%s %s: unknown key \"%s\" (issuer, authorize, token, "
                        "revoke, userinfo, introspect, auth, "
                        "introspect_token_type)",
                        cmd->cmd->name, pv->name, key);
}

const char *ao2_cmd_provider(cmd_parms *cmd, void *dc, int argc,
                             char *const argv[])
{
    ao2_global_t *g = global_get(cmd->pool);
    ao2_provider_t *pv;
    const char *err = global_only(cmd);
    int i;

    if (err)
        return err;
    if (argc < 2)
        return apr_psprintf(cmd->pool, "%s needs a name and key=value words",
                            cmd->cmd->name);
    if (find_provider(argv[0]))
        return apr_psprintf(cmd->pool, "%s: provider %s is defined twice",
                            cmd->cmd->name, argv[0]);
    pv = apr_pcalloc(cmd->pool, sizeof(*pv));
    pv->name = apr_pstrdup(cmd->pool, argv[0]);
    for (i = 1; i < argc; i++) {
        if ((err = provider_set(cmd, pv, argv[i])))
            return err;
    }
    if (pv->authorize_url == NULL && pv->token_url == NULL && pv->issuer)
        return apr_psprintf(cmd->pool,
                            "%s %s: OIDC discovery from issuer= alone is not "
                            "supported yet; also give authorize= and token=",
                            cmd->cmd->name, pv->name);
    if (pv->authorize_url == NULL || pv->token_url == NULL)
        return apr_psprintf(cmd->pool,
                            "%s %s: authorize= and token= are "
                            "required",
                            cmd->cmd->name, pv->name);
    APR_ARRAY_PUSH(g->providers, ao2_provider_t *) = pv;
    return NULL;
}

const char *ao2_cmd_provider_timeout(cmd_parms *cmd, void *dc,
                                     const char *connect, const char *total)
{
    ao2_server_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &api_oauth2_module);
    long c, t = AO2_DEFAULT_TOTAL_TIMEOUT / 1000;
    const char *err = parse_seconds(cmd, connect, 1, 300, &c);

    if (err || (total && (err = parse_seconds(cmd, total, 1, 600, &t))))
        return err;
    if (t < c)
        return apr_psprintf(cmd->pool,
                            "%s: the total timeout %ld is shorter than the "
                            "connect timeout %ld",
                            cmd->cmd->name, t, c);
    sc->http.connect_timeout_ms = c * 1000;
    sc->http.total_timeout_ms = t * 1000;
    sc->connect_timeout_set = sc->total_timeout_set = 1;
    return NULL;
}

const char *ao2_cmd_provider_ca_file(cmd_parms *cmd, void *dc, const char *arg)
{
    ao2_server_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &api_oauth2_module);
    apr_finfo_t fi;
    const char *path = ap_server_root_relative(cmd->pool, arg);

    if (path == NULL ||
        apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS ||
        fi.filetype != APR_REG)
        return apr_psprintf(cmd->pool, "%s: %s is not a readable file",
                            cmd->cmd->name, arg);
    sc->http.ca_file = path;
    sc->ca_file_set = 1;
    return NULL;
}

const char *ao2_cmd_provider_max_response(cmd_parms *cmd, void *dc,
                                          const char *arg)
{
    ao2_server_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &api_oauth2_module);
    char *end;
    long v = strtol(arg, &end, 10);

    if (*end || v < 1024 || v > 16 * 1024 * 1024)
        return apr_psprintf(cmd->pool,
                            "%s: \"%s\" is not a byte count from 1024 to "
                            "16777216",
                            cmd->cmd->name, arg);
    sc->http.max_response = (apr_size_t)v;
    sc->max_response_set = 1;
    return NULL;
}

const char *ao2_cmd_state_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    ao2_server_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &api_oauth2_module);
    long v;
    const char *err = parse_seconds(cmd, arg, 1, 3600, &v);

    if (err)
        return err;
    sc->state_ttl = (int)v;
    sc->state_ttl_set = 1;
    return NULL;
}

const char *ao2_cmd_record_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    ao2_server_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &api_oauth2_module);
    long v;
    const char *err = parse_seconds(cmd, arg, 60, 400L * 86400, &v);

    if (err)
        return err;
    sc->record_ttl = v;
    sc->record_ttl_set = 1;
    return NULL;
}

/* The clients of a location are checked where the location is written:
 * a configuration test (-t) runs no post_config. */
static int section_has(const ap_directive_t *section, const char *name)
{
    const ap_directive_t *d;

    for (d = section ? section->first_child : NULL; d; d = d->next) {
        if (strcasecmp(d->directive, name) == 0)
            return 1;
    }
    return 0;
}

const char *ao2_cmd_api(cmd_parms *cmd, void *dcv, int on)
{
    ao2_dir_conf_t *dc = dcv;
    const ap_directive_t *section = cmd->directive->parent;
    apr_size_t n;

    dc->api = on;
    if (!on)
        return NULL;
    if (section == NULL || cmd->path == NULL ||
        strcasecmp(section->directive, "<Location") != 0)
        return apr_psprintf(cmd->pool,
                            "%s on belongs in a <Location> (not a "
                            "<LocationMatch>, <Directory> or .htaccess)",
                            cmd->cmd->name);
    if (!section_has(section, "ApiOAuth2Client"))
        return apr_psprintf(cmd->pool,
                            "%s on: <Location %s> has no ApiOAuth2Client",
                            cmd->cmd->name, cmd->path);
    n = strlen(cmd->path);
    while (n > 1 && cmd->path[n - 1] == '/')
        n--;
    dc->api_path = (n == 1 && cmd->path[0] == '/')
                       ? ""
                       : apr_pstrmemdup(cmd->pool, cmd->path, n);
    dc->api_file = cmd->directive->filename;
    dc->api_line = cmd->directive->line_num;
    APR_ARRAY_PUSH(global_get(cmd->pool)->apis, ao2_dir_conf_t *) = dc;
    return NULL;
}

const char *ao2_cmd_client(cmd_parms *cmd, void *dcv, int argc,
                           char *const argv[])
{
    ao2_dir_conf_t *dc = dcv;
    ao2_client_t *c;
    int i;

    if (argc < 3)
        return apr_psprintf(cmd->pool,
                            "%s needs PROVIDER CLIENT_ID CLIENT_SECRET "
                            "[scope=...]",
                            cmd->cmd->name);
    c = apr_pcalloc(cmd->pool, sizeof(*c));
    c->provider = find_provider(argv[0]);
    if (c->provider == NULL)
        return apr_psprintf(cmd->pool,
                            "%s: unknown provider \"%s\" (define it with "
                            "ApiOAuth2Provider before using it)",
                            cmd->cmd->name, argv[0]);
    if (!*argv[1] || !*argv[2])
        return apr_psprintf(cmd->pool,
                            "%s %s: empty client id or missing client secret",
                            cmd->cmd->name, argv[0]);
    c->client_id = apr_pstrdup(cmd->pool, argv[1]);
    c->client_secret = apr_pstrdup(cmd->pool, argv[2]);
    for (i = 3; i < argc; i++) {
        if (strncmp(argv[i], "scope=", 6) == 0)
            c->scope = apr_pstrdup(cmd->pool, argv[i] + 6);
        else
            return apr_psprintf(cmd->pool,
                                "%s %s %s: unknown option \"%s\" (scope=)",
                                cmd->cmd->name, argv[0], argv[1], argv[i]);
    }
    if (dc->clients == NULL)
        dc->clients = apr_array_make(cmd->pool, 2, sizeof(ao2_client_t *));
    if (ao2_dir_find_client(dc, c->client_id))
        return apr_psprintf(cmd->pool, "%s: client %s is listed twice here",
                            cmd->cmd->name, c->client_id);
    APR_ARRAY_PUSH(dc->clients, ao2_client_t *) = c;
    return NULL;
}

const char *ao2_cmd_redirect_uri(cmd_parms *cmd, void *dcv, const char *arg)
{
    ao2_dir_conf_t *dc = dcv;
    const char *err = check_url(cmd, "redirect URI", arg);

    if (err)
        return err;
    dc->redirect_uri = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

const char *ao2_cmd_login_claim(cmd_parms *cmd, void *dcv, const char *arg)
{
    ((ao2_dir_conf_t *)dcv)->login_claim = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

const char *ao2_cmd_odoo_db(cmd_parms *cmd, void *dcv, const char *arg)
{
    ((ao2_dir_conf_t *)dcv)->odoo_db = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

const char *ao2_cmd_client_auth(cmd_parms *cmd, void *dcv, int on)
{
    ((ao2_dir_conf_t *)dcv)->client_auth = on;
    return NULL;
}

const char *ao2_cmd_max_body(cmd_parms *cmd, void *dcv, const char *arg)
{
    ao2_dir_conf_t *dc = dcv;
    char *end;
    long v = strtol(arg, &end, 10);

    if (*end || v < 256 || v > 1024 * 1024)
        return apr_psprintf(cmd->pool,
                            "%s: \"%s\" is not a byte count from 256 to "
                            "1048576",
                            cmd->cmd->name, arg);
    dc->max_body = v;
    dc->max_body_set = 1;
    return NULL;
}

/* The key for a store set up without ApiOAuth2StoreKey: made once, kept next
 * to the store, so records stay readable across restarts of this server. */
static int default_key(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                       ao2_global_t *g, const char *path)
{
    unsigned char key[AO2_MASTER_KEY_MIN];
    const char *err;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n = sizeof(key);
    apr_status_t rv;

    if (apr_stat(&fi, path, APR_FINFO_TYPE, ptemp) != APR_SUCCESS) {
        char *dir = ap_make_dirstr_parent(ptemp, path);
        apr_dir_make_recursive(dir, APR_FPROT_OS_DEFAULT & 0700, ptemp);
        if (ao2_random_bytes(key, sizeof(key)) != APR_SUCCESS ||
            (rv = apr_file_open(&f, path,
                                APR_FOPEN_WRITE | APR_FOPEN_CREATE |
                                    APR_FOPEN_EXCL | APR_FOPEN_BINARY,
                                APR_FPROT_UREAD | APR_FPROT_UWRITE, ptemp)) ||
            (rv = apr_file_write_full(f, key, sizeof(key), &n)) ||
            (rv = apr_file_close(f))) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "AO2C0002: cannot create the store key %s; set "
                         "ApiOAuth2StoreKey",
                         path);
            return !OK;
        }
        memset(key, 0, sizeof(key));
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "AO2C0003: generated the store key %s; set "
                     "ApiOAuth2StoreKey to keep it elsewhere or to share it "
                     "between servers",
                     path);
    }
    if ((err = load_key(pconf, path, &g->keys))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "AO2C0004: %s", err);
        return !OK;
    }
    g->key_file = path;
    return OK;
}

int ao2_config_post(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    ao2_global_t *g = global_get(pconf);
    const char *err;
    int i;

    if (g->apis->nelts == 0 && g->store == NULL && g->providers->nelts == 0)
        return OK; /* loaded, not used: create no files */
    if (g->store == NULL &&
        (err = ao2_store_create(&g->store, AO2_DEFAULT_STORE, pconf))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "AO2C0005: %s", err);
        return !OK;
    }
    if (g->key_file == NULL) {
        const char *spec = g->store->spec;
        const char *path =
            strncmp(spec, "dbm:", 4) == 0
                ? apr_pstrcat(
                      ptemp,
                      ap_make_dirstr_parent(
                          ptemp, ap_server_root_relative(ptemp, spec + 4)),
                      "store.key", NULL)
                : ap_runtime_dir_relative(ptemp, "api_oauth2.key");
        if (default_key(pconf, ptemp, s, g, path) != OK)
            return !OK;
    }
    if (g->cache == NULL && (err = ao2_cache_create(&g->cache, "shm", pconf))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "AO2C0009: %s", err);
        return !OK;
    }
    if (g->cache_local_ttl > 0 && strcmp(g->cache->type->name, "shm") != 0 &&
        (err = ao2_cache_create(&g->local_cache, "shm", pconf))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "AO2C0011: %s", err);
        return !OK;
    }
    if (g->cache->type->init(g->cache, s, pconf, ptemp) != APR_SUCCESS ||
        (g->local_cache && g->local_cache->type->init(g->local_cache, s, pconf,
                                                      ptemp) != APR_SUCCESS)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0010: cannot set up the validation cache %s",
                     g->cache->spec);
        return !OK;
    }
    if (g->store->type->init(g->store, s, pconf, ptemp) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "AO2C0006: cannot open the token store %s",
                     g->store->spec);
        return !OK;
    }
    for (i = 0; i < g->providers->nelts; i++) {
        const ao2_provider_t *pv =
            APR_ARRAY_IDX(g->providers, i, ao2_provider_t *);
        if (strncasecmp(pv->token_url, "http:", 5) == 0)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "AO2C0007: provider %s is reached over plain http; "
                         "use https outside a test bed",
                         pv->name);
    }
    for (i = 0; i < g->apis->nelts; i++) {
        const ao2_dir_conf_t *dc = APR_ARRAY_IDX(g->apis, i, ao2_dir_conf_t *);
        if (dc->client_auth == 0)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "AO2C0008: ApiOAuth2ClientAuthentication is off for "
                         "%s (%s:%d): anyone who knows a client_id and a "
                         "client_user_identity can get that user's tokens",
                         dc->api_path, dc->api_file, dc->api_line);
    }
    return OK;
}
