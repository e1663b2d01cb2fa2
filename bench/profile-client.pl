#!/usr/bin/perl
# bench/profile-client.pl PORT PATH COUNT [TOKEN | @FILE | =VALUE]: exactly COUNT
# requests, one after the other on one keep-alive connection, to
# http://127.0.0.1:PORT/PATH, each with the token (or the next line of FILE,
# in rotation; =VALUE: the whole Authorization value, another scheme). For tools/bench.sh's callgrind profile: the server's
# instruction count then covers a known number of requests and nothing else
# (wrk keeps requests in flight past its count). Exits 1 at the first answer
# that is not 200.
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $path, $count, $tok) = @ARGV;
die "usage: $0 PORT PATH COUNT [TOKEN|\@FILE]\n" unless $count && $count =~ /^\d+$/;
my (@tokens, $value);
if (defined $tok && $tok =~ /^=(.+)/) {
    $value = $1;
} elsif (defined $tok && $tok =~ /^\@(.+)/) {
    open my $fh, '<', $1 or die "$1: $!\n";
    @tokens = grep { length } map { chomp; $_ } <$fh>;
    die "no tokens in $1\n" unless @tokens;
} elsif (defined $tok && length $tok) {
    @tokens = ($tok);
}
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
    or die "connect 127.0.0.1:$port: $!\n";
binmode $sock;
my $buf = '';
for my $i (0 .. $count - 1) {
    my $auth = defined $value ? "Authorization: $value\r\n"
             : @tokens ? "Authorization: Bearer $tokens[$i % @tokens]\r\n" : '';
    print $sock "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n" or die "write: $!\n";
    # one answer: status line, headers, Content-Length bytes
    until ($buf =~ /\r\n\r\n/) {
        sysread($sock, $buf, 65536, length $buf) or die "connection closed after $i answers\n";
    }
    my ($head) = $buf =~ /^(.*?\r\n\r\n)/s;
    my ($status) = $head =~ m{^HTTP/1\.1 (\d{3})};
    my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
    $len //= 0;
    while (length($buf) < length($head) + $len) {
        sysread($sock, $buf, 65536, length $buf) or die "connection closed in answer $i\n";
    }
    substr($buf, 0, length($head) + $len, '');
    die "answer $i: status " . ($status // '?') . "\n" unless defined $status && $status eq '200';
}
close $sock;
