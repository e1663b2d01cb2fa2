# A provider configured by issuer= that is down when httpd starts: httpd
# starts anyway, calls that need the provider answer 502 JSON, and once it
# is up (discovery retried with back-off) the lifecycle works.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use IO::Socket::INET;
use POSIX ();

plan tests => 12;

my $port = port('spare', 79);
my $late = "http://127.0.0.1:$port";
my @basic = (basic => ['api-client', 'api-secret']);
my %authorize = (json => { client_id => 'api-client', client_user_identity => 'late-1' }, @basic);

my $mark = error_log_mark();
my ($st, $e) = api_call(POST => '/lateapi/oauth2/provider/authorize', %authorize);
is($st, 502, 'provider down: authorize answers 502');
is($e->{error}, 'temporarily_unavailable', 'as JSON');
like(error_log_text($mark), qr/AO2J0003: provider lateop: discovery .*AO2J0008: provider lateop/s,
     'the failed discovery is logged');

# Start the provider now.
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    POSIX::setpgid(0, 0);
    open STDIN, '<', '/dev/null';
    open STDOUT, '>>', "$FindBin::Bin/logs/late-provider.log";
    open STDERR, '>&', \*STDOUT;
    { no warnings 'exec'; exec 'node', "$FindBin::Bin/provider/server.mjs", '--port', $port; }
    POSIX::_exit(127);
}
my $main = $$;
END { if ($pid && $$ == $main) { local $?; kill TERM => $pid; waitpid $pid, 0 } }
ok(wait_for(sub { IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) }, 30),
   'the provider is up');

# The back-off after the failure is a few seconds: wait for it.
ok(wait_for(sub { (api_call(POST => '/lateapi/oauth2/provider/authorize', %authorize))[0] == 200 }, 30, 0.5),
   'once it is up, discovery succeeds and authorize answers 200');

{
    local $AO2Test::PROVIDER_URL = $late;
    my ($cst, $tok, undef, $info) = full_flow(api => '/lateapi', user => 'late-2', login => 'liv');
    is($cst, 200, 'the whole authorization against the late provider') or diag explain $tok;
    like($info->{authorization_url}, qr{^\Q$late\E/auth\?}, 'its discovered authorization endpoint');
    like($tok->{id_token} // '', qr/^[\w-]+\.[\w-]+\.[\w-]+$/, 'a (verified) ID token');
    is((api_call(GET => '/lateapi/x', bearer => $tok->{access_token}))[0], 200, 'Bearer check');

    # Down again: the metadata stays known, the token endpoint cannot be
    # reached, and the record is kept.
    kill TERM => $pid;
    waitpid $pid, 0;
    undef $pid;
    ($st, $e) = api_call(POST => '/lateapi/oauth2/token',
        json => { client_id => 'api-client', client_user_identity => 'late-2' }, @basic);
    is($st, 502, 'provider down again: refresh answers 502');
    is($e->{error}, 'temporarily_unavailable', 'as JSON');
    is((api_call(GET => '/lateapi/x', bearer => $tok->{access_token}))[0], 200,
       'the stored token still passes the Bearer check');
}
