# Token records live in the store, not in a process: they survive a
# graceful restart and a full stop/start.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use Time::HiRes ();

plan tests => 7;

my @basic = (basic => ['api-client', 'api-secret']);
my $info = full_flow(api => '/jsonapiext', client_id => 'api-client',
                     client_secret => 'api-secret', user => 'restart-1',
                     login => 'ivan');
ok($info->{refresh_token}, 'tokens issued');

my $cfg = Apache::Test::config();
my $pidfile = "$cfg->{vars}{t_logs}/httpd.pid";
open my $fh, '<', $pidfile or die "$pidfile: $!";
chomp(my $pid = <$fh>);
close $fh;

my $resumed = () = error_log_text() =~ /resuming normal operations/g;
ok(kill('USR1', $pid), 'graceful restart signalled');
ok(wait_for(sub { (() = error_log_text() =~ /resuming normal operations/g) > $resumed }, 30),
   'httpd came back from the graceful restart');

my ($st, $next) = api_call('POST', '/jsonapiext/oauth2/token',
    json => { client_user_identity => 'restart-1' }, @basic);
is($st, 200, 'record survives a graceful restart');
my $refreshed = Time::HiRes::time();

$cfg->server->stop;
$cfg->server->start;
ok(wait_for(sub { (api_call('GET', '/jsonapiext/oauth2/none'))[0] == 404 }, 30),
   'httpd answers again after a full restart');
my $after;
past_refresh_window($refreshed);    # else the answer is $next's tokens again
($st, $after) = api_call('POST', '/jsonapiext/oauth2/token',
    json => { client_user_identity => 'restart-1' }, @basic);
is($st, 200, 'record (with the rotated refresh token) survives a full restart');
isnt($after->{access_token}, $next->{access_token}, 'fresh access token');
