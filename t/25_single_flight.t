# 32 concurrent first requests with one new foreign token make one
# introspection call at the provider, across processes.
#
# The lookup's single flight goes through the memcache cache (the lock, then
# the verdict the waiters read). A memcached that does not answer within the
# module's I/O timeout (150 ms, src/ao2_cache_memcache.c) counts as down for
# a moment, and a process that cannot read the verdict looks the token up
# itself: by design, not a single-flight failure. On a loaded machine a
# local memcached can stall that long; the module then says so (AO2K0014,
# once per process as it stops asking memcached), and that burst is tried
# again with a new token (at most 20 times). The assertion stays exactly
# one call per burst in which memcached answered the module in time.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

my $callers = 32;
my $tries = 20;
plan tests => 4;

sub burst {
    my ($token) = @_;
    my %status;
    $status{$_}++ for concurrently($callers, sub {
        (api_call('GET', '/jsonapiext/res.partner', bearer => $token))[0];
    });
    return \%status;
}

# Runs a burst for a fresh token from make_token until one in which no
# process found memcached failing (AO2K0014, said as a process's breaker
# opens); -> (statuses, introspection calls).
sub clean_burst {
    my ($make_token) = @_;
    my ($status, $calls);
    for my $n (1 .. $tries) {
        my $token = $make_token->();
        provider_stats_reset();
        provider_delay('introspection', 300);    # every caller overlaps the lookup
        my $mark = error_log_mark();
        $status = burst($token);
        provider_delay('introspection', 0);
        $calls = provider_stats()->{introspection};
        my ($failed) = error_log_text($mark) =~ /(AO2K0014: [^\n]*)/;
        return ($status, $calls) unless $failed;
        diag "burst $n: $failed ($calls introspection calls): again";
        # Until every process that stopped asking memcached asks it again
        # (AO2K0015): requests drive that, one per process at a time.
        wait_for(sub {
            api_call('GET', '/jsonapiext/res.partner', bearer => $token) for 1 .. 4;
            my %away;
            for (split /\n/, error_log_text($mark)) {
                my ($pid) = /\[pid (\d+)/ or next;
                $away{$pid} = 1 if /AO2K0014/;
                delete $away{$pid} if /AO2K0015/;
            }
            !%away;
        }, 30, 0.2) or diag 'memcached still failing some process';
    }
    diag "memcached failed the module in each of $tries bursts";
    return ($status, $calls);
}

my $foreign = provider_tokens(login => 'tara', scope => 'openid email');
ok($foreign->{access_token}, 'a token the module did not issue');
my $n = 0;
my ($status, $calls) = clean_burst(sub {
    return $foreign->{access_token} if $n++ == 0;
    return provider_tokens(login => "tara$n", scope => 'openid email')->{access_token};
});
is_deeply($status, { 200 => $callers }, "all $callers requests passed") or diag explain $status;
is($calls, 1, 'one introspection call for all of them');

($status, $calls) = clean_burst(sub { 'never-issued-' . random_string(12) });
is($calls, 1, 'the same for one unknown token') or diag explain $status;
