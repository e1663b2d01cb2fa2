# Many simultaneous refreshes of one identity with a provider that rotates
# refresh tokens: one refresh grant at the provider, a usable access token
# for every caller, and the rotated refresh token kept.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use Time::HiRes ();

my $callers = 12;
plan tests => 7;

my @basic = (basic => ['api-client', 'api-secret']);
my $tok = full_flow(api => '/jsonapiext', client_id => 'api-client',
                    client_secret => 'api-secret', user => 'race-1', login => 'olga');
ok($tok->{refresh_token}, 'tokens issued');

provider_stats_reset();
# The refresh takes 400 ms at the provider: all callers overlap it.
provider_delay('token', 400);
# A process lets 8 callers of one identity wait for its refresh
# (AO2_DEFAULT_REFRESH_WAITERS); when more of the 12 land on one child, the
# rest are told 503 with Retry-After, and a client that follows it gets the
# refresh's tokens (inside the refresh window, no second grant).
my @answers = concurrently($callers, sub {
    my ($st, $body, $res) = api_call('POST', '/jsonapiext/oauth2/token',
        json => { client_user_identity => 'race-1' }, @basic);
    my $after = $st == 503 ? $res->header('Retry-After') : undef;
    if (defined $after && $after =~ /^\d+$/) {
        Time::HiRes::sleep($after);    # what the answer asks of the client
        ($st, $body) = api_call('POST', '/jsonapiext/oauth2/token',
            json => { client_user_identity => 'race-1' }, @basic);
    }
    return "$st " . ($body->{access_token} // '-');
});
provider_delay('token', 0);
my $refreshed = Time::HiRes::time();
my (%status, %tokens);
for (@answers) {
    my ($st, $at) = split ' ';
    $status{$st // 'none'}++;
    $tokens{$at}++ if $at && $at ne '-';
}
is_deeply(\%status, { 200 => $callers }, "all $callers callers got 200")
    or diag explain \%status;
is(scalar keys %tokens, 1, 'they all got the same new access token');
is(provider_stats()->{token}, 1, 'the provider saw one refresh grant');
my ($at) = keys %tokens;
is((api_call('GET', '/jsonapiext/res.partner', bearer => $at))[0], 200,
   'that access token works');
# Past the refresh window a call refreshes again, with the rotated token.
past_refresh_window($refreshed);
my ($st, $later) = api_call('POST', '/jsonapiext/oauth2/token',
    json => { client_user_identity => 'race-1' }, @basic);
is($st, 200, 'the rotated refresh token was kept: a later refresh works');
isnt($later->{access_token} // '', $at, 'with a new access token');
