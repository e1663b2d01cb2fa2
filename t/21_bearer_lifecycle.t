# Revoked, refreshed-away, expired and foreign tokens; the cache never
# keeps a token alive.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

plan tests => 17;

my @basic = (basic => ['api-client', 'api-secret']);
sub get { (api_call('GET', $_[1] // '/jsonapiext/res.partner', bearer => $_[0]))[0] }

# Refreshed away: the old token dies at once, the new one works.
my $tok = full_flow(api => '/jsonapiext', client_id => 'api-client',
                    client_secret => 'api-secret', user => 'life-1', login => 'leo');
is(get($tok->{access_token}), 200, 'token works (and is now cached)');
my ($st, $new) = api_call('POST', '/jsonapiext/oauth2/token',
    json => { client_user_identity => 'life-1' }, @basic);
is($st, 200, 'refreshed');
is(get($tok->{access_token}), 401, 'refreshed-away token refused at once');
is(get($new->{access_token}), 200, 'new token works');

# Revoked: no window, although the token was cached a moment ago.
($st) = api_call('POST', '/jsonapiext/oauth2/revoke',
    json => { client_user_identity => 'life-1' }, @basic);
is($st, 200, 'revoked');
is(get($new->{access_token}), 401, 'revoked token refused at once');

# A token this module did not issue: introspected at the provider.
my $foreign = provider_tokens(login => 'mia', scope => 'openid email');
ok($foreign->{access_token}, 'got a token straight from the provider');
provider_stats_reset();
my (undef, $echo) = api_call('GET', '/jsonapiext/res.partner', bearer => $foreign->{access_token});
ok($echo && $echo->{headers}{'remote-user'}, 'foreign token accepted after introspection');
is($echo->{headers}{'remote-user'}, 'mia@example.com',
   'login from the login claim (email), at userinfo: never sub');
is($echo->{headers}{'x-odoo-db'}, 'testdb', 'db of the location');
is(get($foreign->{access_token}), 200, 'second use');
is(provider_stats()->{introspection}, 1, 'introspected once, then cached');
provider_revoke($foreign->{access_token});

# Unknown tokens: one introspection, then the negative cache answers.
provider_stats_reset();
my $junk = 'junk-' . random_string(20);
is(get($junk), 401, 'unknown token refused');
is(get($junk), 401, 'again');
is(provider_stats()->{introspection}, 1, 'negative cache: one provider call');

# Expired: short-client's tokens live three seconds at the provider.
my $short = full_flow(api => '/shorttoken', client_id => 'short-client',
                      client_secret => 'short-secret', user => 'short-1', login => 'ned');
is(get($short->{access_token}, '/shorttoken/x'), 200, 'short token works while valid');
select(undef, undef, undef, 0.1) while time <= $short->{expires_at};    # the clock is the condition
is(get($short->{access_token}, '/shorttoken/x'), 401,
   'expired token refused although it was cached');
