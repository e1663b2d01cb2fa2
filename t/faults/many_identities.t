# Many identities authorised, refreshed and revoked in parallel (make faults:
# 1,000; make test: 40): every surviving record is correct (its own login,
# a working token, refreshable), every revoked one is gone, and the store
# still works for a new identity afterwards. One figure line.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/../lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use Time::HiRes ();

my $full    = $ENV{AO2_FAULTS_FULL} ? 1 : 0;
my $n       = $full ? 1000 : 40;
my $workers = $full ? 16 : 8;
plan tests => 6;

my @basic = (basic => ['api-client', 'api-secret']);
my $run = random_string(6);
sub identity { "many-$run-$_[0]" }
sub login_of { "user$_[0]\@many.test" }

# Each worker takes every $workers-th identity: authorise, refresh, and
# revoke the odd ones. It reports "ok" counts and the first failure.
my $t0 = Time::HiRes::time();
my @reports = concurrently($workers, sub {
    my ($w) = @_;
    my ($done, $bad) = (0, '');
    for (my $i = $w; $i < $n; $i += $workers) {
        my $tok = full_flow(api => '/jsonapiext', client_id => 'api-client',
                            client_secret => 'api-secret', user => identity($i), login => login_of($i));
        $bad ||= "authorize $i" and next unless $tok && $tok->{access_token};
        my ($st) = api_call('POST', '/jsonapiext/oauth2/token',
            json => { client_user_identity => identity($i) }, @basic);
        $bad ||= "refresh $i: $st" and next unless $st == 200;
        if ($i % 2) {
            ($st) = api_call('POST', '/jsonapiext/oauth2/revoke',
                json => { client_user_identity => identity($i) }, @basic);
            $bad ||= "revoke $i: $st" and next unless $st == 200;
        }
        $done++;
    }
    return "$done $bad";
});
my $phase1 = Time::HiRes::time() - $t0;
my $done = 0;
my @bad;
for (@reports) {
    my ($d, $b) = split ' ', $_, 2;
    $done += $d;
    push @bad, $b if $b;
}
ok(!@bad, "$workers workers authorised, refreshed and revoked without a failure")
    or diag explain \@bad;

# Every identity, checked from here.
my ($kept_ok, $gone_ok, @wrong) = (0, 0);
for my $i (0 .. $n - 1) {
    my ($st, $info) = api_call('POST', '/jsonapiext/oauth2/token',
        json => { client_user_identity => identity($i) }, @basic);
    if ($i % 2) {
        $st == 404 ? $gone_ok++ : push @wrong, "revoked $i answers $st";
        next;
    }
    if ($st != 200 || ($info->{login} // '') ne login_of($i)) {
        push @wrong, "kept $i: $st " . ($info->{login} // '-');
        next;
    }
    my ($use, $echo) = api_call('GET', '/jsonapiext/res.partner', bearer => $info->{access_token});
    ($use == 200 && ($echo->{headers}{'x-odoo-login'} // '') eq login_of($i))
        ? $kept_ok++ : push @wrong, "kept $i: token gives $use";
}
my $kept = int($n / 2) + ($n % 2);
is($kept_ok, $kept, "all $kept surviving records correct: own login, token works, refreshable");
is($gone_ok, $n - $kept, 'all ' . ($n - $kept) . ' revoked records are gone');
ok(!@wrong, 'nothing else') or diag explain [ @wrong[0 .. ($#wrong < 9 ? $#wrong : 9)] ];

my $after = full_flow(api => '/jsonapiext', client_id => 'api-client',
                      client_secret => 'api-secret', user => "many-$run-after", login => 'after@many.test');
ok($after && $after->{access_token}, 'the store still takes a new identity');
is((api_call('GET', '/jsonapiext/res.partner', bearer => $after->{access_token}))[0], 200,
   'and its token works');
diag(sprintf 'figure: %d identities by %d workers in %.1f s (%.0f lifecycles/s): %d kept and correct, '
     . '%d revoked and gone, %d wrong', $n, $workers, $phase1, $n / ($phase1 || 1), $kept_ok, $gone_ok,
     scalar @wrong);
