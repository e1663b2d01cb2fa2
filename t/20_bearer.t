# AuthType api-oauth2 in front of the Odoo stand-in: what passes, what does
# not, and what the backend is told.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use IO::Socket::INET;

plan tests => 60;

my $tok = full_flow(api => '/jsonapiext', client_id => 'api-client',
                    client_secret => 'api-secret', user => 'bearer-1',
                    login => 'kate');
ok($tok->{access_token}, 'tokens issued');
my $at = $tok->{access_token};

sub backend {
    my (%opt) = @_;
    my $path = delete $opt{path} // '/jsonapiext/res.partner';
    return api_call('GET', $path, %opt);
}
sub challenge { $_[0]->header('WWW-Authenticate') // '' }

# A valid token reaches Odoo with the identity.
my ($st, $echo, $res) = backend(bearer => $at);
is($st, 200, 'valid token passes');
is($echo->{path}, '/jsonapiext/res.partner', 'backend reached');
is($echo->{headers}{'remote-user'}, 'kate@example.com', 'Remote-User');
is($echo->{headers}{'x-odoo-login'}, 'kate@example.com', 'X-Odoo-Login');
is($echo->{headers}{'x-odoo-db'}, 'testdb', 'X-Odoo-Db');
like($echo->{headers}{'x-oauth2-scope'}, qr/\bopenid\b/, 'X-OAuth2-Scope');

# Spoofed identity headers, in every spelling, are gone.
($st, $echo) = backend(bearer => $at, headers => [
    'Remote-User' => 'evil', 'Remote_User' => 'evil', 'REMOTE-USER' => 'evil',
    'X-Odoo-Login' => 'evil', 'x_odoo_login' => 'evil', 'X-ODOO-DB' => 'evil',
    'X_Odoo_Db' => 'evil', 'X-OAuth2-Scope' => 'admin', 'x_oauth2_scope' => 'admin']);
is($st, 200, 'spoofed headers do not stop a valid request');
my @raw = @{ $echo->{raw_headers} || [] };
my @spoofed = grep { /evil|^admin$/ } map { $_->[1] // '' } grep { ref } @raw;
ok(@raw && !@spoofed, 'no spoofed value reached the backend') or diag explain \@raw;
is($echo->{headers}{'remote-user'}, 'kate@example.com', 'only the module\'s Remote-User');

# ... also where no token is needed, under the API location.
($st, $echo) = backend(path => '/jsonapiext/public/x',
    headers => ['Remote-User' => 'evil', 'X_Odoo_Login' => 'evil']);
is($st, 200, 'public path under the API needs no token');
ok(!exists $echo->{headers}{'remote-user'} && !exists $echo->{headers}{'x-odoo-login'}
   && !exists $echo->{headers}{'x_odoo_login'},
   'identity headers stripped on unprotected paths too');

# Missing, malformed, doubled.
($st, undef, $res) = backend();
is($st, 401, 'no token: 401');
is(challenge($res), 'Bearer realm="Test API"', 'no error attribute when no token was sent');
for my $bad ('Bearer', 'Bearer ', 'Bearer a b', 'Bearer tok@en', "Bearer $at, Bearer $at", 'Bearer ===') {
    ($st, undef, $res) = backend(headers => [Authorization => $bad]);
    is($st, 401, "malformed '" . substr($bad, 0, 12) . "...' is 401");
    like(challenge($res), qr/error="invalid_token"/, '... with invalid_token');
}
# LWP folds repeated Authorization headers into one: send them raw.
{
    my $port = Apache::Test::vars('port');
    my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 10)
        or die "connect: $!";
    print $sock "GET /jsonapiext/res.partner HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              . "Authorization: Bearer $at\r\nAuthorization: Bearer $at\r\n"
              . "Connection: close\r\n\r\n";
    my $status_line = <$sock>;
    like($status_line // '', qr{^HTTP/1\.1 401 }, 'two Authorization headers: 401');
}
($st) = backend(headers => [Authorization => "bearer $at"]);
is($st, 200, 'scheme is case-insensitive');
($st) = backend(headers => [Authorization => "BEARER $at"]);
is($st, 200, 'upper-case scheme too');
($st, undef, $res) = backend(path => "/jsonapiext/res.partner?access_token=$at");
is($st, 401, 'a token in the query string is not a credential');
is(challenge($res), 'Bearer realm="Test API"', '... and counts as no token');
($st) = backend(headers => [Authorization => "Basic " . 'a' x 8]);
is($st, 401, 'another scheme: 401');

# Scope.
($st, undef, $res) = backend(path => '/jsonapiext/needs-admin/x', bearer => $at);
is($st, 403, 'missing scope: 403');
like(challenge($res), qr/error="insufficient_scope"/, 'insufficient_scope');
($st) = backend(path => '/jsonapiext/needs-email/x', bearer => $at);
is($st, 200, 'all required scopes granted: 200');

# Unknown token.
($st, undef, $res) = backend(bearer => 'not-a-token-we-know');
is($st, 401, 'unknown token: 401');
like(challenge($res), qr/error="invalid_token"/, 'invalid_token');

# The refresh token is never a Bearer credential.
($st) = backend(bearer => $tok->{refresh_token});
is($st, 401, 'refresh token refused as Bearer');
($st) = backend(bearer => $tok->{id_token});
is($st, 401, 'ID token refused as Bearer');

# The endpoints under the protected location need no Bearer token.
($st) = api_call('POST', '/jsonapiext/oauth2/provider/authorize',
    json => { client_user_identity => 'x' }, basic => ['api-client', 'api-secret']);
is($st, 200, 'endpoints bypass the Bearer check');

# The Bearer token is the client's credential for this module, not Odoo's:
# it stops here, unless the location says ApiOAuth2PassToken on.
($st, $echo) = backend(bearer => $at);
is($st, 200, 'a valid token passes ...');
ok(!exists $echo->{headers}{authorization}, '... and the backend sees no Authorization header')
    or diag explain $echo->{headers};
($st, $echo) = backend(path => '/jsonapiext/withtoken/x', bearer => $at);
is($st, 200, 'ApiOAuth2PassToken on: the token passes ...');
is($echo->{headers}{authorization}, "Bearer $at", '... and reaches the backend');

# Refusals are JSON, like every answer of the endpoints, beside the challenge.
sub refusal {
    my ($what, $res, $status, $error) = @_;
    is($res->code, $status, "$what: $status");
    is($res->header('Content-Type'), 'application/json', "$what: a JSON body");
    my $body = json_decode($res->decoded_content // '');
    is(ref $body eq 'HASH' ? $body->{error} : undef, $error, "$what: error $error");
}
(undef, undef, $res) = backend();
refusal('no token', $res, 401, 'invalid_request');
like(challenge($res), qr/^Bearer realm=/, 'no token: the challenge is still there');
(undef, undef, $res) = backend(bearer => 'not-a-token-we-know');
refusal('unknown token', $res, 401, 'invalid_token');
(undef, undef, $res) = backend(path => '/jsonapiext/needs-admin/x', bearer => $at);
refusal('missing scope', $res, 403, 'insufficient_scope');
(undef, undef, $res) = api_call(GET => '/deadbearer/x', bearer => 'foreign-token-nobody-can-check');
refusal('introspection down', $res, 503, 'temporarily_unavailable');

# The operator's ErrorDocument still wins.
(undef, undef, $res) = backend(path => '/jsonapiext/errdoc/x');
is($res->code, 401, 'ErrorDocument location: 401');
is($res->decoded_content, 'Bearer token needed here', "the operator's ErrorDocument is the body");
like(challenge($res), qr/^Bearer realm=/, '... beside the challenge');
