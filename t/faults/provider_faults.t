# The provider misbehaving in every way we know of, under load: lifecycle
# calls answer 502/504 JSON within the configured time, protected paths with
# known tokens keep serving (workers are not exhausted by calls waiting on
# the provider), and the stored record is untouched (a refresh works once the
# provider is back). The provider sits behind t/backend/faultop.mjs, which
# forwards or fails on demand; a dedicated httpd (ApiOAuth2ProviderTimeout 1 2)
# talks to it. One figure line per mode.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/../lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();

my @modes    = qw(refuse hang slow 500 garbage huge reset);
my $full     = $ENV{AO2_FAULTS_FULL} ? 1 : 0;
my $load_s   = $full ? 10 : 3;     # seconds of wrk load per mode
my $callers  = $full ? 60 : 30;    # concurrent /token calls per mode
my $total_s  = 2;                  # ApiOAuth2ProviderTimeout's total
plan tests => 3 + 6 * @modes;

my ($port) = port('servers');
my ($fport, $cport) = (port('spare', 50), port('spare', 51));
my $top = "$FindBin::Bin/../..";
my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
mkdir "$dir/store" or die;
chown scalar(getpwnam('nobody')), scalar(getgrnam('nogroup')), "$dir/store" if $> == 0;
chmod 0700, "$dir/store";
store_key("$dir/key");

# faultop in front of the provider.
my $fpid = fork // die;
if ($fpid == 0) {
    open STDIN, '<', '/dev/null';
    open STDOUT, '>>', "$dir/faultop.log"; open STDERR, '>&', \*STDOUT;
    exec 'node', "$top/t/backend/faultop.mjs", '--port', $fport, '--control', $cport,
         '--upstream', provider_url() or POSIX::_exit(127);
}
my $main = $$;
END { if ($$ == $main && $fpid) { local $?; kill TERM => $fpid; waitpid $fpid, 0 } }
ok(wait_for(sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$cport", Timeout => 1) }, 20),
   'faultop listens');

sub mode {
    my ($m) = @_;
    my ($st) = api_call('POST', "http://127.0.0.1:$cport/mode", query => { m => $m });
    return $st == 200;
}

my $p = provider_url();
my $f = "http://127.0.0.1:$fport";
# httpd's default threads (3 x 25): the /token callers for one identity
# must not take them. At most one refresh holder and a bounded number of
# waiters per process (AO2_DEFAULT_REFRESH_WAITERS) hold a worker for the
# provider's timeout; the rest answer 503 with Retry-After at once. With
# all 60 waiting, mpm_event ran short of workers and closed kept-alive
# connections of the load (wrk read errors), even with 4 x 32 threads.
# ApiOAuth2RefreshWindow 0: every /token call goes to the provider, as
# this test is about the provider's faults; with the default window the
# refresh that ends one mode would be the answer to the next mode's callers.
extra_httpd(port => $port, dir => $dir, conf => <<"CONF");
LoadModule api_oauth2_module $top/.libs/mod_api_oauth2.so
ApiOAuth2TokenStore dbm:$dir/store/tokens
ApiOAuth2StoreKey file:$dir/key
ApiOAuth2ProviderTimeout 1 $total_s
ApiOAuth2RefreshWindow 0
CustomLog $dir/access-$port.log "%>s %D %U"
ApiOAuth2Provider flaky issuer=$p authorize=$p/auth token=$f/token revoke=$f/token/revocation userinfo=$f/me introspect=$f/token/introspection introspect_token_type=required
<Location /jsonapiext>
    ApiOAuth2API on
    ApiOAuth2Client flaky api-client api-secret "scope=openid email offline_access"
    ApiOAuth2OdooDatabase faults
    AuthType api-oauth2
    Require valid-user
    ProxyPass http://127.0.0.1:@{[port('backend')]}/jsonapiext
</Location>
CONF

my $api   = "http://127.0.0.1:$port/jsonapiext";
my @basic = (basic => ['api-client', 'api-secret']);
my $tok = full_flow(api => $api, client_id => 'api-client', client_secret => 'api-secret',
                    user => 'faulty-1', login => 'faye');
ok($tok && $tok->{access_token}, 'tokens issued through the flaky provider while it behaves');
is((api_call('GET', "$api/res.partner", bearer => $tok->{access_token}))[0], 200,
   'the token works');

# The slowest /token call of those logged since byte $from, in seconds, as
# httpd timed it (%D): the callers' own clocks also count their waits for
# a CPU on a loaded machine (seconds in mode refuse, which answers at once).
sub slowest_in_httpd {
    my ($from) = @_;
    open my $f, '<', "$dir/access-$port.log" or return undef;
    seek $f, $from, 0;
    my $max;
    for (<$f>) {
        next unless m{^\d+ (\d+) /jsonapiext/oauth2/token$};
        $max = $1 / 1e6 if !defined $max || $1 / 1e6 > $max;
    }
    return $max;
}

for my $m (@modes) {
    ok(mode($m), "provider mode $m");
    my $logged = -s "$dir/access-$port.log" || 0;
    my $load = wrk_start(url => "$api/res.partner", bearer => $tok->{access_token},
                         seconds => $load_s, connections => 8);
    my @answers = concurrently($callers, sub {
        my $t0 = Time::HiRes::time();
        my ($st, $e, $res) = api_call('POST', "$api/oauth2/token",
            json => { client_user_identity => 'faulty-1' }, @basic);
        return sprintf '%d %s %s %.3f', $st, ($e && $e->{error}) // '-',
            $res->header('Retry-After') // '-', Time::HiRes::time() - $t0;
    });
    my $w = wrk_result($load);
    my (%status, %error, $slowest, $no_retry);
    for (@answers) {
        my ($st, $err, $ra, $secs) = split ' ';
        $status{$st}++;
        $error{$err}++;
        $no_retry++ if $ra !~ /^[1-9][0-9]*$/;
        $slowest = $secs if !defined $slowest || $secs > $slowest;
    }
    my $bad = grep { $_ != 502 && $_ != 504 && $_ != 503 } keys %status;
    ok(!$bad && !$no_retry,
       "$m: every /token call answered 502 or 504 (held), or 503 beyond the "
       . 'waiters, each with Retry-After') or diag explain \%status, \@answers;
    ok(!$error{'-'}, "$m: each with a JSON error (" . join(', ', sort keys %error) . ')')
        or diag explain \%error;
    my $in_httpd = slowest_in_httpd($logged);
    ok(defined $in_httpd && $in_httpd <= $total_s + 1.5,
       sprintf("$m: the slowest within the timeout (%.2f s in httpd, %.2f s for its caller)",
               $in_httpd // -1, $slowest));
    ok($w->{requests} && $w->{non2xx} == 0 && $w->{errors} == 0,
       "$m: the known token kept being served under load")
        or diag $w->{text};
    mode('pass');
    # The failure is the answer for a second (waiters and late callers get
    # it at once); then the record, untouched, refreshes.
    my ($st, $new);
    wait_for(sub {
        ($st, $new) = api_call('POST', "$api/oauth2/token",
            json => { client_user_identity => 'faulty-1' }, @basic);
        $st == 200 || $st == 400;
    }, 5, 0.2);
    is($st, 200, "$m: record untouched: a refresh works once the provider is back");
    $tok = $new if $st == 200;
    diag(sprintf 'figure: provider %-7s: %d /token calls -> %s, slowest %.2f s; '
         . 'known token under load: %d requests, %d non-2xx, %d socket errors, %.0f req/s',
         $m, $callers, join(',', map { "$_ x$status{$_}" } sort keys %status), $slowest,
         $w->{requests} // 0, $w->{non2xx}, $w->{errors}, $w->{rps} // 0);
}
