# memcached killed and started again while valid and invalid tokens keep
# coming: no valid request fails, no invalid one passes, the provider is asked
# at most once per distinct invalid token, and the cache is used again within
# seconds of memcached's return. One figure line.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/../lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use POSIX ();
use Time::HiRes ();

my $full    = $ENV{AO2_FAULTS_FULL} ? 1 : 0;
my $phase_s = $full ? 10 : 2;    # up, down, up again: seconds each
my $bad_n   = $full ? 300 : 60;  # distinct invalid tokens sent meanwhile
plan tests => 7;

my $tok = full_flow(api => '/jsonapiext', client_id => 'api-client',
                    client_secret => 'api-secret', user => 'fault-mc', login => 'mona');
ok($tok->{access_token}, 'a valid token');
my $url = base_url() . '/jsonapiext/res.partner';
provider_stats_reset();

my $load = wrk_start(url => $url, bearer => $tok->{access_token},
                     seconds => 3 * $phase_s, connections => 8);
# Invalid tokens, one new one after another, for the whole run, from a
# child process while this one runs the fault's schedule.
pipe(my $from_bad, my $to_bad) or die "pipe: $!";
my $bad_pid = fork // die "fork: $!";
if ($bad_pid == 0) {
    close $from_bad;
    my ($n, $granted) = (0, 0);
    my $until = Time::HiRes::time() + 3 * $phase_s;
    while (Time::HiRes::time() < $until && $n < $bad_n) {
        my ($st) = api_call('GET', $url, bearer => 'bad-' . random_string(20) . "-$n");
        $granted++ if $st != 401;
        $n++;
        Time::HiRes::sleep(3 * $phase_s / $bad_n);    # pacing, not waiting
    }
    print $to_bad "$n $granted";
    close $to_bad;
    POSIX::_exit(0);
}
close $to_bad;

# The schedule: up for phase_s, down for phase_s, up again.
Time::HiRes::sleep($phase_s);    # the scenario's schedule, not a wait for state
ok(service_stop('memcached'), 'memcached killed under load');
Time::HiRes::sleep($phase_s);    # the outage lasts phase_s
ok(service_start('memcached'), 'memcached started again');
my $back = Time::HiRes::time();
# Used again: a verdict read from it or written to it (the restarted
# memcached counts from 0). A read alone is not a sign: the valid token's
# verdict is answered from this node's local copy once the log reads again,
# and whether a check reads memcached's copy before that is a race (a run
# under load waited 15 s for a hit that no request needed).
my $used = sub { (memcached_stat('get_hits') // 0) + (memcached_stat('cmd_set') // 0) };
my $before = $used->();
my $ok = wait_for(sub {
    api_call('GET', $url, bearer => $tok->{access_token});
    $used->() > $before;
}, 15, 0.05);
my $reuse = Time::HiRes::time() - $back;
ok($ok, sprintf 'the cache is used again %.2f s after memcached is back (get hits %d, sets %d)',
   $reuse, memcached_stat('get_hits') // 0, memcached_stat('cmd_set') // 0);
my $w = wrk_result($load);
ok($w->{requests} && $w->{non2xx} == 0 && $w->{errors} == 0,
   "valid token: $w->{requests} requests, none failed") or diag $w->{text};
my $bad = do { local $/; <$from_bad> } // '0 0';
waitpid($bad_pid, 0);
my ($sent, $granted) = split ' ', $bad;
is($granted, 0, "invalid tokens: $sent sent, none granted");
my $calls = provider_stats()->{introspection} // 0;
ok($calls <= $sent, "provider calls ($calls) at most one per distinct invalid token ($sent)");
diag(sprintf 'figure: memcached restart under load: valid %d requests, %d non-2xx, %d socket errors, '
     . '%.0f req/s; invalid %d sent, %d granted, %d provider calls; cache used again after %.2f s',
     $w->{requests} // 0, $w->{non2xx}, $w->{errors}, $w->{rps} // 0, $sent, $granted, $calls, $reuse);
