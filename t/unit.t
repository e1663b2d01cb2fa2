# Unit tests of the pure-C parts: runs t/unit/run (built by `make t/unit/run`),
# which prints TAP, and passes its results through one by one. A crash, a
# non-zero exit or a plan that does not match the results is one more failure.
use strict;
use warnings FATAL => 'all';
use FindBin;
use Apache::Test qw(-withtestmore);

my $bin = "$FindBin::Bin/unit/run";
plan skip_all => "$bin not built (make t/unit/run)" unless -x $bin;

open my $fh, '-|', $bin or die "cannot run $bin: $!";
my @lines = <$fh>;
close $fh;
my $status = $?;

my ($planned, @events);
for my $line (@lines) {
    chomp $line;
    if ($line =~ /^1\.\.(\d+)/) {
        $planned = $1;
    }
    elsif ($line =~ /^(not )?ok\b\s*(\d+)?\s*(?:-\s*)?(.*)$/) {
        my ($not, $desc) = ($1, $3);
        my $directive;
        $directive = $1 if $desc =~ s/\s*#\s*((?:SKIP|TODO)\b.*)$//i;
        push @events, { ok => !$not, desc => $desc, directive => $directive };
    }
    elsif (length $line) {
        (my $text = $line) =~ s/^\s*#\s?//;
        push @events, { comment => $text };
    }
}
my $results = grep { !exists $_->{comment} } @events;

plan tests => $results + 1;

# Comments after a failed result (its details) are shown; others are notes.
my $after_failure = 0;
for my $e (@events) {
    if (exists $e->{comment}) {
        $after_failure ? diag($e->{comment}) : note($e->{comment});
        next;
    }
    if ($e->{directive} && $e->{directive} =~ /^SKIP\b\s*(.*)/i) {
        SKIP: { skip $1 || 'skipped by t/unit/run', 1 }
        $after_failure = 0;
    }
    elsif ($e->{directive} && $e->{directive} =~ /^TODO\b\s*(.*)/i) {
        TODO: { local $TODO = $1 || 'todo'; ok($e->{ok}, $e->{desc}) }
        $after_failure = 0;
    }
    else {
        $after_failure = !ok($e->{ok}, $e->{desc});
    }
}

my $exit = $status >> 8;
my $sig  = $status & 127;
ok(!$status && defined $planned && $planned == $results,
   't/unit/run exited 0 with a plan matching its results')
    or diag sprintf 'exit %d, signal %d, planned %s, ran %d',
                    $exit, $sig, $planned // 'none', $results;
