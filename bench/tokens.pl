#!/usr/bin/perl
# Tokens for the benchmark (tools/bench.sh), one a line on stdout.
#
#   bench/tokens.pl module  BASE_URL API COUNT [PREFIX]   # issued through this module
#   bench/tokens.pl foreign COUNT [PREFIX]                # straight from the provider
#   bench/tokens.pl jwt     COUNT [PREFIX]                # JWT access tokens from the provider
#   bench/tokens.pl bad     COUNT                         # made up, never valid
#
# module: COUNT whole flows (authorize -> provider login -> callback) against
#   the mod_api_oauth2 instance at BASE_URL (e.g. http://127.0.0.1:28540) and
#   its API location API (e.g. /api); each for another client_user_identity
#   PREFIX-<n> and provider login PREFIX<n>. The instance stores the records.
# foreign: authorization-code flows of api-client straight at the provider
#   (AO2Test::provider_tokens): tokens the module did not issue, which it and
#   the peer modules validate by introspection.
# jwt: the same flows for jwt-client, whose access tokens are RFC 9068 JWTs
#   (t/provider/server.mjs), which the module checks locally with the JWKS.
# The provider is $AO2_PROVIDER_URL (AO2Test's default otherwise).
# BENCH_TOKEN_JOBS (default 4) flows run in parallel. Dies on any failure.

use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/../t/lib";
use AO2Test qw(full_flow provider_tokens random_string);
use POSIX ();

my ($mode, @a) = @ARGV;
$mode //= '';
my $jobs = $ENV{BENCH_TOKEN_JOBS} || 4;

sub usage {
    die "usage: $0 module BASE_URL API COUNT [PREFIX] | foreign|jwt COUNT [PREFIX] | bad COUNT\n";
}

sub one_module {
    my ($base, $api, $prefix, $n) = @_;
    local $ENV{AO2_BASE_URL} = $base;
    my ($st, $tok) = full_flow(api => $api, client_id => 'api-client',
        client_secret => 'api-secret', user => "$prefix-$n", login => "$prefix$n");
    die "module flow $n: HTTP $st\n" unless $st == 200 && ref $tok eq 'HASH'
        && $tok->{access_token};
    return $tok->{access_token};
}

sub one_foreign {
    my ($prefix, $n, @client) = @_;
    my ($st, $tok) = provider_tokens(@client, login => "$prefix$n", scope => 'openid email');
    die "provider flow $n: HTTP $st\n" unless $st == 200 && ref $tok eq 'HASH'
        && $tok->{access_token};
    return $tok->{access_token};
}

# Runs $make->($n) for n in 1..$count in $jobs processes; prints in order.
sub parallel {
    my ($count, $make) = @_;
    my @kids;
    my $per = POSIX::ceil($count / $jobs);
    for (my $from = 1; $from <= $count; $from += $per) {
        my $to = $from + $per - 1;
        $to = $count if $to > $count;
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $r;
            my $ok = eval {
                print {$w} $make->($_), "\n" for $from .. $to;
                1;
            };
            print STDERR $@ unless $ok;
            close $w;
            POSIX::_exit($ok ? 0 : 1);
        }
        close $w;
        push @kids, [$pid, $r];
    }
    my $failed = 0;
    my @out;
    for my $k (@kids) {
        my $fh = $k->[1];
        push @out, grep { length } map { chomp; $_ } <$fh>;
        close $fh;
        waitpid $k->[0], 0;
        $failed ||= $? != 0;
    }
    die "$0: token flows failed\n" if $failed || @out != $count;
    print "$_\n" for @out;
}

$| = 1;
if ($mode eq 'module') {
    my ($base, $api, $count, $prefix) = @a;
    usage() unless $base && $api && $count && $count =~ /^\d+$/;
    $prefix //= 'bench';
    parallel($count, sub { one_module($base, $api, $prefix, $_[0]) });
}
elsif ($mode eq 'foreign' || $mode eq 'jwt') {
    my ($count, $prefix) = @a;
    usage() unless $count && $count =~ /^\d+$/;
    $prefix //= $mode;
    my @client = $mode eq 'jwt' ? (client_id => 'jwt-client', client_secret => 'jwt-secret') : ();
    parallel($count, sub { one_foreign($prefix, $_[0], @client) });
}
elsif ($mode eq 'bad') {
    my ($count) = @a;
    usage() unless $count && $count =~ /^\d+$/;
    # 43 base64url characters, like a real opaque token.
    print random_string(32), "\n" for 1 .. $count;
}
else {
    usage();
}
