#!/usr/bin/perl
# Standalone check of the test provider and of AO2Test's provider helpers.
# Needs the provider running (node t/provider/server.mjs); not part of t/TEST.
#   perl t/provider/smoke.pl
# Prints TAP.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use URI;
use AO2Test;

my $P = provider_url();
my $redir = 'http://127.0.0.1:8529/jsonapiext/oauth2/callback';

my ($st, $js) = api_call(GET => "$P/.well-known/openid-configuration");
is $st, 200, 'discovery';
is $js->{issuer}, $P, 'issuer';
is_deeply $js->{code_challenge_methods_supported}, ['S256'], 'S256 only';

provider_stats_reset();
is_deeply provider_stats(), { token => 0, introspection => 0, revocation => 0, userinfo => 0, auth => 0 },
    'stats reset';

# --- authorization code + PKCE, built by hand --------------------------------
my ($verifier, $challenge) = pkce_pair();
my ($state, $nonce) = (random_string(16), random_string(16));
my $url = authorization_url(client_id => 'api-client', redirect_uri => $redir,
    state => $state, nonce => $nonce, code_challenge => $challenge);
my ($cb, $visited) = provider_login($url, login => 'alice', password => 'x');
note "visited: @$visited";
like $cb, qr{^\Q$redir\E\?}, 'redirected to the callback';
my %q = URI->new($cb)->query_form;
is $q{state}, $state, 'state returned';
ok $q{code}, 'code returned';
note "callback params: @{[ sort keys %q ]}";

($st, $js) = provider_token_request(grant_type => 'authorization_code', code => $q{code},
    redirect_uri => $redir, code_verifier => 'wrong' x 11);
is $st, 400, 'wrong verifier rejected';
is $js->{error}, 'invalid_grant', 'wrong verifier: invalid_grant';
note "wrong verifier: $js->{error} / $js->{error_description}";

# a fresh code (the failed attempt consumed the previous one? check both)
($st, $js) = provider_token_request(grant_type => 'authorization_code', code => $q{code},
    redirect_uri => $redir, code_verifier => $verifier);
note "code after failed attempt: $st " . json_encode($js);

($verifier, $challenge) = pkce_pair();
$url = authorization_url(client_id => 'api-client', redirect_uri => $redir,
    state => $state, nonce => $nonce, code_challenge => $challenge);
%q = URI->new(provider_login($url, login => 'alice'))->query_form;
($st, $js) = provider_token_request(grant_type => 'authorization_code', code => $q{code},
    redirect_uri => $redir, code_verifier => $verifier);
is $st, 200, 'code exchanged (basic auth)' or diag json_encode($js);
ok $js->{$_}, "has $_" for qw(access_token refresh_token id_token expires_in);
is $js->{token_type}, 'Bearer', 'token_type Bearer';
is $js->{expires_in}, 3600, 'expires_in 3600';
like $js->{scope}, qr/offline_access/, 'scope has offline_access';
note "token response keys: @{[ sort keys %$js ]}; scope=$js->{scope}";
my $tok = $js;

my %code1 = (code => $q{code}, verifier => $verifier);

# userinfo
($st, $js) = api_call(GET => "$P/me", bearer => $tok->{access_token});
is $st, 200, 'userinfo';
is $js->{email}, 'alice@example.com', 'email claim';
is $js->{sub}, 'alice', 'sub claim';

# introspection
($st, $js) = provider_introspect($tok->{access_token});
is $st, 200, 'introspection';
ok $js->{active}, 'access token active';
note 'introspection: ' . json_encode($js);
($st, $js) = provider_introspect($tok->{refresh_token});
note 'introspection of refresh token: ' . json_encode($js);
($st, $js) = provider_introspect('nonsense');
is_deeply $js, { active => JSON::PP::false }, 'unknown token inactive';
($st, $js) = provider_introspect($tok->{access_token}, client_id => 'api-client', client_secret => 'api-secret');
is $st, 200, 'api-client may introspect too';

# refresh: rotation
($st, $js) = provider_token_request(grant_type => 'refresh_token', refresh_token => $tok->{refresh_token});
is $st, 200, 'refresh';
ok $js->{refresh_token} && $js->{refresh_token} ne $tok->{refresh_token}, 'refresh token rotated';
note "refresh response keys: @{[ sort keys %$js ]}";
my $tok2 = $js;
($st, $js) = provider_token_request(grant_type => 'refresh_token', refresh_token => $tok->{refresh_token});
is $st, 400, 'old refresh token refused';
is $js->{error}, 'invalid_grant', 'old refresh token: invalid_grant';
note "reused refresh token: $js->{error} / $js->{error_description}";
($st, $js) = provider_token_request(grant_type => 'refresh_token', refresh_token => $tok2->{refresh_token});
is $st, 400, 'reuse revoked the whole grant (new refresh token dead too)';
note "after reuse, newest refresh token: " . json_encode($js);
($st, $js) = provider_introspect($tok2->{access_token});
note "after reuse, newest access token: " . json_encode($js);

# bad secret / unknown client
($st, $js) = provider_token_request(client_secret => 'WRONG-secret', grant_type => 'refresh_token', refresh_token => 'x');
is $st, 401, 'bad secret 401';
is $js->{error}, 'invalid_client', 'bad secret: invalid_client';
note "bad secret: $st $js->{error} / $js->{error_description}";
($st, $js) = provider_token_request(client_id => 'nobody', client_secret => 'x', grant_type => 'refresh_token', refresh_token => 'x');
is $js->{error}, 'invalid_client', 'unknown client: invalid_client';
note "unknown client: $st $js->{error} / $js->{error_description}";

# post-client (client_secret_post) + revocation
($st, $js) = provider_tokens(client_id => 'post-client', client_secret => 'post-secret', auth => 'post',
    redirect_uri => 'http://127.0.0.1:8529/seedapi/oauth2/callback', login => 'bob@corp.test');
is $st, 200, 'post-client flow' or diag json_encode($js);
my $ptok = $js;
($st, $js) = api_call(GET => "$P/me", bearer => $ptok->{access_token});
is $js->{email}, 'bob@corp.test', 'email claim for a login with @';
($st, $js) = provider_token_request(client_id => 'post-client', client_secret => 'post-secret',
    grant_type => 'refresh_token', refresh_token => $ptok->{refresh_token});
is $st, 401, 'post-client with basic auth refused (strict test provider)';
note "wrong auth method: $st $js->{error} / $js->{error_description}";
($st, $js) = provider_revoke($ptok->{refresh_token}, client_id => 'post-client', client_secret => 'post-secret', auth => 'post');
is $st, 200, 'revocation (post-client, client_secret_post)';
($st, $js) = provider_introspect($ptok->{access_token});
ok !$js->{active}, 'revoking the refresh token revoked its access token too';
($st, $js) = provider_revoke($tok2->{access_token});
is $st, 200, 'revocation by api-client';

($st, $js) = provider_introspect('x', client_id => 'api-client', client_secret => 'api-secret', auth => 'post');
is $st, 401, 'api-client with client_secret_post refused (strict test provider)';
note "wrong auth method: $st $js->{error} / $js->{error_description}";

# replayed code: refused, and the tokens issued from it are revoked
($st, $js) = provider_tokens();
my $rtok = $js;
is $st, 200, 'another flow';
($st, $js) = provider_introspect($rtok->{access_token});
ok $js->{active}, 'its access token is active';
($st, $js) = provider_token_request(grant_type => 'authorization_code', code => $code1{code},
    redirect_uri => $redir, code_verifier => $code1{verifier});
is $st, 400, 'replayed code rejected';
is $js->{error}, 'invalid_grant', 'replayed code: invalid_grant';
note "replayed code: $js->{error} / $js->{error_description}";

# access_denied
($verifier, $challenge) = pkce_pair();
$url = authorization_url(client_id => 'api-client', redirect_uri => $redir, state => 'st1', code_challenge => $challenge);
%q = URI->new(provider_deny($url))->query_form;
is $q{error}, 'access_denied', 'abort at login: access_denied';
is $q{state}, 'st1', 'abort keeps state';
note "deny params: " . json_encode(\%q);
%q = URI->new(provider_login($url, deny => 'consent'))->query_form;
is $q{error}, 'access_denied', 'abort at consent: access_denied';
%q = URI->new(provider_login($url, consent => 0))->query_form;
is $q{error}, 'access_denied', 'consent => 0: access_denied';

# redirect_uri not registered -> provider error page (no redirect)
$url = authorization_url(client_id => 'api-client', redirect_uri => 'http://localhost:8529/jsonapiext/oauth2/callback',
    code_challenge => $challenge);
ok !eval { provider_login($url); 1 }, 'unregistered redirect_uri: provider error page';
note "error: $@";

# no PKCE -> error redirect
my $u = URI->new("$P/auth");
$u->query_form(response_type => 'code', client_id => 'api-client', redirect_uri => $redir, scope => 'openid', state => 's');
%q = URI->new(provider_login($u->as_string))->query_form;
is $q{error}, 'invalid_request', 'PKCE required';
note "no pkce: " . json_encode(\%q);

my $s = provider_stats();
note 'stats: ' . json_encode($s);
ok $s->{token} >= 8 && $s->{introspection} >= 5 && $s->{revocation} == 2 && $s->{userinfo} == 2 && $s->{auth} >= 5, 'stats count';

done_testing;
