# The whole authorization-code flow against the real provider, with every
# field of the token information checked.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use URI;

plan tests => 29;

my ($st, $auth) = api_call('POST', '/jsonapiext/oauth2/provider/authorize',
    json => { client_id => 'api-client', client_user_identity => 'happy-1' },
    basic => ['api-client', 'api-secret']);
is($st, 200, 'authorize answers 200');
my $url = URI->new($auth->{authorization_url});
my %q = $url->query_form;
is($url->scheme . '://' . $url->host_port . $url->path,
   provider_url() . '/auth', 'authorization URL points at the provider');
is($q{response_type}, 'code', 'authorization-code grant');
is($q{client_id}, 'api-client', 'client_id in the URL');
is($q{redirect_uri}, 'http://127.0.0.1:' . port('httpd') . '/jsonapiext/oauth2/callback',
   'redirect URI derived from the ServerName, exactly');
is($q{state}, $auth->{state}, 'state in the URL is the one answered');
ok(length($q{state}) >= 43, 'state carries at least 256 bits');
ok(length($q{nonce} // '') >= 32, 'nonce present');
is($q{code_challenge_method}, 'S256', 'PKCE S256');
like($q{code_challenge}, qr/^[A-Za-z0-9_-]{43}$/, 'PKCE challenge is a SHA-256');
is($q{scope}, 'openid email offline_access', 'configured scope');
is($q{prompt}, 'consent', 'offline_access asks for consent');
is($auth->{expires_in}, 600, 'state lifetime announced');

my $callback = provider_login($auth->{authorization_url}, login => 'alice');
like($callback, qr{^http://127\.0\.0\.1:@{[port('httpd')]}/jsonapiext/oauth2/callback\?},
     'provider redirects to the callback');
my $t0 = time;
my ($cst, $info) = api_call('GET', URI->new($callback)->path_query);
is($cst, 200, 'callback answers 200');
ok(length($info->{access_token} // '') > 10, 'access_token');
ok(length($info->{refresh_token} // '') > 10, 'refresh_token (offline_access)');
is($info->{token_type}, 'Bearer', 'token_type');
ok($info->{expires_in} > 3500 && $info->{expires_in} <= 3600, 'expires_in');
ok(abs($info->{expires_at} - ($t0 + $info->{expires_in})) <= 2,
   'expires_at = issue time + expires_in');
like($info->{scope}, qr/\bopenid\b/, 'scope');
like($info->{id_token} // '', qr/^[\w-]+\.[\w-]+\.[\w-]*$/, 'id_token is a JWT');
is($info->{db}, 'testdb', 'db from ApiOAuth2OdooDatabase');
is($info->{login}, 'alice@example.com', 'login from the email claim');

# auth_params= of ApiOAuth2Client goes into the authorization URL, encoded,
# after what the module sets; its prompt= replaces the consent prompt that
# offline_access brings; and the provider still completes the flow.
($st, $auth) = api_call('POST', '/paramsapi/oauth2/provider/authorize',
    json => { client_id => 'api-client', client_user_identity => 'happy-params' },
    basic => ['api-client', 'api-secret']);
is($st, 200, 'authorize with auth_params answers 200');
my @pairs = URI->new($auth->{authorization_url})->query_form;
my %p = @pairs;
is_deeply([ @p{qw(ui_locales claims_locales prompt)} ], [ 'fr', 'fr de', 'login' ],
          'auth_params in the URL, decoded back as configured');
is(scalar(grep { $_ eq 'prompt' } @pairs[ grep { !($_ % 2) } 0 .. $#pairs ]), 1,
   'one prompt only: the configured one replaced consent');
like($auth->{authorization_url}, qr/&code_challenge_method=S256&ui_locales=fr&prompt=login&claims_locales=fr%20de$/,
     'after the parameters the module sets, encoded');
$callback = provider_login($auth->{authorization_url}, login => 'alice');
($cst, $info) = api_call('GET', URI->new($callback)->path_query);
ok($cst == 200 && length($info->{access_token} // '') > 10, 'the provider completes the flow')
    or diag "$cst";
