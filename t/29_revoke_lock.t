# /revoke takes the refresh lock: a refresh in flight when the revoke comes
# cannot bring the record back after it was deleted.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

plan tests => 5;

my @basic = (basic => ['api-client', 'api-secret']);
my %who = (json => { client_user_identity => 'rlock-1' }, @basic);
my $tok = full_flow(api => '/jsonapiext', user => 'rlock-1', login => 'rita');
ok($tok->{refresh_token}, 'tokens issued');

provider_stats_reset();
provider_delay('token', 1500);    # the refresh is still running when the revoke comes
my ($refresh, $revoke) = concurrently(2, sub {
    my ($i) = @_;
    if ($i == 0) {
        my ($st, $body) = api_call(POST => '/jsonapiext/oauth2/token', %who);
        return "$st " . ($body->{access_token} // '-');
    }
    # The revoke starts once the refresh grant has reached the provider.
    wait_for(sub { provider_stats()->{token} >= 1 }, 10, 0.02) or return 'no refresh seen';
    my ($st) = api_call(POST => '/jsonapiext/oauth2/revoke', %who);
    return "$st";
});
provider_delay('token', 0);
my ($rst, $new_at) = split ' ', $refresh;
is($rst, 200, 'the refresh in flight finished');
is($revoke, 200, 'the revoke, which waited for it, answered 200');
my ($st) = api_call(POST => '/jsonapiext/oauth2/token', %who);
is($st, 404, 'the record stays deleted: not resurrected by the refresh');
is((api_call(GET => '/jsonapiext/res.partner', bearer => $new_at))[0], 401,
   'the token of that refresh was revoked too');
