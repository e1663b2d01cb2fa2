# A provider's error redirect is answered as JSON; the state is spent.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use URI;

plan tests => 11;

my ($st, $auth) = api_call('POST', '/jsonapiext/oauth2/provider/authorize',
    json => { client_id => 'api-client', client_user_identity => 'deny-1' },
    basic => ['api-client', 'api-secret']);
is($st, 200, 'authorize');
my $callback = provider_login($auth->{authorization_url}, login => 'frank',
                              deny => 1);
my %q = URI->new($callback)->query_form;
is($q{error}, 'access_denied', 'provider redirected with access_denied');
my $e;
($st, $e) = api_call('GET', URI->new($callback)->path_query);
is($st, 403, 'access_denied is 403');
is($e->{error}, 'access_denied', 'error code passed on');
($st, $e) = api_call('GET', URI->new($callback)->path_query);
is($st, 400, 'the state was used up by the error');

# Provider error text is sanitised, never echoed raw.
($st, $auth) = api_call('POST', '/jsonapiext/oauth2/provider/authorize',
    json => { client_id => 'api-client', client_user_identity => 'deny-2' },
    basic => ['api-client', 'api-secret']);
(my $s2, $e, my $res) = api_call('GET', '/jsonapiext/oauth2/callback',
    query => { state => $auth->{state}, error => '<script>x</script>',
               error_description => "bad\x01<b>" });
is($s2, 400, 'unknown provider error is 400');
is($e->{error}, 'invalid_request', 'odd error code replaced');
unlike($res->content, qr/<script>|<b>/, 'no client text echoed unescaped');

# A token inside error_description is neither echoed nor logged.
($st, $auth) = api_call('POST', '/jsonapiext/oauth2/provider/authorize',
    json => { client_id => 'api-client', client_user_identity => 'deny-3' },
    basic => ['api-client', 'api-secret']);
my $secret = 'Zq8' . random_string(24);
my $mark = error_log_mark();
(my $s3, $e, $res) = api_call('GET', '/jsonapiext/oauth2/callback',
    query => { state => $auth->{state}, iss => provider_url(), error => 'invalid_request',
               error_description => "refused token $secret here" });
is($s3, 400, 'provider error with a token in its description is 400');
is($e->{error_description}, 'provider: refused token [redacted] here',
   'the token-like word is redacted in the answer');
ok(wait_for(sub { error_log_text($mark) =~ /AO2R0001/ }, 5)
   && error_log_text($mark) !~ /\Q$secret\E/, 'and never logged');
