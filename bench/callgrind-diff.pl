#!/usr/bin/perl
# bench/callgrind-diff.pl N_SHORT N_LONG BASE_SHORT BASE_LONG VAR_SHORT VAR_LONG [TOP]
# Instructions per request a variant costs above its base, from four
# callgrind outputs of httpd -X: the base and the variant each after N_SHORT
# and after N_LONG requests. Start-up, warm-up and exit are the same in the
# short and the long run and drop out of (long - short) / (N_LONG - N_SHORT);
# what the base does per request drops out of the variant's figure.
# Prints the total and the TOP (25) functions by self instructions per request.
use strict;
use warnings;

my ($ns, $nl, $bs, $bl, $vs, $vl, $top) = @ARGV;
die "usage: $0 N_SHORT N_LONG BASE_SHORT BASE_LONG VAR_SHORT VAR_LONG [TOP]\n" unless defined $vl;
$top //= 25;
my $n = $nl - $ns;
die "N_LONG must exceed N_SHORT\n" unless $n > 0;

sub self_ir {
    my ($file) = @_;
    my %ir;
    my $total;
    open my $fh, "callgrind_annotate --inclusive=no --threshold=100 '$file' 2>/dev/null |"
        or die "callgrind_annotate $file: $!\n";
    while (<$fh>) {
        next unless /^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(.+?)\s*$/;
        my ($count, $name) = ($1, $2);
        $count =~ tr/,//d;
        if ($name =~ /PROGRAM TOTALS/) { $total = $count; next; }
        $name =~ s/^\S*?:(?=\S)//;     # file: prefix (??? for no debug info)
        $name =~ s{\s*\[(?:.*/)?([^/\]]+)\]$}{ [$1]};   # library path to its name
        $ir{$name} += $count;
    }
    close $fh;
    die "$file: no PROGRAM TOTALS\n" unless defined $total;
    return ($total, \%ir);
}

my ($tbs, $ibs) = self_ir($bs);
my ($tbl, $ibl) = self_ir($bl);
my ($tvs, $ivs) = self_ir($vs);
my ($tvl, $ivl) = self_ir($vl);
my $base = ($tbl - $tbs) / $n;
my $var  = ($tvl - $tvs) / $n;
printf "instructions per request: base %.0f, variant %.0f, above base %.0f\n", $base, $var, $var - $base;
my %names = map { $_ => 1 } (keys %$ibs, keys %$ibl, keys %$ivs, keys %$ivl);
my %d;
for my $f (keys %names) {
    my $v = (($ivl->{$f} // 0) - ($ivs->{$f} // 0)) - (($ibl->{$f} // 0) - ($ibs->{$f} // 0));
    $d{$f} = $v / $n;
}
my @order = sort { abs($d{$b}) <=> abs($d{$a}) } keys %d;
printf "%10s  %s\n", 'Ir/req', 'function (self, variant minus base)';
for my $f (@order[0 .. ($top < @order ? $top - 1 : $#order)]) {
    last if abs($d{$f}) < 1;
    printf "%10.0f  %s\n", $d{$f}, $f;
}
