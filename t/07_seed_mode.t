# ApiOAuth2ClientAuthentication off: the original Odoo module's bare requests,
# and a provider that wants client_secret_post.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

plan tests => 9;

my $info = full_flow(api => '/seedapi', client_id => 'post-client',
                     client_secret => undef, user => 'seed-1', login => 'henry');
ok($info->{access_token}, 'bare client_id + client_user_identity flow works');
is($info->{login}, 'henry', 'login from the sub claim');
is($info->{db}, 'seeddb', 'db of this location');

my ($st, $next) = api_call('GET', '/seedapi/oauth2/token',
    query => { client_id => 'post-client', client_user_identity => 'seed-1' });
is($st, 200, 'bare refresh with query parameters');
isnt($next->{access_token}, $info->{access_token}, 'new access token');

my $e;
($st, $e) = api_call('GET', '/seedapi/oauth2/token',
    query => { client_id => 'nobody', client_user_identity => 'seed-1' });
is($st, 401, 'unknown client still refused');

($st, $e) = api_call('POST', '/seedapi/oauth2/revoke',
    json => { client_id => 'post-client', client_user_identity => 'seed-1' });
is($st, 200, 'bare revoke');
ok($e->{revoked}, 'revoked');

my $log = error_log_text();
like($log, qr/AO2C0008: ApiOAuth2ClientAuthentication is off for \/seedapi/,
     'start-up warned that client authentication is off');
