# Revoke: revoked at the provider, record deleted, later calls 404.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

plan tests => 10;

my $info = full_flow(api => '/jsonapiext', client_id => 'api-client',
                     client_secret => 'api-secret', user => 'revoke-1',
                     login => 'dave');
ok($info->{access_token}, 'got tokens');
my $before = provider_introspect($info->{access_token});
ok($before->{active}, 'access token active at the provider before');

provider_stats_reset();
my ($st, $body) = api_call('POST', '/jsonapiext/oauth2/revoke',
    json => { client_id => 'api-client', client_user_identity => 'revoke-1' },
    basic => ['api-client', 'api-secret']);
is($st, 200, 'revoke answers 200');
is_deeply($body, { revoked => JSON::PP::true() }, '{"revoked": true}');
is(provider_stats()->{revocation}, 2, 'refresh and access token revoked');
ok(!provider_introspect($info->{access_token})->{active},
   'access token inactive at the provider');
ok(!provider_introspect($info->{refresh_token})->{active},
   'refresh token inactive at the provider');

my ($st2, $e2) = api_call('POST', '/jsonapiext/oauth2/token',
    json => { client_id => 'api-client', client_user_identity => 'revoke-1' },
    basic => ['api-client', 'api-secret']);
is($st2, 404, 'refresh after revoke is 404');
is($e2->{error}, 'not_found', 'JSON error');
my ($st3) = api_call('POST', '/jsonapiext/oauth2/revoke',
    json => { client_user_identity => 'revoke-1' },
    basic => ['api-client', 'api-secret']);
is($st3, 404, 'second revoke is 404');
