# JSON, form and query inputs; bad input gets a clear JSON error; the
# endpoints never reach the backend.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

plan tests => 47;

my $path = '/jsonapiext/oauth2/provider/authorize';
my @basic = (basic => ['api-client', 'api-secret']);
my %body = (client_id => 'api-client', client_user_identity => 'in-1');

my ($st, $b, $res) = api_call('POST', $path, json => \%body, @basic);
is($st, 200, 'JSON body');
is($res->header('Content-Type'), 'application/json', 'JSON answer');
is($res->header('Cache-Control'), 'no-store', 'not cacheable');
($st) = api_call('POST', $path, form => \%body, @basic);
is($st, 200, 'form body');
($st) = api_call('GET', $path, query => \%body, @basic);
is($st, 200, 'query parameters');
($st) = api_call('GET', $path, json => \%body, @basic);
is($st, 200, 'GET with a JSON body');
($st) = api_call('POST', $path, query => { client_id => 'api-client' },
                 json => { client_user_identity => 'in-1' }, @basic);
is($st, 200, 'query and body combined');
($st) = api_call('POST', $path, raw_body => '{"client_id":"api-client","client_user_identity":"in-1"}',
                 content_type => 'application/json; charset=utf-8', @basic);
is($st, 200, 'content type with a charset');

($st, $b) = api_call('POST', $path, raw_body => '{"client_id": ',
                     content_type => 'application/json', @basic);
is($st, 400, 'invalid JSON is 400');
is($b->{error}, 'invalid_request', 'invalid JSON: invalid_request');
($st, $b) = api_call('POST', $path, raw_body => '["a"]',
                     content_type => 'application/json', @basic);
is($st, 400, 'a JSON array is 400');
($st, $b) = api_call('POST', $path,
    raw_body => '{"client_id":"api-client","client_user_identity":{"a":1}}',
    content_type => 'application/json', @basic);
is($st, 400, 'an object-valued member is 400');
($st, $b) = api_call('POST', $path, raw_body => 'client_id=api-client',
                     content_type => 'text/plain', @basic);
is($st, 415, 'wrong content type is 415');
is($b->{error}, 'invalid_request', '415 has a JSON error');
($st, $b) = api_call('POST', $path, raw_body => 'x=' . ('a' x 70000),
                     content_type => 'application/x-www-form-urlencoded', @basic);
is($st, 413, 'oversized body is 413');
is($b->{error}, 'invalid_request', '413 has a JSON error');
($st, $b) = api_call('POST', $path, json => { client_id => 'api-client' }, @basic);
is($st, 400, 'missing client_user_identity is 400');
like($b->{error_description}, qr/client_user_identity/, 'names the field');
($st, $b) = api_call('POST', $path, raw_body => 'client_id=api-client&client_user_identity=a&client_user_identity=b',
                     content_type => 'application/x-www-form-urlencoded', @basic);
is($st, 400, 'a repeated parameter is 400');
($st, $b) = api_call('POST', $path, raw_body => 'client_user_identity=%zz',
                     content_type => 'application/x-www-form-urlencoded', @basic);
is($st, 400, 'a bad percent escape is 400');
($st, $b) = api_call('POST', $path, json => { %body, client_user_identity => 'x' x 300 }, @basic);
is($st, 400, 'an over-long identity is 400');

($st, $b, $res) = api_call('PUT', $path, json => \%body, @basic);
is($st, 405, 'PUT is 405');
is($res->header('Allow'), 'GET, POST', 'with an Allow header');
is($b->{error}, 'invalid_request', '405 has a JSON error');
($st, $b) = api_call('DELETE', '/jsonapiext/oauth2/token', @basic);
is($st, 405, 'DELETE is 405');

($st, $b, $res) = api_call('GET', '/jsonapiext/oauth2/nothing-here');
is($st, 404, 'other paths under oauth2/ are 404');
is($b->{error}, 'not_found', '404 is JSON from the module');
ok(!exists $b->{headers}, 'the backend was not reached');

($st, $b, $res) = api_call('GET', '/jsonapiext/res.partner');
is($st, 401, 'other API paths need a Bearer token');
is($res->header('WWW-Authenticate'), 'Bearer realm="Test API"',
   'challenge without an error when no token was sent');

# HEAD is answered like GET by httpd (M_GET), but it must not act: a HEAD on
# /oauth2/token used to refresh and throw the new tokens away.
my $head = full_flow(api => '/jsonapiext', user => 'in-head', login => 'hank');
ok($head->{access_token}, 'tokens for the HEAD checks');
my $before = provider_stats()->{token};
for my $ep (qw(provider/authorize callback token revoke)) {
    ($st, undef, $res) = api_call('HEAD', "/jsonapiext/oauth2/$ep",
        query => { client_user_identity => 'in-head', state => 'x', code => 'y' }, @basic);
    is($st, 405, "HEAD $ep is 405");
    is($res->header('Allow'), 'GET, POST', "HEAD $ep: Allow: GET, POST");
}
is(provider_stats()->{token}, $before, 'no HEAD reached the provider');
is((api_call('GET', '/jsonapiext/res.partner', bearer => $head->{access_token}))[0], 200,
   'the access token still works: nothing was refreshed or revoked');

# JSON sent as a form (curl -d without a Content-Type) is told apart.
($st, $b) = api_call('POST', $path, raw_body => ' {"client_user_identity": "in-1"}',
                     content_type => 'application/x-www-form-urlencoded', @basic);
is($st, 400, 'JSON sent as a form is 400');
like($b->{error_description} // '', qr/looks like JSON.*Content-Type: application\/json/,
     '... saying to send it as application/json');

# Parameter values are strings.
($st, $b) = api_call('POST', $path, raw_body => '{"client_user_identity": 42}',
                     content_type => 'application/json', @basic);
is($st, 400, 'a number for client_user_identity is 400');
is($b->{error}, 'invalid_request', '... invalid_request');
like($b->{error_description} // '', qr/client_user_identity must be a string/, '... naming it');
($st, $b) = api_call('POST', $path, raw_body => '{"client_id": "api-client", "client_user_identity": true}',
                     content_type => 'application/json', @basic);
is($st, 400, 'a boolean for client_user_identity is 400');
