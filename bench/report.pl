#!/usr/bin/perl
# The benchmark's report (markdown on stdout), from what tools/bench.sh
# recorded in its run directory:
#
#   bench/report.pl bench/results/run
#
#   results.tsv   one line per wrk run: round, position in the round, variant,
#                 instance, req/s, p50 us, p99 us, requests, socket errors,
#                 unexpected statuses, odd statuses logged, crashed children,
#                 error_log error lines, provider introspection calls,
#                 CPU us per request of the instance's children,
#                 provider calls of any kind (token, userinfo, JWKS ...)
#                 (or: round, position, variant, instance, FAILED)
#   meta.tsv      key TAB value: date, commit, versions, settings, desc:V,
#                 base:V, expect:V, broken:V, ...
#   checks.tsv    key TAB value: concurrent:INSTANCE, rss, rss_pids, log:INSTANCE ...
#   logs/variant-errors.txt   warn+ lines of error_log per variant and round
#
# Each variant ran between two runs of its base (the unprotected location, or
# the unprotected proxy): its ratio in a round is its figure over the mean of
# those two neighbours, and the table shows the median over the rounds; req/s
# and p99 are medians over all runs of the variant.

use strict;
use warnings;

use List::Util qw(max min sum);
use POSIX qw(ceil);

my $run = shift @ARGV or die "usage: $0 RUN_DIR\n";

sub read_kv {
    my ($file) = @_;
    my %h;
    open my $fh, '<', $file or return \%h;
    while (<$fh>) {
        chomp;
        my ($k, $v) = split /\t/, $_, 2;
        $h{$k} = $v if defined $k && length $k;
    }
    return \%h;
}

my $meta   = read_kv("$run/meta.tsv");
my $checks = read_kv("$run/checks.tsv");

my (%runs, %at, %failed);    # variant -> [runs]; round -> position -> run
if (open my $fh, '<', "$run/results.tsv") {
    while (<$fh>) {
        chomp;
        my @f = split /\t/;
        next unless @f >= 5;
        if ($f[4] eq 'FAILED') { $failed{$f[2]}++; next }
        my %r;
        @r{qw(round seq variant inst rps p50 p99 requests sockerr unexpected odd crashes errlines calls cpu allcalls)} = @f;
        push @{ $runs{$r{variant}} }, \%r;
        $at{$r{round}}{$r{seq}} = \%r;
    }
    close $fh;
}

sub median {
    my @v = sort { $a <=> $b } grep { defined } @_;
    return undef unless @v;
    my $n = @v;
    return $n % 2 ? $v[($n - 1) / 2] : ($v[$n / 2 - 1] + $v[$n / 2]) / 2;
}

# ratios of a field of variant $v's runs to the mean of the base runs right
# before and after each of them
sub ratios {
    my ($v, $field) = @_;
    my $base = $meta->{"base:$v"} // 'plain';
    my @r;
    for my $x (@{ $runs{$v} || [] }) {
        my @b = grep { $_ && $_->{variant} eq $base && $_->{$field} > 0 }
                map { $at{$x->{round}}{$_} } $x->{seq} - 1, $x->{seq} + 1;
        next unless @b;
        push @r, $x->{$field} / (sum(map { $_->{$field} } @b) / @b);
    }
    return @r;
}

sub rounds_of { my ($v) = @_; return @{ $runs{$v} || [] } }

my %stat;    # variant -> computed
my @variants = split ' ', ($meta->{variants} // '');
for my $v (@variants) {
    my @r = rounds_of($v);
    next unless @r;
    my $s = $stat{$v} = {};
    $s->{rounds}   = scalar @r;
    $s->{rps}      = median(map { $_->{rps} } @r);
    $s->{p99}      = median(map { $_->{p99} } @r) / 1000;
    $s->{ratio}    = median(ratios($v, 'rps'));
    $s->{p99ratio} = median(ratios($v, 'p99'));
    $s->{cpu}      = median(map { $_->{cpu} } @r);
    $s->{calls}    = [map { $_->{calls} } @r];
    $s->{allcalls} = [map { $_->{allcalls} // -1 } @r];
    $s->{requests} = sum(map { $_->{requests} } @r);
    for my $f (qw(sockerr unexpected crashes errlines)) {
        $s->{$f} = sum(map { $_->{$f} } @r);
    }
}

sub fmt_num {
    my ($n) = @_;
    return '-' unless defined $n;
    my $s = sprintf '%.0f', $n;
    1 while $s =~ s/^(\d+)(\d{3})/$1,$2/;
    return $s;
}
sub fmt_ratio { defined $_[0] ? sprintf('%.2f', $_[0]) : '-' }

sub fmt_calls {
    my ($c) = @_;
    return '-' unless $c && @$c;
    return max(@$c) == 0 ? '0' : 'max ' . max(@$c) if @$c > 5 && min(@$c) >= 0;
    return join ' / ', @$c if @$c <= 5;
    return sprintf 'median %s, max %s', median(@$c), max(@$c);
}

sub fmt_errors {
    my ($s) = @_;
    my @p;
    push @p, "socket $s->{sockerr}"       if $s->{sockerr};
    push @p, "unexpected $s->{unexpected}" if $s->{unexpected};
    push @p, "CRASHES $s->{crashes}"      if $s->{crashes};
    push @p, "error_log $s->{errlines}"   if $s->{errlines};
    return @p ? join(', ', @p) : '0';
}

# --- header -------------------------------------------------------------------
print "# mod_api_oauth2 benchmark, $meta->{date}\n\n";
print "- commit: $meta->{commit}; module built $meta->{module}\n" if $meta->{commit};
print "- machine: $meta->{cpu}\n"                               if $meta->{cpu};
print "- $meta->{versions}\n"                                   if $meta->{versions};
print "- $meta->{settings}\n"                                   if $meta->{settings};
print "- every variant ran between two runs of its base (the unprotected location; the",
      " unprotected proxy for ao2-proxy; ao2-shm-hit, metrics on, for ao2-shm-nometrics); ratio: its req/s (p99) over the mean of those",
      " two, median over the rounds; req/s and p99: medians over all its runs;",
      " provider calls: introspections counted at the provider during each run.\n\n";

# --- table ----------------------------------------------------------------------
print "| variant | median req/s | ratio | p99 ms | p99 ratio | CPU us/req | provider calls per round | errors | what |\n";
print "|---|---:|---:|---:|---:|---:|---|---|---|\n";
for my $v (@variants) {
    my $desc = $meta->{"desc:$v"} // '';
    $desc .= " (expects $meta->{\"expect:$v\"})" if ($meta->{"expect:$v"} // '200') ne '200';
    if (my $why = $meta->{"broken:$v"}) {
        (my $w = $why) =~ s/\|/\\|/g;
        print "| $v | n/a | | | | | | not measured: $w | $desc |\n";
        next;
    }
    my $s = $stat{$v};
    unless ($s) {
        print "| $v | n/a | | | | | | wrk failed | $desc |\n";
        next;
    }
    printf "| %s | %s | %s | %.2f | %s | %s | %s | %s | %s |\n", $v, fmt_num($s->{rps}),
        ($v eq 'plain' || $v eq 'proxy-plain') ? '1.00' : fmt_ratio($s->{ratio}),
        $s->{p99}, ($v eq 'plain' || $v eq 'proxy-plain') ? '1.00' : fmt_ratio($s->{p99ratio}),
        defined $s->{cpu} ? sprintf('%.1f', $s->{cpu}) : '-',
        fmt_calls($s->{calls}), fmt_errors($s) . ($failed{$v} ? ", wrk failed $failed{$v}x" : ''),
        $desc;
}
print "\n";

# --- targets ----------------------------------------------------------------------
my $secs     = $meta->{seconds} // 5;
my $neg_ttl  = $meta->{neg_ttl} // 10;
my $periods  = ceil($secs / $neg_ttl);
my $nbad     = $meta->{bad_tokens} // 1000;
my @targets;

sub target {
    my ($ok, $text) = @_;
    push @targets, sprintf '- %s %s', (!defined $ok ? '[n/a]' : $ok ? '[PASS]' : '[FAIL]'), $text;
}

sub ratio_target {
    my ($v, $min, $what) = @_;
    my $s = $stat{$v};
    return target(undef, "$what >= $min: not measured") unless $s && defined $s->{ratio};
    target($s->{ratio} >= $min, sprintf '%s >= %.2f: %.3f (rounds: %s)', $what, $min, $s->{ratio},
        join(', ', map { sprintf '%.2f', $_ } ratios($v, 'rps')));
}

# wrk sees socket read errors now and then on every variant, the unprotected
# one included (about one per 100,000 requests, in bursts): they count only
# above 5 per 100,000 requests and 10 times the unprotected location's rate.
sub sock_allowance {
    my ($s) = @_;
    my $p = $stat{plain};
    my $rate = $p && $p->{requests} ? $p->{sockerr} / $p->{requests} : 0;
    return max(5 * $s->{requests} / 100000, 10 * $rate * $s->{requests});
}

sub clean {
    my ($s) = @_;
    return !$s->{unexpected} && !$s->{crashes} && !$s->{errlines}
        && $s->{sockerr} <= sock_allowance($s);
}

ratio_target('ao2-shm-hit', 0.95, 'cache hit, shm, ratio to unprotected');
ratio_target('ao2-mc-hit', 0.90, 'cache hit, memcache (node-local copy, revocation log), ratio to unprotected');
if (my $s = $stat{'ao2-mc-hit'}) {
    my $p = $stat{plain};
    target(clean($s), sprintf 'cache hit, memcache, 2 x 32 threads on one pool: no crash, no error'
        . ' (%s requests; unexpected statuses %d, crashed children %d, error_log lines %d;'
        . ' wrk socket errors %d, against %d in %s requests of the unprotected location)',
        fmt_num($s->{requests}), $s->{unexpected}, $s->{crashes}, $s->{errlines},
        $s->{sockerr}, $p ? $p->{sockerr} : 0, fmt_num($p ? $p->{requests} : 0));
}
ratio_target('ao2-bad-1', 0.90, 'invalid-token flood, one bad token repeated, ratio to unprotected');
if (my $s = $stat{'ao2-bad-1'}) {
    my $mx = max(@{ $s->{calls} });
    target($mx <= $periods && $mx >= 0 && !$s->{unexpected},
        "invalid-token flood, one bad token: at most $periods provider call(s) per round"
        . " (one per negative TTL of ${neg_ttl}s over ${secs}s): " . fmt_calls($s->{calls})
        . ($s->{unexpected} ? ", $s->{unexpected} answers other than 401" : ''));
}
if (my $s = $stat{'ao2-bad-rot'}) {
    my $mx = max(@{ $s->{calls} });
    my $lim = $nbad * $periods;
    target($mx <= $lim && $mx >= 0 && !$s->{unexpected},
        "invalid-token flood, $nbad distinct bad tokens in rotation: at most $lim provider calls per round: "
        . fmt_calls($s->{calls}) . sprintf(' (ratio to unprotected %s)', fmt_ratio($s->{ratio}))
        . ($s->{unexpected} ? ", $s->{unexpected} answers other than 401" : ''));
}
for my $inst (qw(ao2-shm ao2-mc)) {
    my $c = $checks->{"concurrent:$inst"} or next;
    my @per = map { [split m{/}] } split ' ', $c;
    my $ok = !grep { $_->[0] != 1 || $_->[2] ne '0' } @per;
    target($ok, "32 concurrent first requests with one new foreign token, $inst: 1 introspection each"
        . ' (introspections per token: ' . join(', ', map { $_->[0] } @per)
        . '; non-2xx: ' . join(', ', map { $_->[2] } @per) . ')');
}
ratio_target('ao2-proxy', 0.98, 'behind mod_proxy, ratio to the unprotected proxy');
# Recording metrics: every metrics-off run sits between two metrics-on runs
# of the same check; on over off per round, median over the rounds.
{
    my @r = map { 1 / $_ } grep { $_ > 0 } ratios('ao2-shm-nometrics', 'rps');
    my $m = median(@r);
    my $what = 'cache hit, shm, req/s with metrics on over off (ApiOAuth2Metrics), in the same rounds';
    target(defined $m ? $m >= 0.98 : undef, defined $m
        ? sprintf('%s >= 0.98: %.3f (rounds: %s; req/s on %s, off %s)', $what, $m,
            join(', ', map { sprintf '%.3f', $_ } @r), fmt_num($stat{'ao2-shm-hit'}{rps}),
            fmt_num($stat{'ao2-shm-nometrics'}{rps}))
        : "$what >= 0.98: not measured");
    # The same as httpd's CPU time per request, which a busy machine moves
    # less than req/s.
    my @c = map { 1 / $_ } grep { $_ > 0 } ratios('ao2-shm-nometrics', 'cpu');
    my $mc = median(@c);
    $what = 'cache hit, shm, httpd CPU time per request with metrics on over off';
    target(defined $mc ? $mc <= 1.02 : undef, defined $mc
        ? sprintf('%s <= 1.02: %.3f (rounds: %s; %.1f us on, %.1f us off)', $what, $mc,
            join(', ', map { sprintf '%.3f', $_ } @c), $stat{'ao2-shm-hit'}{cpu} // 0,
            $stat{'ao2-shm-nometrics'}{cpu} // 0)
        : "$what <= 1.02: not measured");
}
ratio_target('ao2-jwt-hit', 0.90, 'JWT access token, cache hit, shm, ratio to unprotected');
# What a variant adds to the unprotected location's request: httpd CPU
# time per request (which a busy machine moves less than req/s) over the
# unprotected location's.
sub extra_us {
    my ($s) = @_;
    my $p = $stat{plain};
    return undef unless $s && $p && defined $s->{cpu} && defined $p->{cpu} && $p->{cpu} > 0;
    return $s->{cpu} - $p->{cpu};
}
if (my $s = $stat{'ao2-jwt-first'}) {
    my $all = $s->{allcalls};
    my $ok = @$all && !grep { $_ != 0 } @$all;
    target($ok && clean($s), sprintf('JWT access tokens seen for the first time (%s requests, each a local'
        . ' signature check): no provider call of any kind (per round: %s); ratio to unprotected %s,'
        . ' httpd CPU time per request %s us more than unprotected; unexpected statuses %d',
        fmt_num($s->{requests}), join(' / ', @$all), fmt_ratio($s->{ratio}),
        defined extra_us($s) ? sprintf('%.1f', extra_us($s)) : '?', $s->{unexpected}));
}
if (my $s = $stat{'ao2-intro-first'}) {
    my $j = $stat{'ao2-jwt-first'};
    my $per = median(map { $_->{requests} ? $_->{calls} / $_->{requests} : undef } rounds_of('ao2-intro-first'));
    target($j && defined $j->{ratio} && defined $s->{ratio} ? $j->{ratio} > $s->{ratio} : undef,
        sprintf('first-seen JWT faster than first-seen opaque token (introspection): ratio %s vs %s'
            . ' (httpd CPU time per request %s us vs %s us more than unprotected);'
            . ' the opaque ones: %s introspections per request (median over rounds), %s provider'
            . ' calls of any kind per round, unexpected statuses %d',
            fmt_ratio($j ? $j->{ratio} : undef), fmt_ratio($s->{ratio}),
            defined extra_us($j) ? sprintf('%.1f', extra_us($j)) : '?',
            defined extra_us($s) ? sprintf('%.1f', extra_us($s)) : '?',
            defined $per ? sprintf('%.2f', $per) : '?', join(' / ', @{ $s->{allcalls} }),
            $s->{unexpected}));
}
for my $v (qw(ao2-shm-hit ao2-mc-hit)) {
    my $s = $stat{$v} or next;
    next unless defined $s->{p99ratio};
    target($s->{p99ratio} <= 1.2, sprintf 'p99 latency at 32 connections within 1.2x of unprotected, %s: %.2f ms vs %.2f ms, ratio %.2f (rounds: %s)',
        $v, $s->{p99}, $stat{plain}{p99}, $s->{p99ratio}, join(', ', map { sprintf '%.2f', $_ } ratios($v, 'p99')));
}
# rss:LABEL = "requests:kB ..." (0 = fresh); the target compares the module's
# RSS at the second point (RSS_FIRST) and the last (RSS_TOTAL)
sub rss_points {
    my ($label) = @_;
    my $v = $checks->{"rss:$label"} or return;
    return map { [split /:/] } split ' ', $v;
}
sub growth { my ($a, $b) = @_; return $a ? ($b - $a) / $a : undef }
if (my @m = rss_points('module')) {
    my ($first, $last) = ($m[1], $m[-1]);
    my $g = growth($first->[1], $last->[1]);
    my ($p0, $p1) = split ' ', ($checks->{'rss_pids:module'} // '');
    my $same = defined $p1 && $p0 eq $p1;
    my @c = rss_points('plain');
    my $cg = @c ? growth($c[1][1], $c[-1][1]) // 0 : undef;
    my $control = @c ? sprintf('; the same server on the unprotected location (control): %s kB -> %s kB (%+.2f%%),'
        . ' so the module adds %+.2f points', fmt_num($c[1][1]), fmt_num($c[-1][1]), 100 * $cg,
        100 * (($g // 0) - $cg)) : '';
    target(defined $g && $g <= 0.02 && $same,
        sprintf('httpd child RSS after %s requests within 2%% of RSS after %s: %s kB -> %s kB (%+.2f%%)%s%s',
            fmt_num($last->[0]), fmt_num($first->[0]), fmt_num($first->[1]), fmt_num($last->[1]),
            100 * ($g // 0), $control, $same ? '' : "; the children changed ($p0 -> $p1)"));
}
else {
    target(undef, 'httpd child RSS after 1,000,000 requests: skipped (BENCH_SKIP_RSS=1)');
}
my ($flood_ratio, @flood_ctl);
for my $fk (qw(flood flood-share flood-ctl)) {
    my $fl = $checks->{$fk} or next;
    my %f = map { split /=/, $_, 2 } split ' ', $fl;
    my $base = (($f{base0} // 0) + ($f{base1} // 0)) / 2;
    my $ratio = $base ? ($f{flood} // 0) / $base : 0;
    # The flood must really have offered the rate: a slower one would make
    # the ratio look better than it is.
    my $offered = ($f{rate} // 0) ? ($f{flood_rps} // 0) / $f{rate} : 0;
    # Valid requests lost per flood request: what one unknown token costs,
    # in valid requests (1.0: as much as a valid request).
    my $cost = ($f{flood_rps} // 0) > 0 ? ($base - ($f{flood} // 0)) / $f{flood_rps} : 0;
    $flood_ratio = $ratio if $fk eq 'flood';
    if ($f{path}) {    # the control: a reference, not a target of this module
        push @flood_ctl, sprintf '- flood control (the same flood sent to %s, refused by mod_auth_basic alone): '
            . 'valid tokens %.0f req/s vs %.0f without (ratio %.2f; this module\'s flood row: %s); the flood ran at %.0f req/s '
            . '(%.0f%% of the rate); each flood request cost %.2f valid requests',
            $f{path}, $f{flood}, $base, $ratio,
            defined $flood_ratio ? sprintf('%.2f', $flood_ratio) : '?', $f{flood_rps} // 0, 100 * $offered, $cost;
        next;
    }
    target($ratio >= 0.8 && $offered >= 0.95 && ($f{valid_status} // 1) == 0,
        sprintf(($f{share} ? "at $f{share}%% of the unprotected rate: " : '') . 'valid tokens under a flood of %s distinct random tokens/s with the provider hanging: '
            . '%.0f req/s vs %.0f without (ratio %.2f, target 0.80), %s non-2xx; the flood ran at %.0f req/s '
            . '(%.0f%% of the rate, target 95%%; %s requests, %s non-2xx: 401 or 503), %s provider calls; '
            . 'each flood request cost %.2f valid requests',
            fmt_num($f{rate}), $f{flood}, $base, $ratio, $f{valid_status} // '?', $f{flood_rps} // 0,
            100 * $offered, fmt_num($f{flood_requests} // 0), fmt_num($f{flood_non2xx} // 0),
            $f{provider_calls} // '?', $cost));
}
print "## Targets\n\n", join("\n", @targets), "\n\n";

# --- checks and references ----------------------------------------------------------
my @lines = @flood_ctl;
for my $inst (qw(ao2-shm ao2-mc oidc-shm oauth2-shm)) {
    my $c = $checks->{"concurrent:$inst"} or next;
    push @lines, "- concurrent first requests, $inst: per fresh token, introspections/requests/non-2xx in a 1 s wrk -c32 run: $c";
}
for my $label (qw(module plain)) {
    my @p = rss_points($label) or next;
    push @lines, sprintf '- RSS of the ao2-shm children (sum of VmRSS), %s, requests: kB: %s; children %s',
        $label eq 'module' ? 'cache-hit requests (/api/r)' : 'control, unprotected location (/plain)',
        join(', ', map { fmt_num($_->[0]) . ': ' . fmt_num($_->[1]) } @p),
        $checks->{"rss_pids:$label"} // '?';
}
for my $k (sort grep { /^log:/ } keys %$checks) {
    my ($crash, $err) = split ' ', $checks->{$k};
    (my $inst = $k) =~ s/^log://;
    push @lines, "- error_log of $inst over the whole run: $crash crashed children, $err error lines"
        if $crash || $err;
}
push @lines, '- reference ratios of the peers (from the issue): mod_auth_openidc shm 0.83, memcache 0.50;'
    . ' mod_oauth2 shm 0.72, memcache crashes under mpm_event; invalid-token flood 0.04.';
print "## Checks\n\n", join("\n", @lines), "\n\n";

# --- what the error logs said ------------------------------------------------------------
if (open my $fh, '<', "$run/logs/variant-errors.txt") {
    my (%seen, @out, $cur);
    while (my $l = <$fh>) {
        chomp $l;
        if ($l =~ /^== (\S+) round/) { $cur = $1; next }
        # drop the timestamp, pid/tid and client address: one line per message kind
        (my $m = $l) =~ s/^\[[^\]]*\] //;
        $m =~ s/\[pid \d+(?::tid \d+)?\] //;
        $m =~ s/\[client [^\]]*\] //;
        $m =~ s/pid \d+/pid N/g;
        $m = substr($m, 0, 240);
        next if $seen{"$cur\0$m"}++;
        push @out, "- $cur: `$m`" if @out < 40;
    }
    close $fh;
    print "## error_log lines during the measurements (distinct, first 40)\n\n", join("\n", @out), "\n" if @out;
}
