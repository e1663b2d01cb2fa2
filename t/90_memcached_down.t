# memcached stops mid-test: Bearer checks go on from the token store (never
# open, never 500), and the cache is used again when memcached is back.
# It stops the run's memcached and starts it again (AO2Test::service_stop,
# service_start): later tests find it as before.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

plan tests => 11;

my $MC_PORT = port('memcached');
my @basic = (basic => ['api-client', 'api-secret']);
sub get { (api_call('GET', '/jsonapiext/res.partner', bearer => $_[0]))[0] }

sub mc_stat { memcached_stat($_[0], $MC_PORT) }
sub mc_up { defined mc_stat('pid') }

my $tok = full_flow(api => '/jsonapiext', client_id => 'api-client',
                    client_secret => 'api-secret', user => 'mc-1', login => 'pia');
is(get($tok->{access_token}), 200, 'token works with memcached up');
ok(mc_stat('curr_items') > 0, 'the verdict went into memcached');

# Stop the memcached the test run started.
ok(service_stop('memcached'), 'memcached stopped');
ok(!mc_up(), 'memcached is gone');

is(get($tok->{access_token}), 200, 'valid token still passes, from the store');
is(get('junk-' . random_string(16)), 401, 'unknown token still refused (never open)');
my ($st) = api_call('POST', '/jsonapiext/oauth2/revoke',
    json => { client_user_identity => 'mc-1' }, @basic);
is($st, 200, 'revoke works without memcached');
is(get($tok->{access_token}), 401, 'revoked token refused without memcached');

# memcached comes back; t/TEST.PL stops it at the end of the run.
ok(service_start('memcached'), 'memcached is back');

my $tok2 = full_flow(api => '/jsonapiext', client_id => 'api-client',
                     client_secret => 'api-secret', user => 'mc-2', login => 'quin');
# The module retries a failed server after a few seconds.
ok(wait_for(sub { get($tok2->{access_token}) == 200 && (mc_stat('curr_items') // 0) > 0 }, 15),
   'verdicts go to memcached again');
# Each httpd process notices on its own that memcached is back. A hit is
# answered from the node-local copy now; memcached is read for the
# revocation log (every 250 ms, incr and get) and on local misses.
my $gets = mc_stat('cmd_get');
my $incrs = mc_stat('incr_hits') // 0;
ok(wait_for(sub { get($tok2->{access_token}); mc_stat('cmd_get') > $gets && (mc_stat('incr_hits') // 0) > $incrs }, 15),
   'and it is read again (the revocation log)');
