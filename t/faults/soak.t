# Soak: mixed load for AO2_SOAK_SECONDS (make faults: 600; make test: 15) —
# Bearer requests rotating over many tokens from wrk, and alongside them a
# lifecycle worker that authorises, refreshes and revokes identities — while
# each httpd child's RSS is sampled. Reported: the RSS slope after warm-up
# (the first third), the request mix; asserted: no failed Bearer request, no
# failed lifecycle call, no error in the log. One figure line.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/../lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use File::Temp qw(tempfile);
use POSIX ();
use Time::HiRes ();

my $full   = $ENV{AO2_FAULTS_FULL} ? 1 : 0;
my $secs   = $ENV{AO2_SOAK_SECONDS} || ($full ? 600 : 15);
my $ntok   = $full ? 50 : 10;
my $sample = $secs >= 120 ? 10 : 1;    # seconds between RSS samples
plan tests => 5;

my @basic = (basic => ['api-client', 'api-secret']);
my $run = random_string(6);
my ($tfh, $tfile) = tempfile('ao2-soak-XXXXXX', TMPDIR => 1, UNLINK => 1);
my $issued = 0;
for my $i (1 .. $ntok) {
    my $t = full_flow(api => '/jsonapiext', client_id => 'api-client', client_secret => 'api-secret',
                      user => "soak-$run-$i", login => "soak$i\@soak.test");
    next unless $t && $t->{access_token};
    print $tfh "$t->{access_token}\n";
    $issued++;
}
close $tfh;
is($issued, $ntok, "$ntok tokens for the Bearer load");

my $mark = error_log_mark();
my $cfg = Apache::Test::config();
my $pidfile = "$cfg->{vars}{t_logs}/httpd.pid";
my $load = wrk_start(url => base_url() . '/jsonapiext/res.partner', tokens_file => $tfile,
                     seconds => $secs, connections => 8);

# The lifecycle worker: until the end, one identity after another.
pipe(my $from_life, my $to_life) or die "pipe: $!";
my $life = fork // die "fork: $!";
if ($life == 0) {
    close $from_life;
    my ($calls, $failed, $k) = (0, 0, 0);
    my $until = Time::HiRes::time() + $secs;
    while (Time::HiRes::time() < $until) {
        my $id = "soak-$run-life-" . $k++;
        my $t = full_flow(api => '/jsonapiext', client_id => 'api-client', client_secret => 'api-secret',
                          user => $id, login => "life$k\@soak.test");
        $calls += 2;    # authorize + callback
        $failed++ unless $t && $t->{access_token};
        for my $ep (qw(token revoke)) {
            my ($st) = api_call('POST', "/jsonapiext/oauth2/$ep",
                json => { client_user_identity => $id }, @basic);
            $calls++;
            $failed++ unless $st == 200;
        }
    }
    print $to_life "$calls $failed";
    close $to_life;
    POSIX::_exit(0);
}
close $to_life;

# RSS of each child, every $sample seconds (the schedule of the samples).
my @samples;    # [t, VmRSS, RssAnon: total KB of the children alive through the run]
my $t0 = Time::HiRes::time();
my %first_pids;
while (Time::HiRes::time() - $t0 < $secs) {
    my $rss = httpd_children_rss($pidfile);
    my $anon = httpd_children_rss($pidfile, 'RssAnon');
    %first_pids = %$rss unless %first_pids;
    my ($total, $total_anon) = (0, 0);
    $total += $rss->{$_} // 0 for keys %first_pids;
    $total_anon += $anon->{$_} // 0 for keys %first_pids;
    push @samples, [Time::HiRes::time() - $t0, $total, $total_anon];
    Time::HiRes::sleep($sample);    # sampling interval, not a wait for state
}
my $w = wrk_result($load);
my ($lcalls, $lfailed) = split ' ', (do { local $/; <$from_life> } // '0 0');
waitpid($life, 0);

ok($w->{requests} && $w->{non2xx} == 0 && $w->{errors} == 0,
   "Bearer load: $w->{requests} requests, none failed") or diag $w->{text};
ok($lcalls > 0 && $lfailed == 0, "lifecycle: $lcalls calls, $lfailed failed");
my @errors = grep { /\[api_oauth2:(error|crit|alert|emerg)\]/ } split /\n/, error_log_text($mark);
ok(!@errors, 'no error in the log') or diag join "\n", @errors[0 .. ($#errors < 9 ? $#errors : 9)];

# Least-squares slope (KB per minute) of column $col of the samples after
# the first third.
sub slope_after_warmup {
    my ($col) = @_;
    my @warm = grep { $_->[0] >= $secs / 3 } @samples;
    my ($n, $sx, $sy, $sxx, $sxy) = (scalar @warm, 0, 0, 0, 0);
    for (@warm) { $sx += $_->[0]; $sy += $_->[$col]; $sxx += $_->[0]**2; $sxy += $_->[0] * $_->[$col] }
    my $den = $n * $sxx - $sx**2;
    return ($n, $n > 1 && $den ? 60 * ($n * $sxy - $sx * $sy) / $den : 0);
}
my ($n, $slope) = slope_after_warmup(1);
my (undef, $slope_anon) = slope_after_warmup(2);
ok($n > 1, "$n RSS samples after warm-up");
diag(sprintf 'figure: soak %d s: Bearer %d requests (%.0f req/s, %d tokens), lifecycle %d calls '
     . '(%.2f%% of all), %d failed; RSS of %d children %d -> %d KB, slope after warm-up %+.1f KB/min '
     . '(private memory, RssAnon: %d -> %d KB, %+.1f KB/min)',
     $secs, $w->{requests} // 0, $w->{rps} // 0, $ntok, $lcalls,
     100 * $lcalls / (($w->{requests} // 0) + $lcalls || 1), ($w->{non2xx} + $w->{errors} + $lfailed),
     scalar keys %first_pids, $samples[0][1] // 0, $samples[-1][1] // 0, $slope,
     $samples[0][2] // 0, $samples[-1][2] // 0, $slope_anon);
