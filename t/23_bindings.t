# A token is good for one API (issue 7): where it was issued, or where its
# audience is; the login is the login claim only, and a verified one; ID
# and refresh tokens are never Bearer credentials; a token without
# expires_in does not live for ever.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

plan tests => 36;

sub get {
    my ($token, $path) = @_;
    return api_call('GET', $path, bearer => $token);
}
sub status { (get(@_))[0] }
sub challenge { ($_[0]->header('WWW-Authenticate') // '') =~ /error="invalid_token"/ }

my $api = 'http://127.0.0.1:' . port('httpd');

# --- a token crosses API locations ------------------------------------------
my $a = full_flow(api => '/jsonapiext', user => 'bind-1', login => 'ria');
ok($a->{access_token}, 'token issued through /jsonapiext (testop, api-client)');
is(status($a->{access_token}, '/jsonapiext/x'), 200, 'works there (and is cached)');
my ($st, undef, $res) = get($a->{access_token}, '/apib/x');
is($st, 401, 'refused at /apib (another client of the same provider)');
ok(challenge($res), '... with invalid_token');
is(status($a->{access_token}, '/apic/x'), 401,
   'refused at /apic (another provider definition, same client id)');
is(status($a->{access_token}, '/jsonapiext/x'), 200,
   'still good at /jsonapiext: no cached verdict crossed either way');

# --- the checking location's own database and login policy (issue 19 L4) ---
my ($ost, $oecho) = get($a->{access_token}, '/otherdbapi/x');
is($ost, 401, 'refused at /otherdbapi (same provider and client, database otherdb)')
    or diag explain $oecho;
my $opt = full_flow(api => '/optapi', user => 'bind-5', login => 'unverified-ulla');
ok($opt->{access_token}, 'token issued at /optapi, where an unverified email is a login');
(undef, $oecho) = get($opt->{access_token}, '/optapi/x');
is($oecho && $oecho->{headers}{'remote-user'}, 'unverified-ulla@example.com', 'works there');
is(status($opt->{access_token}, '/jsonapiext/x'), 401,
   'refused at /jsonapiext (same provider, client and database; a verified email required)');
my $ver = full_flow(api => '/optapi', user => 'bind-6', login => 'vera');
ok($ver->{access_token}, 'a verified user through /optapi');
(undef, $oecho) = get($ver->{access_token}, '/jsonapiext/x');
is($oecho && $oecho->{headers}{'x-odoo-db'}, 'testdb', '... passes at /jsonapiext, with its database');
is(status($a->{access_token}, '/jsonapiext/x'), 200, "the first token still good where it was issued");

my $b = full_flow(api => '/apib', client_id => 'b-client', client_secret => 'b-secret',
                  user => 'bind-2', login => 'sam');
ok($b->{access_token}, 'token issued through /apib (b-client)');
my (undef, $echo) = get($b->{access_token}, '/apib/x');
is($echo && $echo->{headers}{'x-odoo-db'}, 'bdb', 'works at /apib with its database');
is(status($b->{access_token}, '/jsonapiext/x'), 401, 'refused at /jsonapiext');

# --- foreign tokens: whom they were issued to -------------------------------
my $foreign = provider_tokens(client_id => 'foreign-client', client_secret => 'foreign-secret',
    redirect_uri => "$api/foreign/callback", login => 'ann', scope => 'openid email');
ok($foreign->{access_token}, 'a token the provider issued to foreign-client');
($st, undef, $res) = get($foreign->{access_token}, '/jsonapiext/x');
is($st, 401, 'refused where only api-client counts');
ok(challenge($res), '... with invalid_token');
(undef, $echo) = get($foreign->{access_token}, '/audapi/x');
is($echo && $echo->{headers}{'remote-user'}, 'ann@example.com',
   'accepted where ApiOAuth2Audience names foreign-client (login from userinfo)');

# --- the login claim only ----------------------------------------------------
my $nomail = provider_tokens(login => 'nomail', scope => 'openid');
ok($nomail->{access_token}, 'a token without the email scope');
provider_stats_reset();
is(status($nomail->{access_token}, '/jsonapiext/x'), 401,
   'no email in the introspection answer nor at userinfo: refused, no fallback to sub');
is(provider_stats()->{userinfo}, 1, 'userinfo was asked');
my $mail = provider_tokens(login => 'mel', scope => 'openid email');
(undef, $echo) = get($mail->{access_token}, '/jsonapiext/x');
is($echo && $echo->{headers}{'remote-user'}, 'mel@example.com', 'with the scope: login from userinfo');

# --- email_verified -----------------------------------------------------------
my $unv = provider_tokens(login => 'unverified-uma', scope => 'openid email');
is(status($unv->{access_token}, '/jsonapiext/x'), 401, 'email_verified false: refused');
(undef, $echo) = get($unv->{access_token}, '/audapi/x');
is($echo && $echo->{headers}{'remote-user'}, 'unverified-uma@example.com',
   'accepted with ApiOAuth2EmailVerified optional');
my ($cst, $cjs) = full_flow(api => '/jsonapiext', user => 'bind-3', login => 'unverified-vic');
is($cst, 403, 'the callback does not issue tokens for an unverified email');
is($cjs && $cjs->{error}, 'access_denied', '... access_denied');

# --- logins with spaces at the ends -------------------------------------------
my $spaced = provider_tokens(login => 'tim@example.com ', scope => 'openid email');
ok($spaced->{access_token}, 'a user whose email ends with a space');
is(status($spaced->{access_token}, '/jsonapiext/x'), 401, 'refused');

# --- ID and refresh tokens are never Bearer credentials -----------------------
ok($a->{id_token} && $a->{refresh_token}, 'the flow gave an ID and a refresh token');
provider_stats_reset();
is(status($a->{id_token}, '/jsonapiext/x'), 401, 'the ID token: 401');
is(status($a->{refresh_token}, '/jsonapiext/x'), 401, 'the refresh token: 401');
is(provider_stats()->{introspection}, 0, 'both refused by their tombstones, not by the provider');

# --- no expires_in --------------------------------------------------------------
my $undated = full_flow(api => '/undated', client_id => 'undated-client',
                        client_secret => 'undated-secret', user => 'bind-4', login => 'una');
is($undated->{expires_in}, 3600, 'no expires_in from the provider: 3600 s here, and said so');
is(status($undated->{access_token}, '/undated/x'), 200, 'the token works');
