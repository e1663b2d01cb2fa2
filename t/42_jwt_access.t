# JWT access tokens (RFC 9068) that the module did not issue: verified
# locally with the provider's JWKS (no introspection call), bound to the
# location's clients, and refused when forged, expired, for another client,
# unsigned (alg none) or signed by another key.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use MIME::Base64 qw(encode_base64url decode_base64url);

plan tests => 20;

sub get { (api_call(GET => $_[1] // '/jwtapi/res.partner', bearer => $_[0]))[0] }
sub parts { my @p = split /\./, $_[0]; return (json_decode(decode_base64url($p[0])), json_decode(decode_base64url($p[1])), $p[2]) }
sub b64json { encode_base64url(json_encode($_[0])) }

my $tok = provider_tokens(client_id => 'jwt-client', client_secret => 'jwt-secret',
                          login => 'jim', scope => 'openid email');
my ($h, $c, $sig) = parts($tok->{access_token} // '');
is($h->{typ}, 'at+jwt', 'the provider issues an RFC 9068 JWT access token') or diag explain $tok;
is($c->{client_id}, 'jwt-client', 'for jwt-client');

provider_stats_reset();
my ($st, $echo) = api_call(GET => '/jwtapi/res.partner', bearer => $tok->{access_token});
is($st, 200, 'a valid JWT access token passes');
is($echo->{headers}{'remote-user'}, 'jim', 'login from its sub');
is(provider_stats()->{introspection}, 0, 'checked locally: no introspection call');

# Refused, each for its own reason.
my $other = provider_tokens(client_id => 'api-client', client_secret => 'api-secret',
                            login => 'jim', scope => 'openid email');
my $short = provider_tokens(client_id => 'jwt-short', client_secret => 'jwt-secret',
                            login => 'jim', scope => 'openid email');
is(get($tok->{access_token}, '/jsonapiext/res.partner'), 401,
   'at a location of other clients (wrong audience): 401');
my %forged = (%$c, sub => 'admin');
is(get(join('.', b64json($h), b64json(\%forged), $sig)), 401, 'forged claims: 401');
is(get(join('.', b64json({ alg => 'none', typ => 'at+jwt' }), b64json($c), '')), 401,
   'alg none: 401');
is(get(join('.', b64json({ %$h, alg => 'HS256' }), b64json($c), $sig)), 401,
   'alg HS256: 401');
is(get(join('.', b64json($h), b64json($c), encode_base64url('x' x 256))), 401,
   'a signature by another key: 401');
is(get($tok->{id_token}), 401, 'its ID token is no access token: 401');
# An ID token asked for without a nonce (by another application of the same
# client, say): signed with the same keys, aud the location's client, no typ
# header, and no claim of an ID token's own (oidc-provider writes none).
my $bare = provider_tokens(client_id => 'jwt-client', client_secret => 'jwt-secret',
                           login => 'jim', scope => 'openid email', nonce => undef);
my (undef, $idc) = parts($bare->{id_token} // '');
ok(!exists $idc->{nonce} && ($idc->{aud} // '') eq 'jwt-client' && ($idc->{sub} // '') eq 'jim',
   'an ID token without a nonce, for jwt-client and jim') or diag explain $idc;
my ($ist, undef, $ires) = api_call(GET => '/jwtapi/res.partner', bearer => $bare->{id_token});
is($ist, 401, 'an ID token without a nonce is no access token either: 401');
like($ires->header('WWW-Authenticate') // '', qr/error="invalid_token"/, 'invalid_token');
is(get(join('.', b64json({ %$h, kid => 'no-such-key' }), b64json($c), $sig)), 401,
   'an unknown kid: 401');
provider_stats_reset();
is(get($other->{access_token}), 401, 'an opaque token of another client: 401');
is(provider_stats()->{introspection}, 1, 'which went to introspection');
ok($short->{access_token} && get($short->{access_token}) == 200, 'a short-lived JWT passes at first');
# testop has leeway=2 (extra.conf.in): 3 s of life and 2 s of leeway.
ok(wait_for(sub { get($short->{access_token}) == 401 }, 15, 0.5),
   'and is refused once expired');
like(error_log_text(), qr/AO2J0011: JWT access token of testop refused/, 'refusals are logged');
