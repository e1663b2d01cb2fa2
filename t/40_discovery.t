# A provider configured with issuer= alone (discop in extra.conf.in): its
# endpoints and keys come from discovery, fetched once for all httpd
# processes; the callback's iss is checked (RFC 9207); ID token signatures
# follow a key rotation through the unknown-kid refetch, rate-limited.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use LWP::UserAgent;
use URI;

plan tests => 31;

my @basic = (basic => ['api-client', 'api-secret']);
my $ua = LWP::UserAgent->new(timeout => 10, env_proxy => 0);

sub rotate {
    my ($keep) = @_;
    my $res = $ua->post(provider_url() . '/__rotate_keys' . ($keep ? '?keep=1' : ''));
    die 'rotate: ' . $res->status_line unless $res->is_success;
    return json_decode($res->decoded_content)->{kids};
}

# The middle part of a JWT, decoded.
sub jwt_header {
    my ($jwt) = @_;
    require MIME::Base64;
    my ($h) = split /\./, $jwt // '';
    return json_decode(MIME::Base64::decode_base64url($h // '')) || {};
}

my $before = provider_stats();

# --- the whole lifecycle with only the issuer configured ---------------------
my ($st, $tok, undef, $info) = full_flow(api => '/discapi', user => 'disc-1', login => 'dora');
is($st, 200, 'callback through a discovered token endpoint') or diag explain $tok;
like($info->{authorization_url}, qr{^\Q@{[provider_url()]}\E/auth\?},
     'authorization URL from the discovered authorization_endpoint');
is($tok->{login}, 'dora@example.com', 'login from the verified ID token');
is($tok->{db}, 'discdb', 'db of the location');
is((api_call('GET', '/discapi/res.partner', bearer => $tok->{access_token}))[0], 200,
   'Bearer check on the location');
my ($rst, $refreshed) = api_call('POST', '/discapi/oauth2/token',
    json => { client_id => 'api-client', client_user_identity => 'disc-1' }, @basic);
is($rst, 200, 'refresh through the discovered token endpoint') or diag explain $refreshed;
isnt($refreshed->{access_token}, $tok->{access_token}, 'a new access token');
my ($vst, $revoked) = api_call('POST', '/discapi/oauth2/revoke',
    json => { client_id => 'api-client', client_user_identity => 'disc-1' }, @basic);
is($vst, 200, 'revoke through the discovered revocation endpoint');
ok($revoked->{revoked} && !exists $revoked->{revoked_at_provider},
   'revoked at the provider too') or diag explain $revoked;
is((api_call('GET', '/discapi/res.partner', bearer => $refreshed->{access_token}))[0], 401,
   'the revoked token no longer passes');
my $after = provider_stats();
is($after->{discovery} - $before->{discovery}, 1,
   'one discovery fetch for the whole lifecycle, whichever process served it');
is($after->{jwks} - $before->{jwks}, 1, 'one JWKS fetch');

# A token the module did not issue: introspected at the discovered
# introspection endpoint, the login from the discovered userinfo.
provider_stats_reset();
my $foreign = provider_tokens(login => 'fay', scope => 'openid email');
my ($fst, $fecho) = api_call('GET', '/discapi/res.partner', bearer => $foreign->{access_token});
is($fst, 200, 'a foreign opaque token passes through the discovered introspection endpoint');
is(provider_stats()->{introspection}, 1, 'one introspection call');

# --- RFC 9207: the callback's iss --------------------------------------------
my $disco = json_decode($ua->get(provider_url() . '/.well-known/openid-configuration')->decoded_content);
ok($disco->{authorization_response_iss_parameter_supported},
   'the test provider advertises the iss parameter');
for my $case (['a forged iss', 'http://evil.example'],
              ['the issuer with a trailing slash', provider_url() . '/'],
              ['no iss', undef]) {
    my ($name, $iss) = @$case;
    my ($cst, $err, undef, $i) = full_flow(api => '/discapi', user => 'disc-iss', login => 'ivy',
        callback => sub {
            my $u = URI->new($_[0]);
            my %q = $u->query_form;
            $u->query_form(map { $_ => $q{$_} } grep { $_ ne 'iss' } sort keys %q);
            $u->query_form($u->query_form, iss => $iss) if defined $iss;
            return $u->as_string;
        });
    is($cst, 400, "$name in the callback: 400");
    like($err->{error_description} // '', qr/RFC 9207/, "$name: says why");
}

# --- key rotation ---------------------------------------------------------------
my $mark = error_log_mark();
my $kids = rotate(0);
($st, $tok) = full_flow(api => '/discapi', user => 'disc-2', login => 'rex');
is($st, 200, 'after a rotation (old key dropped) the new ID token verifies') or diag explain $tok;
is(jwt_header($tok->{id_token})->{kid}, $kids->[0], 'it is signed with the new key');
like(error_log_text($mark), qr/AO2J0007: provider discop: JWKS fetched/,
     'the unknown kid made the module fetch the JWKS again');

# A second rotation right away: the JWKS may be fetched again only after
# AO2_DEFAULT_JWKS_MIN_REFETCH (10 s), so the newest key is unknown for now.
$kids = rotate(1);
($st, $tok) = full_flow(api => '/discapi', user => 'disc-3', login => 'sam');
is($st, 502, 'a second unknown kid within 10 s: refused, not fetched again');
is($tok->{error}, 'invalid_id_token', 'as an ID token that does not verify');
my $ok = wait_for(sub {
    my ($s, $t) = full_flow(api => '/discapi', user => 'disc-3', login => 'sam');
    return $s == 200 && $t;
}, 20, 1);
ok($ok, 'once the rate limit has passed, the new key is fetched and verifies');
is(jwt_header($ok ? $ok->{id_token} : '')->{kid}, $kids->[0], 'with the newest key');

# A refresh after the rotation: its ID token is checked with the new keys
# and must name the same sub as the one on record.
($rst, $refreshed) = api_call('POST', '/discapi/oauth2/token',
    json => { client_id => 'api-client', client_user_identity => 'disc-3' }, @basic);
is($rst, 200, 'refresh after the rotation') or diag explain $refreshed;
is(jwt_header($refreshed->{id_token})->{kid}, $kids->[0],
   'its ID token (signed with the newest key) verified');

# The jsonapiext location's provider (endpoints configured, JWKS from its
# issuer's discovery) follows the rotation too.
($st, $tok) = full_flow(api => '/jsonapiext', user => 'disc-4', login => 'ann');
is($st, 200, 'a provider with explicit endpoints follows the rotation') or diag explain $tok;
