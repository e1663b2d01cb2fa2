# Client authentication on the endpoints (RFC 6749 §2.3.1) and a client
# secret the provider refuses.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use URI;

plan tests => 20;

my $path = '/jsonapiext/oauth2/provider/authorize';
my %body = (client_id => 'api-client', client_user_identity => 'auth-1');

my ($st, $e, $res) = api_call('POST', $path, json => \%body,
                              basic => ['api-client', 'wrong']);
is($st, 401, 'wrong secret in Basic is 401');
is($e->{error}, 'invalid_client', 'invalid_client');
like($res->header('WWW-Authenticate') // '', qr/^Basic /,
     'Basic challenge after a Basic attempt');

($st, $e) = api_call('POST', $path, json => { %body, client_secret => 'api-secret' });
is($st, 200, 'client_secret in the JSON body works');
($st, $e) = api_call('POST', $path, form => { %body, client_secret => 'api-secret' });
is($st, 200, 'client_secret in a form body works');
# A secret in the URL ends up in access logs: refused, even when right.
($st, $e) = api_call('POST', $path, query => { client_secret => 'api-secret' }, json => \%body);
is($st, 400, 'client_secret in the query string is 400');
is($e->{error}, 'invalid_request', '... invalid_request');
like($e->{error_description}, qr/client_secret must not be sent in the URL/, '... saying why');
($st, $e) = api_call('POST', $path, json => { %body, client_secret => 'nope' });
is($st, 401, 'wrong client_secret in the body is 401');

($st, $e) = api_call('POST', $path, json => \%body);
is($st, 401, 'no client authentication is 401');
is($e->{error}, 'invalid_client', 'invalid_client');

($st, $e) = api_call('POST', $path,
    json => { %body, client_secret => 'api-secret' },
    basic => ['api-client', 'api-secret']);
is($st, 400, 'two authentication methods is 400');

($st, $e) = api_call('POST', $path,
    json => { client_id => 'ghost', client_user_identity => 'x' },
    basic => ['ghost', 'api-secret']);
is($st, 401, 'unknown client_id is 401');
is($e->{error}, 'invalid_client', 'unknown client: invalid_client');

($st, $e) = api_call('POST', $path,
    json => { client_id => 'other', client_user_identity => 'x' },
    basic => ['api-client', 'api-secret']);
is($st, 400, 'client_id differing from the Basic user is 400');

($st, $e) = api_call('POST', '/jsonapiext/oauth2/token',
    json => { client_user_identity => 'auth-1' },
    basic => ['api-client', 'wrong']);
is($st, 401, 'token endpoint checks the secret too');
($st, $e) = api_call('POST', '/jsonapiext/oauth2/revoke',
    json => { client_user_identity => 'auth-1' },
    basic => ['api-client', 'wrong']);
is($st, 401, 'revoke endpoint checks the secret too');

# The provider refuses the secret configured in /badsecret.
(my $s, my $auth) = api_call('POST', '/badsecret/oauth2/provider/authorize',
    json => { client_id => 'api-client', client_user_identity => 'bad-1' },
    basic => ['api-client', 'WRONG-secret']);
is($s, 200, 'authorize does not contact the provider');
my $callback = provider_login($auth->{authorization_url}, login => 'gina');
($st, $e) = api_call('GET', URI->new($callback)->path_query);
is($st, 401, 'provider refusal of our client credentials is passed on');
is($e->{error}, 'invalid_client', 'with the provider\'s code');
