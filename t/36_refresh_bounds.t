# One identity must not take httpd's workers: many /token calls for it
# against a provider that hangs. A bounded number per process wait for the
# one refresh (which fails with 504 at ApiOAuth2ProviderTimeout, 5 s here);
# the rest answer 503 at once. Every held or capped answer carries
# Retry-After, so an API client knows when to come back.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use Time::HiRes ();

my $callers   = 30;
my $per_child = 8;    # AO2_DEFAULT_REFRESH_WAITERS, per process
my $total_s   = 5;    # ApiOAuth2ProviderTimeout's total (t/conf/extra.conf.in)
plan tests => 9;

my @basic = (basic => ['api-client', 'api-secret']);
my %who = (json => { client_user_identity => 'bound-1' }, @basic);
my $tok = full_flow(api => '/jsonapiext', user => 'bound-1', login => 'bo');
ok($tok->{refresh_token}, 'tokens issued');

sub token_call {
    my $t0 = Time::HiRes::time();
    my ($st, $e, $res) = api_call(POST => '/jsonapiext/oauth2/token', %who);
    return ($st, ($e && $e->{error}) // '-', $res->header('Retry-After') // '-',
            Time::HiRes::time() - $t0);
}

# How long each /token call held a worker, from httpd's own access log
# (%D): on a loaded machine the callers' clocks also count their waits for
# a CPU.
my $access = Apache::Test::vars('t_logs') . '/access_log';
sub worker_times {
    my ($from) = @_;
    open my $f, '<', $access or die "$access: $!";
    seek $f, $from, 0;
    return map { m{"POST /jsonapiext/oauth2/token [^"]*" (\d+) \S+ (\d+)$} ? [$1, $2 / 1e6] : () } <$f>;
}

provider_delay('token', ($total_s + 2) * 1000);    # longer than the timeout: a hang
my $mark = -s $access;
my @answers = concurrently($callers, sub { sprintf '%d %s %s %.3f', token_call() });
my $cfg = Apache::Test::config();
my $children = keys %{ httpd_children_rss("$cfg->{vars}{t_logs}/httpd.pid") };
my (%status, @capped, @held);
for (@answers) {
    my ($st, $err, $ra, $secs) = split ' ';
    $status{$st}++;
    push @capped, [$err, $ra, $secs] if $st == 503;
    push @held, [$err, $ra, $secs] if $st == 502 || $st == 504;
}
my @times = worker_times($mark);
my $waited = grep { $_->[1] >= 1 } @times;
my @fast503 = grep { $_->[0] == 503 && $_->[1] < 1 } @times;
my $bound = 1 + $per_child * $children;
ok(!grep({ $_ != 503 && $_ != 504 } keys %status), 'every caller got 503 or 504')
    or diag explain \%status;
ok($waited <= $bound,
   "at most one holder and $per_child waiters per process held a worker "
   . "($waited of $callers for a second or more; $children processes)");
ok(@fast503 >= $callers - $bound,
   sprintf 'the rest answered 503 at once (%d in under a second, the timeout is %d s)',
   scalar @fast503, $total_s) or diag explain \@times;
ok(@capped && !grep({ $_->[1] !~ /^[1-9][0-9]*$/ || $_->[0] ne 'temporarily_unavailable' } @capped),
   'each 503 is temporarily_unavailable with Retry-After') or diag explain \@capped;
ok(@held && !grep({ $_->[1] !~ /^[1-9][0-9]*$/ } @held),
   sprintf 'the %d 504 answers (the refresh that timed out, held) carry Retry-After',
   scalar @held) or diag explain \@held;

# The failure is held: an immediate retry gets it at once, with Retry-After.
my ($st, $err, $ra, $secs) = token_call();
ok($st == 504 && $secs < 1, sprintf 'an immediate retry gets the held 504 at once (%d, %.2f s)',
   $st, $secs);
like($ra, qr/^[1-9][0-9]*$/, '... with Retry-After');
provider_delay('token', 0);
ok(wait_for(sub { ($st) = token_call(); $st != 504 && $st != 503 }, 10, 0.2)
   && ($st == 200 || $st == 400),
   "then the identity refreshes again ($st)");
