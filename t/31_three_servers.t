# Three httpd servers, two memcached servers, one Redis, one provider: the
# servers behave as one, with the store on socache:redis in one pass and on
# socache:memcache in the other (the validation cache on both memcached
# servers each time). What is proven, for each store:
#  - a token obtained through server 1 works on 2 and 3;
#  - a state made on 1 is completed by a callback that lands on 2 (all three
#    share one redirect URI, as behind a load balancer);
#  - a refresh on 2 kills the old token on all three within the bound (1 s),
#    though each server answers that token from its node-local copy until
#    it reads the revocation log (the time taken is printed as figure:);
#  - a revoke on 3 likewise, and the record is gone everywhere;
#  - concurrent refreshes of one identity spread over the three servers make
#    one refresh grant, every caller gets a usable token, and the rotated
#    refresh token still works afterwards;
#  - the second memcached server killed: all three keep serving known tokens,
#    unknown ones cost at most one provider call each.
# In the memcache pass the store lives on the first memcached only: a
# socache:memcache store spread over two servers loses the records of a
# server that dies (mod_socache_memcache has no replication), which
# docs/operations.md's "Running several servers" says.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes ();

my @stores = qw(redis memcache);
my $per_store = 23;
plan tests => 2 + $per_store * @stores;

my $top    = "$FindBin::Bin/..";
my $module = "$top/.libs/mod_api_oauth2.so";
my $dir    = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $key = "$dir/shared.key";
store_key($key);
my @ports = port('servers');
my ($mc1, $mc2, $redis) = (port('memcached'), port('spare', 40), port('spare', 41));
my $mods  = '/usr/lib/apache2/modules';
my $bound = 1.0;    # seconds: SPEC's cross-server revocation bound
# A short refresh window (ApiOAuth2RefreshWindow) on these servers: the
# refreshes below follow each other by design, and the window itself is
# t/35_refresh_window.t's subject.
my $window = 1;

sub port_open { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$_[0]", Timeout => 1) }

# --- services this test owns (AO2Test stops them at the end) -------------------
my @memcached2 = (port => $mc2, cmd => [qw(memcached -l 127.0.0.1 -p), $mc2, qw(-U 0 -u nobody -m 16)]);
ok(service_start('memcached2', @memcached2), "a second memcached on $mc2");
ok(service_start('redis', port => $redis, cmd => ['redis-server', '--bind', '127.0.0.1', '--port', $redis,
                 '--save', '', '--appendonly', 'no', '--protected-mode', 'yes']),
   "Redis on $redis");

sub conf_for {
    my ($port, $store) = @_;
    my $spec  = $store eq 'redis' ? "socache:redis:127.0.0.1:$redis" : "socache:memcache:127.0.0.1:$mc1";
    my $redir = "http://127.0.0.1:$ports[1]/jsonapiext/oauth2/callback";
    return <<"CONF";
LoadModule socache_memcache_module $mods/mod_socache_memcache.so
LoadModule socache_redis_module $mods/mod_socache_redis.so
LoadModule api_oauth2_module $module
ApiOAuth2TokenStore $spec
ApiOAuth2StoreKey file:$key
ApiOAuth2Cache memcache:127.0.0.1:$mc1,127.0.0.1:$mc2
ApiOAuth2CacheNegativeTTL 60
ApiOAuth2RefreshWindow $window
@{[shared_api_conf("    ApiOAuth2RedirectURI $redir")]}
CONF
}

# extra_httpd dies with the error log when a server does not come up.
sub start_servers {
    my ($store) = @_;
    extra_httpd(port => $_, dir => $dir, conf => conf_for($_, $store)) for @ports;
    return 1;
}
sub stop_servers { extra_httpd_stop($_) for @ports }

my @urls  = map { "http://127.0.0.1:$_" } @ports;
my @basic = (basic => ['api-client', 'api-secret']);
sub get { (api_call('GET', "$_[0]/jsonapiext/res.partner", bearer => $_[1]))[0] }
sub all_status { join ' ', map { get($_, $_[0]) } @urls }

# Seconds until $token is refused by every server (polled), or undef.
sub refused_everywhere_after {
    my ($t0, $token) = @_;
    my $ok = wait_for(sub { all_status($token) eq '401 401 401' }, 5, 0.02);
    return $ok ? Time::HiRes::time() - $t0 : undef;
}

for my $store (@stores) {
    ok(start_servers($store), "$store: three servers listen");
    my $user = "three-$store";

    # Authorize on server 1; the shared redirect URI lands the callback on 2.
    my ($st, $tok, undef, $info) = full_flow(api => "$urls[0]/jsonapiext",
        client_id => 'api-client', client_secret => 'api-secret', user => $user, login => 'tess');
    is($st, 200, "$store: state made on server 1, callback completed on server 2");
    like($info->{callback_url} // '', qr{^\Q$urls[1]\E/}, "$store: the callback did land on server 2");
    is(all_status($tok->{access_token}), '200 200 200', "$store: the token works on all three");

    # Refresh on 2: the old token dies everywhere within the bound.
    my $t0 = Time::HiRes::time();
    ($st, my $new) = api_call('POST', "$urls[1]/jsonapiext/oauth2/token",
        json => { client_user_identity => $user }, @basic);
    is($st, 200, "$store: server 2 refreshes");
    my $refreshed = Time::HiRes::time();
    is(get($urls[1], $tok->{access_token}), 401, "$store: the old token dies on server 2 at once");
    my $after = refused_everywhere_after($t0, $tok->{access_token});
    diag sprintf("figure: $store store: refreshed-away token refused on all three after %.3f s", $after // -1);
    ok(defined $after && $after <= $bound,
       sprintf("$store: the old token is refused on all three %.3f s after the refresh (bound %.1f s)",
               $after // -1, $bound));
    is(all_status($new->{access_token}), '200 200 200', "$store: the new token works on all three");

    # Concurrent refreshes of one identity, spread over the three servers,
    # once the window of the refresh above has passed.
    past_refresh_window($refreshed, $window);
    provider_stats_reset();
    provider_delay('token', 400);
    my $n = 12;
    my $i = 0;
    my @answers = concurrently($n, sub {
        my $url = $urls[$$ % 3];
        my ($s, $b) = api_call('POST', "$url/jsonapiext/oauth2/token",
            json => { client_user_identity => $user }, @basic);
        return "$s " . ($b->{access_token} // '-');
    });
    provider_delay('token', 0);
    $refreshed = Time::HiRes::time();
    my (%status, %tokens);
    for (@answers) {
        my ($s, $at) = split ' ';
        $status{$s // 'none'}++;
        $tokens{$at}++ if $at && $at ne '-';
    }
    is_deeply(\%status, { 200 => $n }, "$store: $n concurrent refreshes over three servers all got 200")
        or diag explain \%status;
    is(provider_stats()->{token}, 1, "$store: the provider saw one refresh grant");
    my @usable = grep { get($urls[1], $_) == 200 } keys %tokens;
    is(scalar @usable, scalar keys %tokens, "$store: every token a caller got is usable");
    past_refresh_window($refreshed, $window);
    ($st, $new) = api_call('POST', "$urls[2]/jsonapiext/oauth2/token",
        json => { client_user_identity => $user }, @basic);
    ok($st == 200 && !$tokens{$new->{access_token} // ''},
       "$store: the rotated refresh token was kept: a later refresh on 3 works");

    # Revoke on 3: refused everywhere within the bound, record gone. Each
    # server has the token in its node-local copy first.
    is(all_status($new->{access_token}), '200 200 200', "$store: the token to revoke works on all three");
    $t0 = Time::HiRes::time();
    ($st) = api_call('POST', "$urls[2]/jsonapiext/oauth2/revoke",
        json => { client_user_identity => $user }, @basic);
    is($st, 200, "$store: server 3 revokes");
    is(get($urls[2], $new->{access_token}), 401, "$store: refused on server 3 at once");
    $after = refused_everywhere_after($t0, $new->{access_token});
    diag sprintf("figure: $store store: revoked token refused on all three after %.3f s", $after // -1);
    ok(defined $after && $after <= $bound,
       sprintf("$store: refused on all three %.3f s after the revoke (bound %.1f s)", $after // -1, $bound));
    ($st) = api_call('POST', "$urls[0]/jsonapiext/oauth2/token",
        json => { client_user_identity => $user }, @basic);
    is($st, 404, "$store: the record is gone for server 1 too");

    # The second memcached dies: known tokens keep working everywhere, an
    # unknown token costs the provider at most one call per server.
    my $tok2 = full_flow(api => "$urls[0]/jsonapiext", client_id => 'api-client',
                         client_secret => 'api-secret', user => "$user-mc", login => 'ulla');
    is(all_status($tok2->{access_token}), '200 200 200', "$store: a second identity works on all three");
    service_stop('memcached2');
    ok(!port_open($mc2), "$store: memcached $mc2 is down");
    my @st = map { all_status($tok2->{access_token}) } 1 .. 5;
    is_deeply(\@st, [('200 200 200') x 5], "$store: with it down, the token keeps working on all three");
    # Its negative verdict may live on the dead server: each node then keeps
    # it in its outage table for at most a second, so the provider sees at
    # most one call per server and started second, not one per request.
    provider_stats_reset();
    my $bad = 'unknown-' . random_string(24);
    my $t1 = Time::HiRes::time();
    my @bad = map { all_status($bad) } 1 .. 10;
    my $secs = Time::HiRes::time() - $t1;
    is_deeply(\@bad, [('401 401 401') x 10], "$store: an unknown token is refused on all three");
    my $calls = provider_stats()->{introspection} // 0;
    my $max = 3 * (int($secs) + 2);
    ok($calls <= $max, sprintf("$store: 30 requests with it cost %d provider calls in %.2f s (at most %d)",
                               $calls, $secs, $max));

    stop_servers();
    ok(service_start('memcached2', @memcached2), "$store: memcached $mc2 back for the next pass");
}
