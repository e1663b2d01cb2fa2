# Two httpd servers with the same socache:memcache store, memcache cache and
# key behave as one: a token issued through one works on the other, a
# revoke or refresh on either takes effect on both.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use File::Temp qw(tempdir);
use IO::Socket::INET;

plan tests => 17;
my $bound = 1.0;    # seconds: SPEC's cross-server revocation bound

my $top = "$FindBin::Bin/..";
my $module = "$top/.libs/mod_api_oauth2.so";
my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $key = "$dir/shared.key";
store_key($key);
# Server C keeps its node-local copies for 2 seconds at most (ApiOAuth2CacheLocalTTL
# 2); A and B keep the default.
my @ports = port('servers');
my %local_ttl = ($ports[2] => 2);
my $mods = '/usr/lib/apache2/modules';
my $mc = '127.0.0.1:' . port('memcached');

sub conf_for {
    my ($port) = @_;
    return <<"CONF";
LoadModule socache_memcache_module $mods/mod_socache_memcache.so
LoadModule api_oauth2_module $module
ApiOAuth2TokenStore socache:memcache:$mc
ApiOAuth2StoreKey file:$key
ApiOAuth2Cache memcache:$mc
@{[ $local_ttl{$port} ? "ApiOAuth2CacheLocalTTL $local_ttl{$port}" : "" ]}
@{[shared_api_conf()]}
CONF
}

# extra_httpd dies with the error log when a server does not come up, and
# stops them all at the end of the test.
extra_httpd(port => $_, dir => $dir, conf => conf_for($_)) for @ports;
ok(!grep({ !IO::Socket::INET->new(PeerAddr => "127.0.0.1:$_", Timeout => 1) } @ports),
   'three more servers listen');
my ($a, $b, $c) = map { "http://127.0.0.1:$_" } @ports;
my @basic = (basic => ['api-client', 'api-secret']);
sub get { (api_call('GET', "$_[0]/jsonapiext/res.partner", bearer => $_[1]))[0] }

my $tok = full_flow(api => "$a/jsonapiext", client_id => 'api-client',
                    client_secret => 'api-secret', user => 'shared-1', login => 'uma');
ok($tok->{access_token}, 'tokens issued through server A');
is(get($b, $tok->{access_token}), 200, 'the token works on server B');
is(get($a, $tok->{access_token}), 200, 'and on server A');

my ($st, $new) = api_call('POST', "$b/jsonapiext/oauth2/token",
    json => { client_user_identity => 'shared-1' }, @basic);
is($st, 200, 'server B refreshes the record server A made');
is(get($b, $tok->{access_token}), 401, 'the refreshed-away token dies on B at once');
ok(wait_for(sub { get($a, $tok->{access_token}) == 401 }, $bound, 0.02),
   "and on A within the bound ($bound s: A had a node-local copy)");
is(get($a, $new->{access_token}), 200, 'the new token works on A');

($st) = api_call('POST', "$a/jsonapiext/oauth2/revoke",
    json => { client_user_identity => 'shared-1' }, @basic);
is($st, 200, 'server A revokes');
is(get($a, $new->{access_token}), 401, 'the revoked token dies on A at once');
ok(wait_for(sub { get($b, $new->{access_token}) == 401 }, $bound, 0.02),
   "and on B within the bound ($bound s)");
($st) = api_call('POST', "$b/jsonapiext/oauth2/token",
    json => { client_user_identity => 'shared-1' }, @basic);
is($st, 404, 'the record is gone for B too');

# Node-local copies (on by default; ApiOAuth2CacheLocalTTL caps their life)
# answer without memcached, and a revoke on another server still counts
# within the bound: the revocation log.
sub mc_hits { memcached_stat('get_hits') // -1 }
my $tok3 = full_flow(api => "$a/jsonapiext", client_id => 'api-client',
                     client_secret => 'api-secret', user => 'shared-2', login => 'vic');
is(get($c, $tok3->{access_token}), 200, 'server C: the token works');
my $hits = mc_hits();
is(get($c, $tok3->{access_token}), 200, 'server C: again');
is(mc_hits(), $hits, 'answered from the node-local copy, without memcached');
($st) = api_call('POST', "$a/jsonapiext/oauth2/revoke",
    json => { client_user_identity => 'shared-2' }, @basic);
is($st, 200, 'server A revokes');
ok(wait_for(sub { get($c, $tok3->{access_token}) == 401 }, $bound, 0.02),
   'server C refuses it within the bound, local copy or not');
