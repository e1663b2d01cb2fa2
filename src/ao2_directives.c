/* Directive setters and the create/merge of server and directory
 * configurations. Everything here runs while httpd reads its configuration;
 * the start-up work that follows (keys, store, path checks) is in
 * ao2_startup.c. */
#include "ao2_config.h"
#include "ao2_pathcheck.h"

#include <stddef.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <http_log.h>

#include <unistd.h>

APLOG_USE_MODULE(api_oauth2);

ao2_global_t *ao2_global;

static apr_status_t global_gone(void *unused)
{
    ao2_global = NULL;
    return APR_SUCCESS;
}

/* Made on first use in each configuration cycle: directives may be read
 * before or after pre_config runs, and a restart must start afresh. */
ao2_global_t *ao2_global_get(apr_pool_t *pconf)
{
    if (ao2_global == NULL) {
        ao2_global = apr_pcalloc(pconf, sizeof(*ao2_global));
        ao2_global->providers = apr_array_make(pconf, 4, sizeof(void *));
        ao2_global->apis = apr_array_make(pconf, 4, sizeof(void *));
        ao2_global->client_dirs = apr_array_make(pconf, 4, sizeof(void *));
        ao2_global->auth_off =
            apr_array_make(pconf, 1, sizeof(ao2_conf_site_t));
        ao2_global->cache_ttl = AO2_DEFAULT_CACHE_TTL;
        ao2_global->cache_neg_ttl = AO2_DEFAULT_CACHE_NEG_TTL;
        ao2_global->cache_local_ttl = AO2_DEFAULT_CACHE_LOCAL_TTL;
        ao2_global->metrics = AO2_DEFAULT_METRICS;
        apr_pool_cleanup_register(pconf, NULL, global_gone,
                                  apr_pool_cleanup_null);
    }
    return ao2_global;
}

void ao2_config_reset(apr_pool_t *pconf)
{
    ao2_global_get(pconf);
}

/* The one merge rule: the inner value when written there, else the outer
 * one, else the default (nginx's ngx_conf_merge_*_value). With conf, base
 * and add the same struct it fills the defaults in place. */
#define AO2_MERGE(field, unset, dflt)                                          \
    (conf->field = add->field != (unset)    ? add->field                       \
                   : base->field != (unset) ? base->field                      \
                                            : (dflt))

static void server_merge(ao2_server_conf_t *conf, const ao2_server_conf_t *base,
                         const ao2_server_conf_t *add)
{
    AO2_MERGE(http.connect_timeout_ms, AO2_UNSET, AO2_DEFAULT_CONNECT_TIMEOUT);
    AO2_MERGE(http.total_timeout_ms, AO2_UNSET, AO2_DEFAULT_TOTAL_TIMEOUT);
    AO2_MERGE(http.max_response, 0, AO2_DEFAULT_MAX_RESPONSE);
    AO2_MERGE(http.ca_file, NULL, NULL);
    AO2_MERGE(state_ttl, AO2_UNSET, AO2_DEFAULT_STATE_TTL);
    AO2_MERGE(record_ttl, AO2_UNSET, AO2_DEFAULT_RECORD_TTL);
    AO2_MERGE(refresh_window, AO2_UNSET, AO2_DEFAULT_REFRESH_WINDOW);
}

/* Whether b was made from exactly what conf holds (the same client and
 * audience lists, the same claim and flag): then a merge keeps it. */
static int same_binding(const ao2_binding_t *b, const ao2_dir_conf_t *conf)
{
    return b && b->clients == conf->clients &&
           b->audiences == conf->audiences &&
           !strcmp(b->login_claim, conf->login_claim) &&
           b->email_verified == (conf->email_verified != 0) &&
           b->db == conf->odoo_db &&
           b->introspect_with == conf->introspect_with;
}

static const ao2_binding_t *make_binding(apr_pool_t *p,
                                         const ao2_dir_conf_t *dc)
{
    return ao2_binding_make(
        p, dc->clients, dc->audiences,
        dc->login_claim ? dc->login_claim : AO2_DEFAULT_LOGIN_CLAIM,
        dc->email_verified == AO2_UNSET ? AO2_DEFAULT_EMAIL_VERIFIED
                                        : dc->email_verified,
        dc->odoo_db, dc->introspect_with);
}

const ao2_binding_t *ao2_dir_binding(apr_pool_t *p, const ao2_dir_conf_t *dc)
{
    return dc->binding ? dc->binding : make_binding(p, dc);
}

/* Every directive that sets a binding input makes the binding again, at
 * configuration time. */
static void rebind(apr_pool_t *p, ao2_dir_conf_t *dc)
{
    dc->binding = make_binding(p, dc);
}

static void dir_merge(ao2_dir_conf_t *conf, const ao2_dir_conf_t *base,
                      const ao2_dir_conf_t *add)
{
    AO2_MERGE(api, AO2_UNSET, 0);
    AO2_MERGE(api_path, NULL, NULL);
    AO2_MERGE(api_file, NULL, NULL);
    AO2_MERGE(api_line, AO2_UNSET, 0);
    AO2_MERGE(api_server, NULL, NULL);
    AO2_MERGE(clients, NULL, NULL);
    AO2_MERGE(redirect_uri, NULL, NULL);
    AO2_MERGE(login_claim, NULL, AO2_DEFAULT_LOGIN_CLAIM);
    AO2_MERGE(audiences, NULL, NULL);
    AO2_MERGE(email_verified, AO2_UNSET, AO2_DEFAULT_EMAIL_VERIFIED);
    AO2_MERGE(odoo_db, NULL, NULL);
    AO2_MERGE(introspect_with, NULL, NULL);
    conf->binding = same_binding(add->binding, conf)    ? add->binding
                    : same_binding(base->binding, conf) ? base->binding
                                                        : NULL;
    AO2_MERGE(client_auth, AO2_UNSET, AO2_DEFAULT_CLIENT_AUTH);
    AO2_MERGE(max_body, AO2_UNSET, AO2_DEFAULT_MAX_BODY);
    AO2_MERGE(scrub_headers, AO2_UNSET, AO2_DEFAULT_SCRUB_HEADERS);
    AO2_MERGE(pass_token, AO2_UNSET, AO2_DEFAULT_PASS_TOKEN);
}

void *ao2_create_server_conf(apr_pool_t *p, server_rec *s)
{
    ao2_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->http.connect_timeout_ms = AO2_UNSET;
    sc->http.total_timeout_ms = AO2_UNSET;
    sc->state_ttl = AO2_UNSET;
    sc->record_ttl = AO2_UNSET;
    sc->refresh_window = AO2_UNSET;
    return sc;
}

void *ao2_merge_server_conf(apr_pool_t *p, void *base, void *add)
{
    ao2_server_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    server_merge(conf, base, add);
    return conf;
}

void *ao2_create_dir_conf(apr_pool_t *p, char *dir)
{
    ao2_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));

    dc->path = dir;
    dc->api = AO2_UNSET;
    dc->api_line = AO2_UNSET;
    dc->client_auth = AO2_UNSET;
    dc->max_body = AO2_UNSET;
    dc->scrub_headers = AO2_UNSET;
    dc->pass_token = AO2_UNSET;
    dc->email_verified = AO2_UNSET;
    return dc;
}

void *ao2_merge_dir_conf(apr_pool_t *p, void *base, void *add)
{
    ao2_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->path = ((ao2_dir_conf_t *)add)->path;
    dir_merge(conf, base, add);
    return conf;
}

/* Vhosts and sections are merged, and so get their defaults there; the main
 * server's own configurations are used as created. */
void ao2_config_finish(server_rec *s)
{
    ao2_server_conf_t *sc =
        ap_get_module_config(s->module_config, &api_oauth2_module);
    ao2_dir_conf_t *dc =
        ap_get_module_config(s->lookup_defaults, &api_oauth2_module);

    server_merge(sc, sc, sc);
    dir_merge(dc, dc, dc);
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

static ao2_server_conf_t *server_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &api_oauth2_module);
}

/* A whole number in [min, max]; what says of what, for the message. */
static const char *parse_number(cmd_parms *cmd, const char *arg,
                                const char *what, long min, long max, long *out)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < min || v > max)
        return apr_psprintf(cmd->pool, "%s: \"%s\" is not %s from %ld to %ld",
                            cmd->cmd->name, arg, what, min, max);
    *out = v;
    return NULL;
}

#define SECONDS "a whole number of seconds"
#define BYTES   "a byte count"

/* One value from a fixed list; a bad one gets the list in the message. */
typedef struct option {
    const char *name;
    int value;
} option_t;

static const char *option_names(apr_pool_t *p, const option_t *opts)
{
    const char *names = opts->name;

    while ((++opts)->name)
        names = apr_pstrcat(p, names, ", ", opts->name, NULL);
    return names;
}

static const char *parse_option(cmd_parms *cmd, const char *prefix,
                                const char *key, const option_t *opts,
                                const char *value, int *out)
{
    const option_t *o;

    for (o = opts; o->name; o++) {
        if (strcmp(o->name, value) == 0) {
            *out = o->value;
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool, "%s: %s=%s is not one of %s", prefix, key,
                        value, option_names(cmd->pool, opts));
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

static const char *prefixed(cmd_parms *cmd, const char *err)
{
    return err ? apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err) : NULL;
}

const char *ao2_cmd_token_store(cmd_parms *cmd, void *dc, const char *arg)
{
    ao2_global_t *g = ao2_global_get(cmd->pool);
    const char *err = global_only(cmd);

    if (err)
        return err;
    return prefixed(cmd, ao2_store_create(&g->store, arg, cmd->pool));
}

/* Read at configuration time, as root: an unreadable or short key stops
 * "apachectl configtest", and the children never need the file. */
const char *ao2_cmd_store_key(cmd_parms *cmd, void *dc, const char *arg)
{
    ao2_global_t *g = ao2_global_get(cmd->pool);
    const char *err = global_only(cmd);
    int refuse = 0;

    if (err)
        return err;
    if (strncmp(arg, "file:", 5) != 0 || arg[5] == '\0')
        return apr_psprintf(cmd->pool, "%s: \"%s\" is not file:PATH",
                            cmd->cmd->name, arg);
    g->key_file = ap_server_root_relative(cmd->pool, arg + 5);
    if (g->key_file == NULL)
        return apr_psprintf(cmd->pool, "%s: bad path %s", cmd->cmd->name,
                            arg + 5);
    if ((err = ao2_key_load(cmd->pool, g->key_file, &g->keys)))
        return prefixed(cmd, err);
    /* What does not depend on the run user (User may come later); the rest
     * is checked at start-up. */
    err = ao2_path_secret(cmd->pool, g->key_file, geteuid(), NULL, &refuse);
    if (err && refuse)
        return prefixed(cmd, err);
    if (err)
        ap_log_perror(APLOG_MARK, APLOG_WARNING, 0, cmd->pool,
                      "AO2C0001: store key %s: %s", g->key_file, err);
    return NULL;
}

const char *ao2_cmd_cache(cmd_parms *cmd, void *dc, const char *arg)
{
    ao2_global_t *g = ao2_global_get(cmd->pool);
    const char *err = global_only(cmd);

    if (err)
        return err;
    return prefixed(cmd, ao2_cache_create(&g->cache, arg, cmd->pool));
}

const char *ao2_cmd_metrics(cmd_parms *cmd, void *dc, int on)
{
    const char *err = global_only(cmd);

    if (err)
        return err;
    ao2_global_get(cmd->pool)->metrics = on;
    return NULL;
}

/* A server-wide number of seconds in [min, max]. */
static const char *set_global_seconds(cmd_parms *cmd, const char *arg, long min,
                                      long max, int *field)
{
    long v = 0;
    const char *err = global_only(cmd);

    if (err || (err = parse_number(cmd, arg, SECONDS, min, max, &v)))
        return err;
    *field = (int)v;
    return NULL;
}

const char *ao2_cmd_cache_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_global_seconds(cmd, arg, 1, 86400,
                              &ao2_global_get(cmd->pool)->cache_ttl);
}

const char *ao2_cmd_cache_neg_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_global_seconds(cmd, arg, 0, 3600,
                              &ao2_global_get(cmd->pool)->cache_neg_ttl);
}

/* A path (ServerRoot-relative) or off; the default lives in
 * DefaultRuntimeDir, which is only known at start-up. */
const char *ao2_cmd_revocation_journal(cmd_parms *cmd, void *dc,
                                       const char *arg)
{
    ao2_global_t *g = ao2_global_get(cmd->pool);
    const char *err = global_only(cmd);

    if (err)
        return err;
    if (strcasecmp(arg, "off") == 0) {
        g->journal_path = "";
        return NULL;
    }
    g->journal_path = ap_server_root_relative(cmd->pool, arg);
    if (g->journal_path == NULL || *arg == '\0')
        return apr_psprintf(cmd->pool, "%s: bad path %s", cmd->cmd->name, arg);
    return NULL;
}

const char *ao2_cmd_cache_local_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_global_seconds(cmd, arg, 0, 86400,
                              &ao2_global_get(cmd->pool)->cache_local_ttl);
}

static const option_t auth_methods[] = {
    {"client_secret_basic", AO2_AUTH_CLIENT_SECRET_BASIC},
    {"client_secret_post", AO2_AUTH_CLIENT_SECRET_POST},
    {NULL, 0},
};

static const option_t token_validations[] = {
    {"both", AO2_TV_BOTH},
    {"jwt", AO2_TV_JWT},
    {"introspect", AO2_TV_INTROSPECT},
    {NULL, 0},
};

static const option_t token_type_rules[] = {
    {"optional", 0},
    {"required", 1},
    {NULL, 0},
};

/* Option fields are written as int: an enum field must be one. */
typedef char
    auth_method_is_an_int[sizeof(ao2_client_auth_method_e) == sizeof(int) ? 1
                                                                          : -1];
typedef char token_validation_is_an_int
    [sizeof(ao2_token_validation_e) == sizeof(int) ? 1 : -1];

/* The key=value words of ApiOAuth2Provider: a URL, one of a list, or a
 * number of seconds up to max_seconds. */
typedef struct provider_key {
    const char *key;
    apr_size_t offset;    /* of the field in ao2_provider_t */
    const option_t *opts; /* NULL: an http(s) URL (const char *) */
    long max_seconds;     /* not 0: an int of seconds, 0 to this */
} provider_key_t;

static const provider_key_t provider_keys[] = {
    {"issuer", offsetof(ao2_provider_t, issuer), NULL, 0},
    {"authorize", offsetof(ao2_provider_t, authorize_url), NULL, 0},
    {"token", offsetof(ao2_provider_t, token_url), NULL, 0},
    {"revoke", offsetof(ao2_provider_t, revoke_url), NULL, 0},
    {"userinfo", offsetof(ao2_provider_t, userinfo_url), NULL, 0},
    {"introspect", offsetof(ao2_provider_t, introspect_url), NULL, 0},
    {"jwks", offsetof(ao2_provider_t, jwks_url), NULL, 0},
    {"auth", offsetof(ao2_provider_t, auth_method), auth_methods, 0},
    {"introspect_token_type",
     offsetof(ao2_provider_t, introspect_requires_token_type), token_type_rules,
     0},
    {"leeway", offsetof(ao2_provider_t, leeway), NULL, AO2_MAX_LEEWAY},
    {"token_validation", offsetof(ao2_provider_t, token_validation),
     token_validations, 0},
    {NULL, 0, NULL, 0},
};

static const char *provider_key_names(apr_pool_t *p)
{
    const provider_key_t *k = provider_keys;
    const char *names = k->key;

    while ((++k)->key)
        names = apr_pstrcat(p, names, ", ", k->key, NULL);
    return names;
}

static const char *provider_set(cmd_parms *cmd, ao2_provider_t *pv,
                                const char *word)
{
    const char *eq = strchr(word, '=');
    const char *prefix =
        apr_pstrcat(cmd->pool, cmd->cmd->name, " ", pv->name, NULL);
    const provider_key_t *k;
    const char *key, *value, *err;
    char *field;
    int v = 0;

    if (eq == NULL || eq == word || eq[1] == '\0')
        return apr_psprintf(cmd->pool, "%s: \"%s\" is not key=value", prefix,
                            word);
    key = apr_pstrmemdup(cmd->pool, word, eq - word);
    value = eq + 1;
    for (k = provider_keys; k->key && strcmp(k->key, key) != 0; k++)
        ;
    if (k->key == NULL)
        return apr_psprintf(cmd->pool, "%s: unknown key \"%s\" (%s)", prefix,
                            key, provider_key_names(cmd->pool));
    field = (char *)pv + k->offset;
    if (k->max_seconds) {
        long n = 0;
        if ((err = parse_number(cmd, value, SECONDS, 0, k->max_seconds, &n)))
            return err;
        *(int *)field = (int)n;
        return NULL;
    }
    if (k->opts) {
        if ((err = parse_option(cmd, prefix, key, k->opts, value, &v)))
            return err;
        *(int *)field = v;
        return NULL;
    }
    if ((err = check_url(cmd, key, value)))
        return err;
    *(const char **)field = apr_pstrdup(cmd->pool, value);
    return NULL;
}

const char *ao2_cmd_provider(cmd_parms *cmd, void *dc, int argc,
                             char *const argv[])
{
    ao2_global_t *g = ao2_global_get(cmd->pool);
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
    pv->leeway = AO2_DEFAULT_LEEWAY;
    for (i = 1; i < argc; i++) {
        if ((err = provider_set(cmd, pv, argv[i])))
            return err;
    }
    /* With issuer= the rest is discovered at first use (ao2_discovery.c),
     * never here: a configuration test must work offline. */
    if (pv->issuer == NULL &&
        (pv->authorize_url == NULL || pv->token_url == NULL))
        return apr_psprintf(cmd->pool,
                            "%s %s: give issuer= (OpenID Connect discovery) "
                            "or both authorize= and token=",
                            cmd->cmd->name, pv->name);
    /* Its slot in the metrics (ao2_metrics.h): configuration order. */
    pv->index = g->providers->nelts;
    APR_ARRAY_PUSH(g->providers, ao2_provider_t *) = pv;
    return NULL;
}

const char *ao2_cmd_provider_timeout(cmd_parms *cmd, void *dc,
                                     const char *connect, const char *total)
{
    ao2_server_conf_t *sc = server_conf(cmd);
    long c = 0, t;
    const char *err = parse_number(cmd, connect, SECONDS, 1, 300, &c);

    if (err)
        return err;
    /* Without TOTAL: the default, or CONNECT plus what the defaults leave
     * after the connect, whichever is longer, so that a long CONNECT
     * alone is not refused. */
    t = c + (AO2_DEFAULT_TOTAL_TIMEOUT - AO2_DEFAULT_CONNECT_TIMEOUT) / 1000;
    if (t < AO2_DEFAULT_TOTAL_TIMEOUT / 1000)
        t = AO2_DEFAULT_TOTAL_TIMEOUT / 1000;
    if (total && (err = parse_number(cmd, total, SECONDS, 1, 600, &t)))
        return err;
    if (t < c)
        return apr_psprintf(cmd->pool,
                            "%s: the total timeout %ld is shorter than the "
                            "connect timeout %ld",
                            cmd->cmd->name, t, c);
    sc->http.connect_timeout_ms = c * 1000;
    sc->http.total_timeout_ms = t * 1000;
    return NULL;
}

const char *ao2_cmd_provider_ca_file(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_finfo_t fi;
    const char *path = ap_server_root_relative(cmd->pool, arg);

    if (path == NULL ||
        apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS ||
        fi.filetype != APR_REG)
        return apr_psprintf(cmd->pool, "%s: %s is not a readable file",
                            cmd->cmd->name, arg);
    server_conf(cmd)->http.ca_file = path;
    return NULL;
}

const char *ao2_cmd_provider_max_response(cmd_parms *cmd, void *dc,
                                          const char *arg)
{
    long v = 0;
    const char *err =
        parse_number(cmd, arg, BYTES, 1024, 16L * 1024 * 1024, &v);

    if (err)
        return err;
    server_conf(cmd)->http.max_response = (apr_size_t)v;
    return NULL;
}

const char *ao2_cmd_state_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    long v = 0;
    const char *err = parse_number(cmd, arg, SECONDS, 1, 3600, &v);

    if (err)
        return err;
    server_conf(cmd)->state_ttl = (int)v;
    return NULL;
}

const char *ao2_cmd_record_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    long v = 0;
    const char *err = parse_number(cmd, arg, SECONDS, 60, 400L * 86400, &v);

    if (err)
        return err;
    server_conf(cmd)->record_ttl = v;
    return NULL;
}

const char *ao2_cmd_refresh_window(cmd_parms *cmd, void *dc, const char *arg)
{
    long v = 0;
    const char *err =
        parse_number(cmd, arg, SECONDS, 0, AO2_REFRESH_WINDOW_MAX, &v);

    if (err)
        return err;
    server_conf(cmd)->refresh_window = (int)v;
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
    dc->api_server = cmd->server;
    APR_ARRAY_PUSH(ao2_global_get(cmd->pool)->apis, ao2_dir_conf_t *) = dc;
    return NULL;
}

const char *ao2_cmd_client_auth(cmd_parms *cmd, void *dcv, int on)
{
    ao2_conf_site_t *w;

    ((ao2_dir_conf_t *)dcv)->client_auth = on;
    if (on)
        return NULL;
    w = apr_array_push(ao2_global_get(cmd->pool)->auth_off);
    w->section = cmd->path ? cmd->path : cmd->directive->parent->directive;
    w->file = cmd->directive->filename;
    w->line = cmd->directive->line_num;
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
                            "[scope=...] [auth_params=...]",
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
        const char *err;

        if (strncmp(argv[i], "scope=", 6) == 0)
            c->scope = apr_pstrdup(cmd->pool, argv[i] + 6);
        else if (strncmp(argv[i], "auth_params=", 12) == 0) {
            err = ao2_auth_params_canon(cmd->pool, argv[i] + 12,
                                        &c->extra_params);
            if (err)
                return apr_psprintf(cmd->pool, "%s %s %s: auth_params=: %s",
                                    cmd->cmd->name, argv[0], argv[1], err);
        } else
            return apr_psprintf(cmd->pool,
                                "%s %s %s: unknown option \"%s\" "
                                "(scope=, auth_params=)",
                                cmd->cmd->name, argv[0], argv[1], argv[i]);
    }
    if (dc->clients == NULL) {
        dc->clients = apr_array_make(cmd->pool, 2, sizeof(ao2_client_t *));
        APR_ARRAY_PUSH(ao2_global_get(cmd->pool)->client_dirs,
                       ao2_dir_conf_t *) = dc;
    }
    if (ao2_dir_find_client(dc, c->client_id))
        return apr_psprintf(cmd->pool, "%s: client %s is listed twice here",
                            cmd->cmd->name, c->client_id);
    APR_ARRAY_PUSH(dc->clients, ao2_client_t *) = c;
    rebind(cmd->pool, dc);
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
    rebind(cmd->pool, dcv);
    return NULL;
}

/* ITERATE: one call per value. */
const char *ao2_cmd_audience(cmd_parms *cmd, void *dcv, const char *arg)
{
    ao2_dir_conf_t *dc = dcv;

    if (!*arg || strlen(arg) > AO2_MAX_CLAIM_LEN)
        return apr_psprintf(cmd->pool,
                            "%s: \"%s\" is not an audience (1 to %d "
                            "characters)",
                            cmd->cmd->name, arg, AO2_MAX_CLAIM_LEN);
    if (dc->audiences == NULL)
        dc->audiences = apr_array_make(cmd->pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(dc->audiences, const char *) = apr_pstrdup(cmd->pool, arg);
    rebind(cmd->pool, dc);
    return NULL;
}

const char *ao2_cmd_email_verified(cmd_parms *cmd, void *dcv, const char *arg)
{
    ao2_dir_conf_t *dc = dcv;

    if (strcasecmp(arg, "required") == 0)
        dc->email_verified = 1;
    else if (strcasecmp(arg, "optional") == 0)
        dc->email_verified = 0;
    else
        return apr_psprintf(cmd->pool,
                            "%s: \"%s\" is neither required nor optional",
                            cmd->cmd->name, arg);
    rebind(cmd->pool, dc);
    return NULL;
}

const char *ao2_cmd_introspect_with(cmd_parms *cmd, void *dcv, const char *arg)
{
    if (find_provider(arg) == NULL)
        return apr_psprintf(cmd->pool,
                            "%s: unknown provider \"%s\" (define it with "
                            "ApiOAuth2Provider first)",
                            cmd->cmd->name, arg);
    ((ao2_dir_conf_t *)dcv)->introspect_with = apr_pstrdup(cmd->pool, arg);
    rebind(cmd->pool, dcv);
    return NULL;
}

const char *ao2_cmd_odoo_db(cmd_parms *cmd, void *dcv, const char *arg)
{
    ((ao2_dir_conf_t *)dcv)->odoo_db = apr_pstrdup(cmd->pool, arg);
    rebind(cmd->pool, dcv);
    return NULL;
}

const char *ao2_cmd_max_body(cmd_parms *cmd, void *dcv, const char *arg)
{
    long v = 0;
    const char *err = parse_number(cmd, arg, BYTES, 256, 1024 * 1024, &v);

    if (err)
        return err;
    ((ao2_dir_conf_t *)dcv)->max_body = v;
    return NULL;
}
