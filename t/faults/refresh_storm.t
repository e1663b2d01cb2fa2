# 50 concurrent /token calls for one identity against a rotating provider,
# each from its own connection and process, spread over the server's
# processes: the provider sees one refresh grant; the holder and up to 8
# waiters per process (AO2_DEFAULT_REFRESH_WAITERS: one identity must not
# take httpd's workers) get the one usable new token, the rest 503 with
# Retry-After at once; the stored refresh token is still accepted
# afterwards. Then the
# holder of the refresh lock is killed with SIGKILL mid-refresh: the identity
# answers again within the lock's lease. (t/31_three_servers.t spreads
# concurrent refreshes over three servers.) One figure line.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/../lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use POSIX ();
use Time::HiRes ();

my $callers = 50;
my $lease   = 5 + 5;    # ApiOAuth2ProviderTimeout total (t/conf/extra.conf.in) + AO2_LOCK_WRITE_MARGIN
plan tests => 8;

my @basic = (basic => ['api-client', 'api-secret']);
sub refresh {
    my ($user) = @_;
    my ($st, $body, $res) = api_call('POST', '/jsonapiext/oauth2/token',
        json => { client_user_identity => $user }, @basic);
    return ($st, $body, $res);
}
my $tok = full_flow(api => '/jsonapiext', client_id => 'api-client',
                    client_secret => 'api-secret', user => 'storm-1', login => 'stan');
ok($tok->{refresh_token}, 'tokens issued');

provider_stats_reset();
provider_delay('token', 2000);    # every caller overlaps the one refresh, even on a busy machine
my $t0 = Time::HiRes::time();
my @answers = concurrently($callers, sub {
    my ($st, $b, $res) = refresh('storm-1');
    return "$st " . ($b->{access_token} // '-') . ' ' . ($res->header('Retry-After') // '-');
});
my $storm_s = Time::HiRes::time() - $t0;
provider_delay('token', 0);
my (%status, %tokens);
for (@answers) {
    my ($st, $at, $ra) = split ' ';
    $status{$st == 503 && $ra =~ /^[1-9][0-9]*$/ ? '503+Retry-After' : $st}++;
    $tokens{$at}++ if $at && $at ne '-';
}
ok($status{200} && !grep({ $_ ne '200' && $_ ne '503+Retry-After' } keys %status),
   "each of $callers callers got 200, or 503 with Retry-After beyond the waiters")
    or diag explain \%status;
my $grants = provider_stats()->{token};
is($grants, 1, 'the provider saw one refresh grant');
my @usable = grep { (api_call('GET', '/jsonapiext/res.partner', bearer => $_))[0] == 200 } keys %tokens;
is(scalar @usable, scalar keys %tokens, 'every token a caller got is usable');
# Past the refresh window (the test server's default) a call refreshes.
past_refresh_window($t0 + $storm_s);
my ($st, $later) = refresh('storm-1');
ok($st == 200 && !$tokens{$later->{access_token} // ''},
   'the stored refresh token is still accepted afterwards (a new access token)');

# The lock holder dies mid-refresh.
my $tok2 = full_flow(api => '/jsonapiext', client_id => 'api-client',
                     client_secret => 'api-secret', user => 'storm-2', login => 'sven');
provider_stats_reset();
provider_delay('token', 3000);
my $holder = fork // die "fork: $!";
if ($holder == 0) { refresh('storm-2'); POSIX::_exit(0) }
ok(wait_for(sub { provider_stats()->{token} >= 1 }, 10), 'a refresh is at the provider');
my $cfg = Apache::Test::config();
open my $pf, '<', "$cfg->{vars}{t_logs}/httpd.pid" or die;
my ($ppid) = <$pf> =~ /(\d+)/;
my @children = keys %{ httpd_children_rss("$cfg->{vars}{t_logs}/httpd.pid") };
kill KILL => @children;
waitpid($holder, 0);
provider_delay('token', 0);
my $killed = Time::HiRes::time();
# Whatever the answer (200, or invalid_grant when the provider had rotated
# the refresh token for the dead holder), it must not be "still running"
# for longer than the lease.
my $answer;
ok(wait_for(sub { ($answer) = refresh('storm-2'); $answer != 503 && $answer != 0 }, $lease + 5, 0.2),
   'the identity answers again after its lock holder was killed');
my $blocked = Time::HiRes::time() - $killed;
ok($blocked <= $lease + 1, sprintf('within the lease: %.2f s (lease %d s), answer %d', $blocked, $lease, $answer));
diag(sprintf 'figure: refresh storm: %d callers in %.2f s, %s, %d refresh grant(s), %d distinct tokens; '
     . 'holder SIGKILLed (%d children): identity blocked %.2f s (lease %d s), then %d',
     $callers, $storm_s, join(',', map { "$_ x$status{$_}" } sort keys %status), $grants,
     scalar keys %tokens, scalar @children, $blocked, $lease, $answer);
