# Soak: mixed load for AO2_SOAK_SECONDS (make faults: 600; make test: 15) —
# Bearer requests rotating over many tokens from wrk, and alongside them a
# lifecycle worker that authorises, refreshes and revokes identities — while
# each httpd child's RSS is sampled. Reported: the RSS slope after warm-up
# (the first third), and the RssAnon slope of each half of what follows; the
# token store's size and records; the request mix. Asserted: no failed
# Bearer request, no failed lifecycle call, no error in the log. One figure
# line.
#
# RssAnon grows here (+90..+165 KB/min for the two children in full mode)
# by more than what malloc holds: glibc's in-use bytes of a child grew +410
# KB in a full soak, and with GLIBC_TUNABLES=glibc.malloc.tcache_count=0
# (no per-thread cache of freed chunks) they moved by +60..+120 KB only,
# while RssAnon rose at the same rate; the growth is in anonymous arena
# pages, not in thread stacks or the brk heap. Under valgrind's massif
# a child's heap stayed flat through 5 minutes of this mix.
# t/faults/memory.t is where a leak per call fails. The halves are
# reported apart: a leak grows at its rate in both, a high-water step in
# one. The store grows all through the soak (an index record of every token issued,
# refreshed away or revoked, about 1.3 per lifecycle call, kept until the
# token expires: an hour here), in its file, not in the children.
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
my $store_start = -s "$cfg->{vars}{t_dir}/var/store/tokens" // 0;
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

# Least-squares slope (KB per minute) of column $col of the samples taken
# from $from to $to seconds into the load.
sub slope {
    my ($col, $from, $to) = @_;
    my @warm = grep { $_->[0] >= $from && $_->[0] <= $to } @samples;
    my ($n, $sx, $sy, $sxx, $sxy) = (scalar @warm, 0, 0, 0, 0);
    for (@warm) { $sx += $_->[0]; $sy += $_->[$col]; $sxx += $_->[0]**2; $sxy += $_->[0] * $_->[$col] }
    my $den = $n * $sxx - $sx**2;
    return ($n, $n > 1 && $den ? 60 * ($n * $sxy - $sx * $sy) / $den : 0);
}
my ($n, $slope) = slope(1, $secs / 3, $secs);
my (undef, $slope_anon) = slope(2, $secs / 3, $secs);
my (undef, $anon_mid) = slope(2, $secs / 3, 2 * $secs / 3);
my (undef, $anon_end) = slope(2, 2 * $secs / 3, $secs);
ok($n > 1, "$n RSS samples after warm-up");

# The store once the load is over: no writer left, so reading the file
# without gdbm's lock sees it whole. Without GDBM_File only its size.
my $store = "$cfg->{vars}{t_dir}/var/store/tokens";
my $records = eval {
    require GDBM_File;
    tie my %h, 'GDBM_File', $store, GDBM_File::GDBM_READER() | GDBM_File::GDBM_NOLOCK(), 0 or die "$store: $!";
    my $count = 0;
    $count++ while each %h;
    untie %h;
    $count;
};
diag(sprintf 'figure: soak %d s: Bearer %d requests (%.0f req/s, %d tokens), lifecycle %d calls '
     . '(%.2f%% of all), %d failed; RSS of %d children %d -> %d KB, slope after warm-up %+.1f KB/min '
     . '(private memory, RssAnon: %d -> %d KB, %+.1f KB/min; %+.1f then %+.1f KB/min over its halves); '
     . 'store %d -> %d KB%s',
     $secs, $w->{requests} // 0, $w->{rps} // 0, $ntok, $lcalls,
     100 * $lcalls / (($w->{requests} // 0) + $lcalls || 1), ($w->{non2xx} + $w->{errors} + $lfailed),
     scalar keys %first_pids, $samples[0][1] // 0, $samples[-1][1] // 0, $slope,
     $samples[0][2] // 0, $samples[-1][2] // 0, $slope_anon, $anon_mid, $anon_end,
     $store_start / 1024, (-s $store // 0) / 1024,
     defined $records ? ", $records records" : '');
