# State: single use, expiring, bound to its API location.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Apache::TestRequest;
use AO2Test;
use URI;

plan tests => 12;

sub authorize {
    my ($path, $user, %opt) = @_;
    my ($st, $body) = api_call('POST', "$path/oauth2/provider/authorize",
        json => { client_id => 'api-client', client_user_identity => $user },
        basic => ['api-client', 'api-secret'], %opt);
    return $body;
}

# Unknown state.
my ($st, $e) = api_call('GET', '/jsonapiext/oauth2/callback',
    query => { state => 'made-up-state', code => 'x' });
is($st, 400, 'unknown state is 400');
is($e->{error}, 'invalid_state', 'error invalid_state');

# Missing state.
($st, $e) = api_call('GET', '/jsonapiext/oauth2/callback',
    query => { code => 'x' });
is($st, 400, 'missing state is 400');
is($e->{error}, 'invalid_request', 'error invalid_request');

# Replayed state: the second use of a real callback fails.
my $auth = authorize('/jsonapiext', 'state-1');
my $callback = provider_login($auth->{authorization_url}, login => 'erin');
my $path = URI->new($callback)->path_query;
($st) = api_call('GET', $path);
is($st, 200, 'first use of the callback works');
($st, $e) = api_call('GET', $path);
is($st, 400, 'replayed callback is 400');
is($e->{error}, 'invalid_state', 'replay: invalid_state');

# A state made for one API does not work on another.
$auth = authorize('/jsonapiext', 'state-2');
($st, $e) = api_call('GET', '/seedapi/oauth2/callback',
    query => { state => $auth->{state}, code => 'x' });
is($st, 400, 'state of another API location is refused');
# ... and it was consumed by that attempt.
($st, $e) = api_call('GET', '/jsonapiext/oauth2/callback',
    query => { state => $auth->{state}, code => 'x' });
is($st, 400, 'a state is gone after any use');

# Expired state: the short-TTL virtual host gives states one second.
Apache::TestRequest::module('ao2_short_state');
my $short = 'http://' . Apache::TestRequest::hostport();
$auth = authorize("$short/shortapi", 'state-3');
is($auth->{expires_in}, 1, 'short state lifetime announced');
my $deadline = time + 2;
select(undef, undef, undef, 0.1) while time <= $deadline;    # the clock is the condition
($st, $e) = api_call('GET', "$short/shortapi/oauth2/callback",
    query => { state => $auth->{state}, code => 'x' });
is($st, 400, 'expired state is 400');
is($e->{error}, 'invalid_state', 'expired: invalid_state');
