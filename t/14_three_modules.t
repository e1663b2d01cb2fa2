# mod_api_oauth2, mod_oauth2 and mod_auth_openidc (Debian's packages) in one
# httpd, each protecting its own location in front of the suite's backend:
# all three accept a good token and refuse a bad one, and their caches do not
# collide (ApiOAuth2Cache memcache:... next to mod_oauth2's own shm cache:
# before the ApiOAuth2 prefix, this module's cache directive had mod_oauth2's
# name and httpd gave it to mod_oauth2). The block configuring mod_oauth2
# below uses mod_oauth2's own directives, which SPEC.md leaves to it.
#
# The httpd runs on the first of port('servers') (the provider has its
# /jsonapiext callback registered, so our own authorization flow works
# there); mod_auth_openidc insists on an https introspection endpoint, so
# bench/https-proxy.mjs puts TLS (a throw-away certificate) in front of the
# test provider on port('spare', 10).
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();

my $mods = '/usr/lib/apache2/modules';
my @peers = ("$mods/mod_oauth2.so", "$mods/mod_auth_openidc.so");
if (my @missing = grep { !-e } @peers) {
    plan skip_all => "peer modules missing (make deps installs them): @missing";
}
plan tests => 24;

my $top    = "$FindBin::Bin/..";
my $module = "$top/.libs/mod_api_oauth2.so";
my $httpd  = httpd_bin();
my $dir    = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my ($port) = port('servers');
my $tls    = port('spare', 10);
my $p      = provider_url();
my $intro  = "https://127.0.0.1:$tls/token/introspection";
my $mc     = port('memcached');
my $be     = port('backend');

sub port_open { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$_[0]", Timeout => 1) }

# --- TLS in front of the provider ------------------------------------------------
system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
     . "-keyout $dir/tls.key -out $dir/tls.crt >/dev/null 2>&1") == 0
    or BAIL_OUT('openssl cannot make a certificate');
my $main_pid = $$;
my $proxy_pid = fork // die "fork: $!";
if ($proxy_pid == 0) {
    open STDIN, '<', '/dev/null';
    open STDOUT, '>', "$dir/https-proxy.log";
    open STDERR, '>&', \*STDOUT;
    { no warnings 'exec'; exec 'node', "$top/bench/https-proxy.mjs", '--port', $tls, '--target', $p,
        '--cert', "$dir/tls.crt", '--key', "$dir/tls.key"; }
    POSIX::_exit(127);
}

# --- one httpd, three modules ----------------------------------------------------
mkdir "$dir/store" or die;
if ($> == 0) { chown scalar(getpwnam 'nobody'), scalar(getgrnam 'nogroup'), "$dir/store" or die }
chmod 0700, "$dir/store";
store_key("$dir/store.key");
my $pass = random_string(24);
my $oauth2_opts = 'introspect.auth=client_secret_basic&client_id=rs-client&client_secret=rs-secret'
                . '&introspect.ssl_verify=false&verify.cache=x';
# One child: every cached verdict of mod_oauth2's shm cache is visible to
# every request (its cache is what the test counts).
my $mpm = <<'MPM';
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MinSpareThreads 1
MaxSpareThreads 8
MaxRequestWorkers 8
MPM
my $conf = <<"CONF";
LoadModule api_oauth2_module $module
LoadModule oauth2_module $mods/mod_oauth2.so
LoadModule auth_openidc_module $mods/mod_auth_openidc.so

# ---- mod_api_oauth2: memcached as its validation cache
ApiOAuth2TokenStore dbm:$dir/store/tokens
ApiOAuth2StoreKey file:$dir/store.key
ApiOAuth2Cache memcache:127.0.0.1:$mc
ApiOAuth2Provider testop issuer=$p authorize=$p/auth token=$p/token revoke=$p/token/revocation userinfo=$p/me introspect=$p/token/introspection introspect_token_type=required
<Location /jsonapiext>
    ApiOAuth2API on
    ApiOAuth2Client testop api-client api-secret "scope=openid email offline_access"
    ApiOAuth2OdooDatabase three
    AuthType api-oauth2
    Require valid-user
    ProxyPass http://127.0.0.1:$be/jsonapiext
</Location>

# ---- mod_oauth2: its own shm cache named x (the cache line before the verify line)
OAuth2CryptoPassphrase $pass
OAuth2Cache shm name=x
<Location /oauth2>
    AuthType oauth2
    OAuth2TokenVerify introspect $intro $oauth2_opts
    Require valid-user
    ProxyPass http://127.0.0.1:$be/oauth2
</Location>

# ---- mod_auth_openidc: resource-server mode, introspection over https
OIDCOAuthIntrospectionEndpoint $intro
OIDCOAuthIntrospectionEndpointAuth client_secret_basic
OIDCOAuthClientID rs-client
OIDCOAuthClientSecret rs-secret
OIDCOAuthSSLValidateServer Off
OIDCCryptoPassphrase $pass
OIDCCacheType shm
<Location /openidc>
    AuthType oauth20
    Require valid-user
    ProxyPass http://127.0.0.1:$be/openidc
</Location>
CONF

# httpd itself is stopped by AO2Test (extra_httpd) at the end.
END {
    return unless defined $main_pid && $$ == $main_pid;
    local $?;
    if ($proxy_pid) { kill TERM => $proxy_pid; waitpid $proxy_pid, 0 }
}

ok(wait_for(sub { port_open($tls) }, 20), "https proxy in front of the provider on $tls")
    or diag `cat $dir/https-proxy.log`;
my %server = (port => $port, dir => $dir, mpm => $mpm, conf => $conf);
my $file = extra_httpd_conf(%server);
my $t = `'$httpd' -t -f '$file' 2>&1`;
is($?, 0, 'httpd -t: the three modules and both cache lines are accepted') or diag $t;
unlike($t, qr/not registered|Invalid command/i, 'no cache type taken by the wrong module');
my $error_log = eval { extra_httpd(%server) } or BAIL_OUT("httpd did not start: $@");
ok(port_open($port), "httpd with the three modules listens on $port");
my $base = "http://127.0.0.1:$port";

sub get {
    my ($path, $token) = @_;
    my ($st, $js, $res) = api_call('GET', "$base$path", bearer => $token);
    return ($st, $js, $res);
}

# --- a good token through each module ------------------------------------------------
my $tok = full_flow(api => "$base/jsonapiext", user => 'three-1', login => 'tina');
ok($tok->{access_token}, 'a token through our own flow on the three-module server');
my $good = $tok->{access_token} // 'none';

my $sets = memcached_stat('cmd_set') // -1;
my ($st, $js) = get('/jsonapiext/res.partner', $good);
is($st, 200, 'mod_api_oauth2 (AuthType api-oauth2): the token passes');
is($js->{path}, '/jsonapiext/res.partner', '... to the backend');
is($js->{headers}{'remote-user'}, $tok->{login}, '... with Remote-User set to the login');
cmp_ok(memcached_stat('cmd_set') // -1, '>', $sets,
       'its verdict went to memcached (ApiOAuth2Cache memcache:...)');

provider_stats_reset();
($st, $js) = get('/oauth2/x', $good);
is($st, 200, 'mod_oauth2 (AuthType oauth2, introspect): the token passes');
is($js->{path}, '/oauth2/x', '... to the backend');
is(provider_stats()->{introspection}, 1, 'mod_oauth2 introspected it once');
($st) = get('/oauth2/x', $good);
is($st, 200, 'mod_oauth2 again');
is(provider_stats()->{introspection}, 1, '... from its own shm cache');

provider_stats_reset();
($st, $js) = get('/openidc/x', $good);
is($st, 200, 'mod_auth_openidc (AuthType oauth20, introspection over https): the token passes');
is($js->{path}, '/openidc/x', '... to the backend');
is(provider_stats()->{introspection}, 1, 'mod_auth_openidc introspected it');

# A token the module did not issue (straight from the provider to api-client):
# ours takes it through introspection, like the peers.
my $foreign = provider_tokens(login => 'tom', scope => 'openid email');
($st) = get('/jsonapiext/res.partner', $foreign->{access_token});
is($st, 200, 'mod_api_oauth2: a foreign token of its client passes through introspection');

# --- a bad token is refused by each ------------------------------------------------
my $bad = 'bad-' . random_string(24);
for my $path ('/jsonapiext/res.partner', '/oauth2/x', '/openidc/x') {
    my ($s, undef, $res) = get($path, $bad);
    is($s, 401, "$path: a bad token gets 401");
}
my (undef, undef, $res) = get('/jsonapiext/res.partner', $bad);
like($res->header('WWW-Authenticate') // '', qr/^Bearer .*error="invalid_token"/,
     'ours answers with its own Bearer challenge');
($st) = get('/oauth2/x', undef);
is($st, 401, 'mod_oauth2 without a token: 401');

# Nothing crashed, nothing complained about the others' directives.
my $log = `cat $error_log`;
unlike($log, qr/exit signal|segmentation|\[(?:[a-z_0-9]*:)?(?:crit|alert|emerg)\]/i,
       'error_log: no crash, nothing critical') or diag $log;
