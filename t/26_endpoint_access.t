# The endpoints are never behind the Bearer check, but every other access
# control on them holds: Require ip, Require all denied.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

plan tests => 13;

my @basic = (basic => ['api-client', 'api-secret']);
my %who = (client_id => 'api-client', client_user_identity => 'guard-1');

# authorize and callback need no Bearer token under "Require valid-user".
my ($st, $tok) = full_flow(api => '/guardedapi', user => 'guard-1', login => 'gus');
is($st, 200, 'authorize and callback work without a Bearer token');
ok($tok->{access_token}, 'tokens issued');

# <Location /guardedapi/oauth2/token> Require ip 127.0.0.1: met.
my ($s2, $t2) = api_call(POST => '/guardedapi/oauth2/token', json => \%who, @basic);
is($s2, 200, 'token endpoint: its own Require ip 127.0.0.1 is met');
ok($t2->{access_token}, '... and it refreshed');

# <Location /guardedapi/oauth2/revoke> Require ip 10.0.0.0/8: not met.
my ($s3, undef, $r3) = api_call(POST => '/guardedapi/oauth2/revoke', json => \%who, @basic);
is($s3, 403, 'revoke endpoint: Require ip 10.0.0.0/8 refuses 127.0.0.1');
unlike($r3->header('WWW-Authenticate') // '', qr/Bearer/, '... as a 403, not a Bearer challenge');
is((api_call(GET => '/guardedapi/res.partner', bearer => $t2->{access_token}))[0], 200,
   'the refused revoke revoked nothing');

# The rest of the API location still needs a token.
my ($s4, undef, $r4) = api_call(GET => '/guardedapi/res.partner');
is($s4, 401, 'API paths still need a Bearer token');
like($r4->header('WWW-Authenticate') // '', qr/^Bearer /, '... with a Bearer challenge');

# <Location /deniedapi/oauth2> Require all denied.
my ($s5) = api_call(POST => '/deniedapi/oauth2/provider/authorize',
    json => { client_id => 'api-client', client_user_identity => 'guard-2' }, @basic);
is($s5, 403, 'Require all denied on the endpoints: 403');

# An API location with "Require api-oauth2-scope": the endpoints still serve
# (the scope is part of the waived Bearer requirement), the API does not.
my ($s6, $a6) = api_call(POST => '/scopeapi/oauth2/provider/authorize',
    json => { client_id => 'api-client', client_user_identity => 'guard-3' }, @basic);
is($s6, 200, 'Require api-oauth2-scope on the API location: endpoints serve');
ok($a6->{authorization_url}, '... an authorization URL');
is((api_call(GET => '/scopeapi/res.partner'))[0], 401, '... and the API needs a token');
