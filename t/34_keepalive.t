# One kept-alive connection sends the same token request after request (what
# API clients do): its last good verdict answers the next request without a
# cache lookup (ao2_memo.h), and a refresh or revoke made on another
# connection, by any process, ends it at once. Once on the main server
# (memcache cache, node-local copies, revocation log) and once on a server
# with ApiOAuth2Cache shm (no log: the forget count alone ends it).
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use File::Temp qw(tempdir);
use Time::HiRes qw(time);

plan tests => 2 * 10 + 2;

my @basic = (basic => ['api-client', 'api-secret']);

# A memo lives for the second it was made in: a check is only a test of
# what ends it when the memo would still be live. Start early in a second;
# the steps on loopback take milliseconds, and the caller checks they
# stayed within it.
sub early_in_a_second {
    select(undef, undef, undef, 0.01) while time - int(time) > 0.3;    # the clock is the condition
    return int(time);
}

sub lifecycle {
    my ($base, $name, $user, $cross) = @_;
    my $api = "$base/jsonapiext";
    my $tok = full_flow(api => $api, client_id => 'api-client',
                        client_secret => 'api-secret', user => $user, login => 'kai');
    my $conn = keepalive_connection($base);
    my $second = early_in_a_second();
    my ($st, $echo) = keepalive_get($conn, '/jsonapiext/res.partner', $tok->{access_token});
    is($st, 200, "$name: valid on a kept-alive connection");
    is($echo && $echo->{headers}{'remote-user'}, 'kai@example.com', "$name: its login");
    ($st, $echo) = keepalive_get($conn, '/jsonapiext/res.partner', $tok->{access_token});
    is($echo && $echo->{headers}{'remote-user'}, 'kai@example.com',
       "$name: the next request on it, the same login");
    if ($cross) {
        ($st) = keepalive_get($conn, $cross, $tok->{access_token});
        is($st, 401, "$name: on the same connection at $cross (another client): refused, the memo notwithstanding");
        ($st) = keepalive_get($conn, '/jsonapiext/res.partner', $tok->{access_token});
        is($st, 200, "$name: and back at /jsonapiext: valid");
    }
    my ($rst, $new) = api_call('POST', "$api/oauth2/token",
        json => { client_user_identity => $user }, @basic);
    is($rst, 200, "$name: refreshed on another connection");
    ($st) = keepalive_get($conn, '/jsonapiext/res.partner', $tok->{access_token});
    is($st, 401, "$name: the refreshed-away token is refused on the kept-alive connection at once");
    is(int(time), $second, "$name: within the second of its memo (else the last check proves nothing)");

    $second = early_in_a_second();
    ($st) = keepalive_get($conn, '/jsonapiext/res.partner', $new->{access_token});
    is($st, 200, "$name: the new token on the same connection");
    ($rst) = api_call('POST', "$api/oauth2/revoke", json => { client_user_identity => $user }, @basic);
    is($rst, 200, "$name: revoked on another connection");
    ($st) = keepalive_get($conn, '/jsonapiext/res.partner', $new->{access_token});
    is($st, 401, "$name: the revoked token is refused on the kept-alive connection at once");
    is(int(time), $second, "$name: within the second of its memo");
}

lifecycle(base_url(), 'memcache', 'keepalive-1', '/apib/x');

my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
store_key("$dir/store.key");
my ($port) = port('servers');
my $p = 'http://127.0.0.1:' . port('provider');
extra_httpd(port => $port, dir => $dir, conf => <<"CONF");
LoadModule api_oauth2_module $FindBin::Bin/../.libs/mod_api_oauth2.so
ApiOAuth2TokenStore dbm:$dir/tokens
ApiOAuth2StoreKey file:$dir/store.key
ApiOAuth2Cache shm
ApiOAuth2Provider testop issuer=$p authorize=$p/auth token=$p/token revoke=$p/token/revocation userinfo=$p/me introspect=$p/token/introspection introspect_token_type=required
<Location /jsonapiext>
    ApiOAuth2API on
    ApiOAuth2Client testop api-client api-secret "scope=openid email offline_access"
    ApiOAuth2OdooDatabase testdb
    AuthType api-oauth2
    Require valid-user
    ProxyPass http://127.0.0.1:@{[port('backend')]}/jsonapiext
</Location>
CONF
lifecycle("http://127.0.0.1:$port", 'shm', 'keepalive-2');
