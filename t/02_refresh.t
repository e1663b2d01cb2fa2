# Refresh: a new access token, the rotated refresh token stored, the old
# refresh token dead at the provider.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use Time::HiRes ();

plan tests => 14;

my %client = (client_id => 'api-client', client_secret => 'api-secret');
my $first = full_flow(api => '/jsonapiext', %client, user => 'refresh-1',
                      login => 'carol');
ok($first->{refresh_token}, 'flow gave a refresh token');

my $t0 = time;
my ($st, $second) = api_call('POST', '/jsonapiext/oauth2/token',
    json => { client_user_identity => 'refresh-1' },
    basic => ['api-client', 'api-secret']);
is($st, 200, 'token endpoint refreshes');
isnt($second->{access_token}, $first->{access_token}, 'new access token');
isnt($second->{refresh_token}, $first->{refresh_token},
     'rotated refresh token returned');
ok(abs($second->{expires_at} - ($t0 + $second->{expires_in})) <= 2,
   'expires_at recomputed');
is($second->{login}, 'carol@example.com', 'login kept');
is($second->{db}, 'testdb', 'db kept');
my $refreshed = Time::HiRes::time();

# Within the refresh window another call answers the same tokens: other
# callers sharing the identity keep theirs.
my ($st2, $again) = api_call('POST', '/jsonapiext/oauth2/token',
    json => { client_user_identity => 'refresh-1' },
    basic => ['api-client', 'api-secret']);
is($st2, 200, 'a second call at once: 200');
ok($again->{access_token} eq $second->{access_token}
       && $again->{refresh_token} eq $second->{refresh_token},
   'within the refresh window: the same tokens');

# The record now holds the rotated token: past the window, a second
# refresh works.
past_refresh_window($refreshed);
my ($st3, $third) = api_call('POST', '/jsonapiext/oauth2/token',
    form => { client_id => 'api-client', client_user_identity => 'refresh-1' },
    basic => ['api-client', 'api-secret']);
is($st3, 200, 'second refresh uses the stored rotated token');
isnt($third->{access_token}, $second->{access_token}, 'another access token');

# Unknown identity.
my ($st4, $e4) = api_call('POST', '/jsonapiext/oauth2/token',
    json => { client_user_identity => 'nobody-here' },
    basic => ['api-client', 'api-secret']);
is($st4, 404, 'refresh of an unknown identity is 404');
is($e4->{error}, 'not_found', 'with a JSON error');

# Last, as reuse detection revokes the whole grant: the first refresh
# token is dead at the provider.
my ($pst, $perr) = provider_token_request(
    grant_type => 'refresh_token', refresh_token => $first->{refresh_token},
    client_id => 'api-client', client_secret => 'api-secret');
is($perr->{error}, 'invalid_grant', 'old refresh token refused by the provider');
