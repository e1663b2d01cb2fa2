# A provider whose discovery URL takes the connection and never answers
# (issue 19, L7): the first copy of its metadata is fetched under the cap
# on provider calls. The process that fetches holds a call slot, a few
# checks per process wait for the copy, and every other JWT Bearer check
# answers 503 with Retry-After at once instead of waiting out the provider
# timeout (ApiOAuth2ProviderTimeout 2 5 here).
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64url);

plan tests => 11;

my $port = port('spare', 78);
my $issuer = "http://127.0.0.1:$port";
# Never accepted: the kernel completes the connections, the request is
# sent, no answer ever comes.
my $hang = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                 Listen => 1024, ReuseAddr => 1, Proto => 'tcp')
    or die "listen on $port: $!";

# Distinct tokens: each check is its own single flight, none waits on
# another's token lock; only the metadata is shared.
sub jwt {
    my ($i) = @_;
    my $h = { alg => 'RS256', typ => 'at+jwt', kid => 'hang' };
    my $c = { iss => $issuer, sub => "u$i", aud => 'hang-client', client_id => 'hang-client',
              exp => time + 300, iat => time, jti => "hang-$i" };
    return join '.', encode_base64url(json_encode($h)), encode_base64url(json_encode($c)),
                     encode_base64url('s' x 64);
}

# How long httpd took for each request of this test (access_log's %D):
# what the clients measure on this shared machine includes their own wait
# for a CPU.
sub served_ms {
    my ($tag) = @_;
    my %ms;
    open my $f, '<', Apache::Test::vars('t_logs') . '/access_log' or return {};
    while (<$f>) {
        $ms{$1} = $2 / 1000 if m{"GET /hangapi/\Q$tag\E-(\d+) HTTP/[\d.]+" \d+ \S+ (\d+)$};
    }
    return \%ms;
}

# 8 waiting places in each child and one fetcher: at most 1 + 8 x children
# checks wait for the fetch. mpm_event may start more children than
# StartServers (t/conf/httpd.conf.in) for a burst of 40 connections: they
# are counted after it.
my $n = 40;
my @tok = map { jwt($_) } 0 .. $n;
my $mark = error_log_mark();
my @out = concurrently($n, sub {
    my ($i) = @_;
    my ($st, $body, $res) = api_call(GET => "/hangapi/burst-$i", bearer => $tok[$i]);
    return join ' ', $st, $res->header('Retry-After') // '-', $body->{error} // '-';
});
my $children = keys %{ httpd_children_rss(Apache::Test::vars('t_logs') . '/httpd.pid') };
my $waiting = 1 + $children * 8;
my @r = map { [split / /] } @out;
my $ms = served_ms('burst');
my @fast = grep { $_ < 1000 } values %$ms;
my @slow = sort { $a <=> $b } grep { $_ >= 1000 } values %$ms;
diag sprintf '%d answered in under 1 s, %d waited (%s ms); %d children', scalar @fast, scalar @slow, "@slow", $children;

is(scalar(grep { $_->[0] == 503 } @r), $n, 'every check answers 503') or diag explain \@out;
is(scalar(grep { $_->[1] ne '-' } @r), $n, 'each with Retry-After');
is(scalar(grep { $_->[2] eq 'temporarily_unavailable' } @r), $n, 'as JSON temporarily_unavailable');
is(scalar(keys %$ms), $n, 'every request is in the access log');
ok(@slow <= $waiting, "at most $waiting checks waited for the fetch (the fetcher and the waiting places)");
ok(@fast >= $n - $waiting, 'the others answered at once, well under the 5 s provider timeout');
ok(!grep({ $_ > (2 * 5 + 1) * 1000 } @slow), 'nobody waited beyond the fetch');
my $log = error_log_text($mark);
like($log, qr/AO2J0013: JWT access token of hangop: too many provider calls at once/,
     'the checks turned away are logged with their tag');
ok(!grep({ index($log, (split /\./)[1]) >= 0 } @tok), 'no token in the log');

# The fetch failed: the back-off (2 s after a first failure) counts from
# its end, so a check right after it does not start another 5 s fetch.
my ($st) = api_call(GET => '/hangapi/after-0', bearer => $tok[$n]);
is($st, 503, 'a check just after the failed fetch: 503');
$ms = served_ms('after');
ok(defined $ms->{0} && $ms->{0} < 1000, 'at once: the failure is the answer during the back-off')
    or diag explain $ms;

close $hang;
