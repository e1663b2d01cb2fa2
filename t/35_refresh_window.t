# A burst of /token calls for one identity (workers of one API client that
# share it), spread over more than a second and over two servers sharing
# memcached and a socache:memcache store, with a provider that rotates
# refresh tokens: one refresh grant at the provider, and none of the tokens
# handed out is killed by another caller's refresh (SPEC: a short,
# documented refresh window). The provider answers at once, so most callers
# arrive after the first refresh has finished and released its lock: only
# the refresh window, not the lock, keeps them from refreshing again. After
# the window a /token call refreshes, with the rotated refresh token.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes ();

plan tests => 13;
my $callers = 16;
my $spread  = 1.2;    # seconds from the first caller's start to the last's
my $bound   = 1.0;    # seconds: SPEC's cross-server bound for a refreshed-away token
# Both servers leave ApiOAuth2RefreshWindow at its default.
my $window = refresh_window();
diag("refresh window: $window s (AO2_DEFAULT_REFRESH_WINDOW)");

my $top = "$FindBin::Bin/..";
my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $key = store_key("$dir/shared.key");
my @ports = (port('servers'))[0, 1];
my $mods = '/usr/lib/apache2/modules';
my $mc = '127.0.0.1:' . port('memcached');
my $conf = <<"CONF";
LoadModule socache_memcache_module $mods/mod_socache_memcache.so
LoadModule api_oauth2_module $top/.libs/mod_api_oauth2.so
ApiOAuth2TokenStore socache:memcache:$mc
ApiOAuth2StoreKey file:$key
ApiOAuth2Cache memcache:$mc
@{[shared_api_conf()]}
CONF
extra_httpd(port => $_, dir => $dir, conf => $conf) for @ports;
ok(!grep({ !IO::Socket::INET->new(PeerAddr => "127.0.0.1:$_", Timeout => 1) } @ports),
   'two servers listen');
my @urls = map { "http://127.0.0.1:$_" } @ports;
my @basic = (basic => ['api-client', 'api-secret']);
my $user = 'window-1';
sub get { (api_call('GET', "$_[0]/jsonapiext/res.partner", bearer => $_[1]))[0] }
sub on_both { join ' ', map { get($_, $_[0]) } @urls }
sub refresh {
    my ($url) = @_;
    my ($st, $body) = api_call('POST', "$url/jsonapiext/oauth2/token",
        json => { client_user_identity => $user }, @basic);
    return ($st, $body);
}

my $tok = full_flow(api => "$urls[0]/jsonapiext", client_id => 'api-client',
                    client_secret => 'api-secret', user => $user, login => 'wanda');
ok($tok->{refresh_token}, 'tokens issued through server 1');

# Caller i starts i * spread / (callers - 1) seconds after the callers are
# let go, on server i % 2.
provider_stats_reset();
my @answers = concurrently($callers, sub {
    my ($i) = @_;
    my $start = Time::HiRes::time() + $i * $spread / ($callers - 1);
    my $left = $start - Time::HiRes::time();
    Time::HiRes::sleep($left) if $left > 0;    # the schedule of the burst
    my $t0 = Time::HiRes::time();
    my ($st, $b) = refresh($urls[$i % 2]);
    return sprintf '%d %s %.3f %.3f', $st, ($b && $b->{access_token}) // '-', $t0,
        Time::HiRes::time();
});
my (%status, %tokens, @starts, @ends);
for (@answers) {
    my ($st, $at, $t0, $t1) = split ' ';
    $status{$st // 'none'}++;
    $tokens{$at}++ if $at && $at ne '-';
    push @starts, $t0 // 0;
    push @ends, $t1 // 0;
}
my ($go) = sort { $a <=> $b } @starts;
my ($first_end) = sort { $a <=> $b } @ends;
my ($burst_at) = keys %tokens;

# Still inside the window, which began after go (the refresh was asked
# for no earlier): the same tokens, no grant. A call at a known time, as
# the window is defined by the clock.
my $wait = $go + $window - 0.5 - Time::HiRes::time();
Time::HiRes::sleep($wait) if $wait > 0;
my $asked = Time::HiRes::time();
my ($st, $same) = refresh($urls[1]);
my $grants = provider_stats()->{token};

my @s = sort { $a <=> $b } @starts;
my @took = sort { $a <=> $b } map { $ends[$_] - $starts[$_] } 0 .. $#starts;
diag(sprintf 'figure: %d /token calls started over %.2f s, each took %.3f to %.3f s, %d distinct access token(s)',
             $callers, $s[-1] - $s[0], $took[0], $took[-1], scalar keys %tokens);
ok($s[-1] - $s[0] >= 1.0, sprintf('the burst spread over %.2f s (at least 1 s)', $s[-1] - $s[0]));
is_deeply(\%status, { 200 => $callers }, "all $callers callers got 200")
    or diag explain \%status;
is($grants, 1, 'the provider saw one refresh grant');
is(scalar keys %tokens, 1, 'every caller got the same access token')
    or diag(scalar(keys %tokens) . ' distinct access tokens');
ok($st == 200 && ($same->{access_token} // '') eq ($burst_at // '') && $asked < $go + $window,
   sprintf('%.2f s after the burst began (window %d s): the same tokens, no grant', $asked - $go, $window))
    or diag explain [$st, $same];
my @dead = grep { on_both($_) ne '200 200' } keys %tokens;
is(scalar @dead, 0, 'every access token handed out works on both servers')
    or diag(scalar(@dead) . ' of ' . scalar(keys %tokens) . ' refused somewhere');
ok(wait_for(sub { on_both($tok->{access_token}) eq '401 401' }, $bound, 0.02),
   "the refreshed-away token of the callback is refused on both (within $bound s)");

# Past the window (counted from the first answer, which came after the
# refresh): a refresh, with the rotated refresh token the record kept.
past_refresh_window($first_end, $window);
my $new;
($st, $new) = refresh($urls[0]);
is($st, 200, 'past the window, /token refreshes with the rotated refresh token')
    or diag explain $new;
isnt($new->{access_token} // '', $burst_at // '', 'a new access token');
is(provider_stats()->{token}, 2, 'the provider saw that second refresh grant');
is(on_both($new->{access_token}), '200 200', 'it works on both servers');
