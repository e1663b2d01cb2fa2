#!/usr/bin/perl
# bench/perf-diff.pl N_BASE BASE.data N_VAR VAR.data [TOP]: microseconds
# per request by shared object and symbol, from two perf recordings
# (cpu-clock at 10 kHz) of N_BASE and N_VAR requests: the total per request
# of each, and the TOP (30) symbols by the variant's excess over the base.
use strict;
use warnings;

my ($nb, $fb, $nv, $fv, $top) = @ARGV;
die "usage: $0 N_BASE BASE.data N_VAR VAR.data [TOP]\n" unless $fv && $nb && $nv;
$top //= 30;
my $hz = 10000;

sub samples {
    my ($file) = @_;
    my (%by, $total);
    open my $fh, "perf report -i '$file' --no-children --sort dso,sym --stdio -F overhead,sample,dso,sym 2>/dev/null |"
        or die "perf report $file: $!\n";
    while (<$fh>) {
        next if /^#/ || /^\s*$/;
        # "  12.34%   1234  dso  [.] symbol"
        next unless /^\s*[\d.]+%\s+(\d+)\s+(\S+)\s+\[[.k]\]\s+(.+?)\s*$/;
        my ($n, $dso, $sym) = ($1, $2, $3);
        $sym =~ s/^0x[0-9a-f]+$/?/;
        $by{"$dso $sym"} += $n;
        $total += $n;
    }
    close $fh;
    die "$file: no samples\n" unless $total;
    return ($total, \%by);
}

my ($tb, $bb) = samples($fb);
my ($tv, $bv) = samples($fv);
my $us = sub { $_[0] * 1e6 / $hz / $_[1] };
printf "microseconds per request (sampled): base %.2f, variant %.2f, above base %.2f\n",
    $us->($tb, $nb), $us->($tv, $nv), $us->($tv, $nv) - $us->($tb, $nb);
my %d;
$d{$_} = $us->($bv->{$_} // 0, $nv) - $us->($bb->{$_} // 0, $nb) for keys %{{ %$bb, %$bv }};
my %dso;
for my $k (keys %d) { my ($o) = split ' ', $k; $dso{$o} += $d{$k}; }
printf "%8s  %s\n", 'us/req', 'shared object (variant minus base)';
for my $o (sort { abs($dso{$b}) <=> abs($dso{$a}) } keys %dso) {
    last if abs($dso{$o}) < 0.05;
    printf "%8.2f  %s\n", $dso{$o}, $o;
}
printf "%8s  %s\n", 'us/req', 'symbol (variant minus base)';
my $i = 0;
for my $k (sort { abs($d{$b}) <=> abs($d{$a}) } keys %d) {
    last if ++$i > $top || abs($d{$k}) < 0.02;
    printf "%8.2f  %s\n", $d{$k}, $k;
}
