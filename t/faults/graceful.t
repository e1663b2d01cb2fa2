# `apachectl -k graceful` (SIGUSR1) three times under load: no request of a
# valid token fails. Each request on a new connection: on a kept-alive one, a
# request sent just as the old generation closes it idle is a read error in
# wrk (and a retry in any real client), which is httpd's, not the module's. Then a full stop and start with an authorization in
# progress and a record in the store: the pending state is completed by its
# callback afterwards and the record still refreshes. One figure line.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/../lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use Time::HiRes ();

my $full      = $ENV{AO2_FAULTS_FULL} ? 1 : 0;
my $graceful  = $full ? 10 : 3;    # graceful restarts under load
plan tests => 6;

my @basic = (basic => ['api-client', 'api-secret']);
my $tok = full_flow(api => '/jsonapiext', client_id => 'api-client',
                    client_secret => 'api-secret', user => 'fault-gr', login => 'gina');
ok($tok->{access_token}, 'a valid token');

my $cfg = Apache::Test::config();
my $pidfile = "$cfg->{vars}{t_logs}/httpd.pid";
sub httpd_pid { open my $fh, '<', $pidfile or die "$pidfile: $!"; my ($p) = <$fh> =~ /(\d+)/; $p }
sub generations { scalar(() = error_log_text() =~ /resuming normal operations/g) }

my $load = wrk_start(url => base_url() . '/jsonapiext/res.partner', bearer => $tok->{access_token},
                     seconds => 2 + 2 * $graceful, connections => 8, close => 1);
my $came_back = 0;
for (1 .. $graceful) {
    my $gen = generations();
    kill USR1 => httpd_pid();
    $came_back++ if wait_for(sub { generations() > $gen }, 20);
    Time::HiRes::sleep(1);    # pacing: a second of load between restarts
}
my $w = wrk_result($load);
is($came_back, $graceful, "$graceful graceful restarts under load, each completed");
ok($w->{requests} && $w->{non2xx} == 0 && $w->{errors} == 0,
   "valid token: $w->{requests} requests, none failed") or diag $w->{text};

# A full restart with an authorization half done.
my ($st, $auth) = api_call('POST', '/jsonapiext/oauth2/provider/authorize',
    json => { client_id => 'api-client', client_user_identity => 'fault-gr-2' }, @basic);
my $callback = provider_login($auth->{authorization_url}, login => 'gus');
$cfg->server->stop;
$cfg->server->start;
ok(wait_for(sub { (api_call('GET', '/jsonapiext/oauth2/none'))[0] == 404 }, 30),
   'httpd answers again after a full stop and start');
my ($cst, $ctok) = api_call('GET', $callback);
is($cst, 200, 'the state made before the restart is completed after it');
my ($rst) = api_call('POST', '/jsonapiext/oauth2/token',
    json => { client_user_identity => 'fault-gr' }, @basic);
is($rst, 200, 'the record made before the restarts still refreshes');
diag(sprintf 'figure: graceful under load: %d restarts, %d requests, %d non-2xx, %d socket errors, '
     . '%.0f req/s; full restart: pending state %s, record %s',
     $came_back, $w->{requests} // 0, $w->{non2xx}, $w->{errors}, $w->{rps} // 0,
     $cst == 200 ? 'completed' : "lost ($cst)", $rst == 200 ? 'kept' : "lost ($rst)");
