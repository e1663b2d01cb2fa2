# A stored record names the provider it came from (issue 7): when the
# configuration moves the client to another provider, or its provider's
# issuer changes under the same name, the record's refresh token goes to no
# provider and its access token is no Bearer credential; a revoke deletes it
# here only. One more httpd, restarted with each configuration, on a store
# and cache that outlive it (memcached).
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use File::Temp qw(tempdir);

plan tests => 22;

my $module = "$FindBin::Bin/../.libs/mod_api_oauth2.so";
my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $key = "$dir/store.key";
store_key($key);
my $mods = '/usr/lib/apache2/modules';
my $pp = port('provider');
my $p = "http://127.0.0.1:$pp";
my $mc = '127.0.0.1:' . port('memcached');
my ($port) = port('servers');    # its callback is registered at the provider
my $base = "http://127.0.0.1:$port";
my @basic = (basic => ['api-client', 'api-secret']);

# The client api-client of /jsonapiext on provider $use; p1 is at the test
# provider under issuer $p1_issuer, p2 is the same provider under another name.
sub conf {
    my ($use, $p1_issuer) = @_;
    my $ends = "authorize=$p/auth token=$p/token revoke=$p/token/revocation userinfo=$p/me"
        . " introspect=$p/token/introspection introspect_token_type=required";
    return <<"CONF";
LoadModule socache_memcache_module $mods/mod_socache_memcache.so
LoadModule api_oauth2_module $module
ApiOAuth2TokenStore socache:memcache:$mc
ApiOAuth2StoreKey file:$key
ApiOAuth2Cache memcache:$mc
ApiOAuth2Provider p1 issuer=$p1_issuer $ends
ApiOAuth2Provider p2 issuer=$p $ends
<Location /jsonapiext>
    ApiOAuth2API on
    ApiOAuth2Client $use api-client api-secret "scope=openid email offline_access"
    AuthType api-oauth2
    Require valid-user
    ProxyPass http://127.0.0.1:@{[port('backend')]}/jsonapiext
</Location>
CONF
}

my $log;
sub serve {
    extra_httpd_stop($port);
    $log = extra_httpd(port => $port, dir => $dir, conf => conf(@_));
}
sub log_text { open my $f, '<', $log or return ''; local $/; <$f> }
sub bearer { (api_call('GET', "$base/jsonapiext/res.partner", bearer => $_[0]))[0] }
sub refresh { api_call('POST', "$base/jsonapiext/oauth2/token",
                       json => { client_user_identity => 'moved-1' }, @basic) }

# --- A: authorized with p1 -----------------------------------------------------
serve('p1', $p);
my $tok = full_flow(api => "$base/jsonapiext", user => 'moved-1', login => 'otto');
ok($tok->{refresh_token}, 'tokens issued through provider p1');
is(bearer($tok->{access_token}), 200, 'its access token works (and its verdict is cached)');

# --- C: p1, but under another issuer ---------------------------------------------
serve('p1', "http://localhost:$pp");
provider_stats_reset();
my ($st, $js) = refresh();
is($st, 400, 'p1 under another issuer: the refresh is refused');
is($js->{error}, 'invalid_grant', '... with invalid_grant');
is(provider_stats()->{token}, 0, 'the refresh token went to no provider');
is(bearer($tok->{access_token}), 401,
   'the access token is refused (its verdict cached in memcached under p1 as it was counts for nothing)');
like(log_text(), qr/AO2B0016: a token issued to client api-client by provider p1 as it was configured before/,
     'the Bearer refusal is logged');

# --- B: the client now on p2 (the same server under another name) -------------
serve('p2', $p);
provider_stats_reset();
($st, $js) = refresh();
is($st, 400, 'client moved to p2: the refresh is refused');
is($js->{error}, 'invalid_grant', '... with invalid_grant');
like($js->{error_description} // '', qr/another provider.*authorize again/,
     '... saying why and what to do');
is(provider_stats()->{token}, 0, 'the refresh token went to no provider');
is(bearer($tok->{access_token}), 401, 'the access token is refused');
like(log_text(), qr/AO2E0011: the tokens of client api-client for login otto\@example\.com came from provider p1 \(\Q$p\E\), the client is now configured with provider p2/,
     'the refusal is logged');

# --- A again: the record is good with its own provider ---------------------------
serve('p1', $p);
my $new;
($st, $new) = refresh();
is($st, 200, 'back on p1 as it was: the record refreshes');
is(bearer($new->{access_token}), 200, 'and its new access token works');

# --- B again: a revoke deletes the record here only --------------------------------
serve('p2', $p);
provider_stats_reset();
($st, $js) = api_call('POST', "$base/jsonapiext/oauth2/revoke",
                      json => { client_user_identity => 'moved-1' }, @basic);
is($st, 200, 'revoke on p2 of a record from p1: 200');
ok($js->{revoked} && defined $js->{revoked_at_provider} && !$js->{revoked_at_provider},
   '... revoked, but not at a provider');
is(provider_stats()->{revocation}, 0, 'no revocation call');
ok((provider_introspect($new->{refresh_token}))[1]{active},
   'the provider still knows the refresh token: it was sent nowhere');
($st) = refresh();
is($st, 404, 'the record is gone');
like(log_text(), qr/AO2E0011: .* deleted here, revoked at no provider/, 'logged as such');

serve('p1', $p);
is(bearer($new->{access_token}), 401,
   'back on p1, the access token revoked here stays refused, though the provider calls it active');
