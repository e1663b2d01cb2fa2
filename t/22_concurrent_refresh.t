# Many simultaneous refreshes of one identity with a provider that rotates
# refresh tokens: one refresh grant at the provider, a usable access token
# for every caller, and the rotated refresh token kept.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

my $callers = 12;
plan tests => 6;

my @basic = (basic => ['api-client', 'api-secret']);
my $tok = full_flow(api => '/jsonapiext', client_id => 'api-client',
                    client_secret => 'api-secret', user => 'race-1', login => 'olga');
ok($tok->{refresh_token}, 'tokens issued');

provider_stats_reset();
# The refresh takes 400 ms at the provider: all callers overlap it.
provider_delay('token', 400);
# Children wait on a pipe that the parent closes: they all start at once.
pipe(my $go_r, my $go_w) or die "pipe: $!";
my @kids;
for my $i (1 .. $callers) {
    pipe(my $out_r, my $out_w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $go_w; close $out_r;
        sysread($go_r, my $x, 1);    # returns at EOF, when the parent closes
        my ($st, $body) = api_call('POST', '/jsonapiext/oauth2/token',
            json => { client_user_identity => 'race-1' }, @basic);
        print $out_w "$st " . ($body->{access_token} // '-') . "\n";
        close $out_w;
        require POSIX; POSIX::_exit(0);
    }
    close $out_w;
    push @kids, [$pid, $out_r];
}
close $go_r;
close $go_w;
my (%status, %tokens);
for my $k (@kids) {
    my $fh = $k->[1];
    my $line = <$fh> // '';
    waitpid($k->[0], 0);
    my ($st, $at) = split ' ', $line;
    $status{$st // 'none'}++;
    $tokens{$at}++ if $at && $at ne '-';
}
provider_delay('token', 0);
is_deeply(\%status, { 200 => $callers }, "all $callers callers got 200")
    or diag explain \%status;
is(scalar keys %tokens, 1, 'they all got the same new access token');
is(provider_stats()->{token}, 1, 'the provider saw one refresh grant');
my ($at) = keys %tokens;
is((api_call('GET', '/jsonapiext/res.partner', bearer => $at))[0], 200,
   'that access token works');
my ($st) = api_call('POST', '/jsonapiext/oauth2/token',
    json => { client_user_identity => 'race-1' }, @basic);
is($st, 200, 'the rotated refresh token was kept: a later refresh works');
