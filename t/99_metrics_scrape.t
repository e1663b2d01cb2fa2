# Last of the suite: the metrics of everything the suite did, kept in
# t/logs/metrics-after-suite.prom, and checked for consistency: the page
# parses, every latency histogram's buckets rise to its _count, which is
# the calls counted for that provider and endpoint, and server-status?auto
# says the same totals.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

plan tests => 6;

my $m = metrics_scrape();
is($m->{st}, 200, 'metrics page answers');
is_deeply($m->{bad}, [], 'every line parses') or diag explain $m->{bad};
my $out = Apache::Test::vars('t_logs') . '/metrics-after-suite.prom';
open my $fh, '>', $out or die "$out: $!";
print $fh $m->{text};
close $fh;

my $v = $m->{v};
my (@wrong, %pairs);
for my $k (keys %$v) {
    $pairs{$1} = 1 if $k =~ /^api_oauth2_provider_call_duration_seconds_count\{(.*)\}$/;
}
for my $p (sort keys %pairs) {
    my @b = map { $v->{$_} } sort { bound($a) <=> bound($b) }
            grep { /^api_oauth2_provider_call_duration_seconds_bucket\{\Q$p\E,le=/ } keys %$v;
    my $calls = 0;
    $calls += $v->{"api_oauth2_provider_calls_total{$p,result=\"$_\"}"} // 0
        for qw(ok rejected error);
    my $count = $v->{"api_oauth2_provider_call_duration_seconds_count{$p}"};
    push @wrong, "$p: buckets do not rise" if grep { $b[$_] < $b[$_ - 1] } 1 .. $#b;
    push @wrong, "$p: +Inf $b[-1] != count $count" if $b[-1] != $count;
    push @wrong, "$p: count $count != calls $calls" if $count != $calls;
}
sub bound { $_[0] =~ /le="([^"]+)"/; $1 eq '+Inf' ? 9**9 : $1 }
ok(%pairs, 'the suite called providers (' . scalar(keys %pairs) . ' provider/endpoint pairs)');
is_deeply(\@wrong, [], 'every histogram: buckets rise to _count, _count is the calls counted');

my (undef, undef, $res) = api_call(GET => '/server-status?auto');
my %auto = ($res->decoded_content // '') =~ /^ApiOAuth2 (\w+): (\d+)$/mg;
sub total { my ($re) = @_; my $s = 0; $s += $v->{$_} for grep { /$re/ } keys %$v; $s }
is_deeply([@auto{qw(BearerChecks CacheHits CacheMisses ProviderCalls)}],
          [total(qr/^api_oauth2_bearer_checks_total\{/),
           total(qr/^api_oauth2_cache_lookups_total\{.*result="hit"/),
           total(qr/^api_oauth2_cache_lookups_total\{.*result="miss"/),
           total(qr/^api_oauth2_provider_calls_total\{/)],
          'server-status?auto: the same totals as the page');
ok(-s $out, "scrape kept in $out");
