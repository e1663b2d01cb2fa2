# The second, independent provider: django-oauth-toolkit's OpenID Connect
# provider as Debian ships it (t/dot). /dotapi knows it by its issuer
# alone; /dotfull names the revocation and introspection endpoints, which
# DOT 1.7 does not advertise. The whole lifecycle and the Bearer checks, as
# t/01, t/02, t/03 and t/20 do them against oidc-provider.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use MIME::Base64 qw(decode_base64url);
use LWP::UserAgent;
use URI;

plan tests => 67;

my $issuer = dot_url() . '/o';
my @basic  = (basic => ['dot-client', 'dot-secret']);
my @dot    = (driver => \&dot_login, client_id => 'dot-client', client_secret => 'dot-secret');

sub jwt_part {
    my ($jwt, $n) = @_;
    my @p = split /\./, $jwt // '';
    return json_decode(decode_base64url($p[$n] // '')) || {};
}
sub backend {
    my ($api, %opt) = @_;
    return api_call('GET', "$api/res.partner", %opt);
}
sub challenge { $_[0]->header('WWW-Authenticate') // '' }

my $jwks = json_decode(LWP::UserAgent->new(env_proxy => 0, timeout => 10)
    ->get("$issuer/.well-known/jwks.json")->decoded_content);
my ($dot_kid) = map { $_->{kid} } @{ $jwks->{keys} || [] };
ok($dot_kid, "DOT publishes an RS256 key") or diag explain $jwks;

# --- authorize, login and consent at DOT, callback ---------------------------
my $mark = error_log_mark();
my ($st, $tok, undef, $info) = full_flow(api => '/dotapi', @dot, user => 'dot-1', login => 'alice');
my $t0 = time;
is($st, 200, 'callback through the discovered token endpoint') or diag explain $tok;
my $url = URI->new($info->{authorization_url} // '');
my %q = $url->query_form;
is($url->scheme . '://' . $url->host_port . $url->path, "$issuer/authorize/",
   'authorization URL from the discovered authorization_endpoint');
is($q{code_challenge_method}, 'S256', 'PKCE S256 (DOT requires it here)');
is($q{client_id}, 'dot-client', 'client_id in the URL');
like(error_log_text($mark), qr/AO2J0007: provider dot: metadata fetched/,
     "discovery found DOT's document behind its add-a-slash redirect");
ok(length($tok->{access_token} // '') > 10, 'access_token');
ok(length($tok->{refresh_token} // '') > 10, 'refresh_token');
is($tok->{token_type}, 'Bearer', 'token_type');
ok(($tok->{expires_in} // 0) > 3500 && $tok->{expires_in} <= 3600, 'expires_in');
ok(abs(($tok->{expires_at} // 0) - ($t0 + ($tok->{expires_in} // 0))) <= 2,
   'expires_at = issue time + expires_in');
is(join(' ', sort split ' ', $tok->{scope} // ''), 'email openid', 'scope');
is($tok->{db}, 'dotdb', 'db from ApiOAuth2OdooDatabase');
is($tok->{login}, 'alice@dot.example', 'login from the email claim of the ID token');
my $idh = jwt_part($tok->{id_token}, 0);
my $idc = jwt_part($tok->{id_token}, 1);
is($idh->{alg}, 'RS256', 'the ID token is signed RS256');
is($idh->{kid}, $dot_kid, "with DOT's published key");
is($idc->{iss}, $issuer, "its iss is DOT's issuer");
is($idc->{aud}, 'dot-client', 'its aud is the client');
ok(length($idc->{nonce} // '') >= 32, 'it carries the nonce of the authorization request');

# DOT signs the ID tokens of dot-hs with HS256 and the client secret, which
# no key of the JWKS checks: the module refuses them.
$mark = error_log_mark();
my ($hst, $herr) = full_flow(api => '/dothsapi', driver => \&dot_login, client_id => 'dot-hs',
                             client_secret => 'hs-secret', user => 'dot-hs', login => 'frank');
is($hst, 502, 'an HS256 ID token from DOT is refused');
is($herr->{error}, 'invalid_id_token', '... as an ID token that does not verify');
like(error_log_text($mark), qr/AO2J0009: ID token from provider dot refused: .*not allowed for its key/,
     '... for its algorithm');

# --- Bearer: the module's token -------------------------------------------
my $at = $tok->{access_token};
my ($bst, $echo) = backend('/dotapi', bearer => $at);
is($bst, 200, "the module's token passes");
is($echo->{path}, '/dotapi/res.partner', 'backend reached');
is($echo->{headers}{'remote-user'}, 'alice@dot.example', 'Remote-User');
is($echo->{headers}{'x-odoo-login'}, 'alice@dot.example', 'X-Odoo-Login');
is($echo->{headers}{'x-odoo-db'}, 'dotdb', 'X-Odoo-Db');
like($echo->{headers}{'x-oauth2-scope'} // '', qr/\bopenid\b/, 'X-OAuth2-Scope');
my $res;
($bst, undef, $res) = backend('/dotapi', bearer => $tok->{refresh_token});
is($bst, 401, 'the refresh token is no Bearer credential');
like(challenge($res), qr/error="invalid_token"/, '... invalid_token');
($bst) = backend('/dotapi', bearer => $tok->{id_token});
is($bst, 401, 'the ID token is no Bearer credential');
($bst, undef, $res) = backend('/dotapi', bearer => 'garbage-' . random_string(8));
is($bst, 401, 'garbage: 401');
like(challenge($res), qr/^Bearer realm="DOT API", error="invalid_token"/, '... invalid_token');
($bst, undef, $res) = backend('/dotapi');
is(challenge($res), 'Bearer realm="DOT API"', 'no token: a challenge without error');

# --- refresh ------------------------------------------------------------------
my ($rst, $ref) = api_call('POST', '/dotapi/oauth2/token',
    json => { client_id => 'dot-client', client_user_identity => 'dot-1' }, @basic);
is($rst, 200, 'refresh through the discovered token endpoint') or diag explain $ref;
isnt($ref->{access_token}, $at, 'a new access token');
isnt($ref->{refresh_token}, $tok->{refresh_token}, 'DOT rotated the refresh token');
is($ref->{login}, 'alice@dot.example', 'login kept');
is(jwt_part($ref->{id_token}, 1)->{sub}, $idc->{sub}, 'a new ID token, same sub (verified)');
is((backend('/dotapi', bearer => $ref->{access_token}))[0], 200, 'the new token passes');
is((backend('/dotapi', bearer => $at))[0], 401, 'the old access token is refused');
ok(!dot_introspect($at)->{active}, '... and DOT dropped it with the old refresh token');
my (undef, $old) = dot_token_request(grant_type => 'refresh_token',
                                     refresh_token => $tok->{refresh_token});
is($old->{error}, 'invalid_grant', 'the old refresh token is dead at DOT');

# --- foreign tokens -------------------------------------------------------------
# Issued by DOT to the location's client without the module.
my $foreign = dot_tokens(login => 'bob');
ok($foreign->{access_token}, 'DOT issues dot-client a token directly');
is((backend('/dotapi', bearer => $foreign->{access_token}))[0], 401,
   'by the issuer alone no introspection endpoint is known: refused');
($bst, $echo) = backend('/dotfull', bearer => $foreign->{access_token});
is($bst, 200, 'with introspect= it passes DOT\'s introspection');
is($echo->{headers}{'remote-user'}, 'bob@dot.example', '... the login from DOT\'s userinfo');
ok(!dot_introspect($foreign->{refresh_token})->{active},
   'DOT introspects access tokens only: a refresh token is not active');
is((backend('/dotfull', bearer => $foreign->{refresh_token}))[0], 401,
   'a foreign refresh token: refused');
$mark = error_log_mark();
is((backend('/dotfull', bearer => $foreign->{id_token}))[0], 401, 'a foreign ID token: refused');
like(error_log_text($mark), qr/AO2J0011: .* refused: it is not an access token/,
     '... as an ID token');
my $other = dot_tokens(client_id => 'dot-other', client_secret => 'other-secret', login => 'carol');
ok(dot_introspect($other->{access_token})->{active}, "dot-other's token is active at DOT");
$mark = error_log_mark();
($bst, undef, $res) = backend('/dotfull', bearer => $other->{access_token});
is($bst, 401, 'a token DOT issued to another client: refused');
like(challenge($res), qr/error="invalid_token"/, '... invalid_token');
like(error_log_text($mark), qr/AO2B0012: a token dotfull issued to another client refused/,
     '... for its audience (client_id)');

# --- revoke -------------------------------------------------------------------
# By the issuer alone: the record goes, the token stays alive at DOT.
my ($vst, $rev) = api_call('POST', '/dotapi/oauth2/revoke',
    json => { client_id => 'dot-client', client_user_identity => 'dot-1' }, @basic);
is($vst, 200, 'revoke answers 200');
is_deeply($rev, { revoked => JSON::PP::true(), revoked_at_provider => JSON::PP::false() },
          'no revocation endpoint discovered: revoked here only, and it says so');
is((backend('/dotapi', bearer => $ref->{access_token}))[0], 401, 'the revoked token is refused');
ok(dot_introspect($ref->{access_token})->{active}, '... though DOT still has it');
is((api_call('POST', '/dotapi/oauth2/token',
    json => { client_id => 'dot-client', client_user_identity => 'dot-1' }, @basic))[0], 404,
   'the record is gone');

# With revoke=: revoked at DOT too.
($st, $tok) = full_flow(api => '/dotfull', @dot, user => 'dot-2', login => 'dave');
is($st, 200, 'the lifecycle at /dotfull') or diag explain $tok;
is((backend('/dotfull', bearer => $tok->{access_token}))[0], 200, 'its token passes');
($vst, $rev) = api_call('POST', '/dotfull/oauth2/revoke',
    json => { client_id => 'dot-client', client_user_identity => 'dot-2' }, @basic);
is_deeply([$vst, $rev], [200, { revoked => JSON::PP::true() }], 'revoked at DOT too');
ok(!dot_introspect($tok->{access_token})->{active}, 'the access token is gone at DOT');
(undef, $old) = dot_token_request(grant_type => 'refresh_token', refresh_token => $tok->{refresh_token});
is($old->{error}, 'invalid_grant', 'the refresh token is dead at DOT');
is((backend('/dotfull', bearer => $tok->{access_token}))[0], 401, 'the token is refused');
is((api_call('POST', '/dotfull/oauth2/token',
    json => { client_id => 'dot-client', client_user_identity => 'dot-2' }, @basic))[0], 404,
   'the record is gone');
