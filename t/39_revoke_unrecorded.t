# A revoke that could not be recorded is never answered with 200 (issue 19
# M3). The store is a memcached started with -M (it refuses writes when
# its memory is full instead of evicting) and filled: the token's
# tombstone cannot be written, the record could still be deleted, and
# /revoke answered 200 while the token stayed valid. Now it answers 503
# with Retry-After and keeps the record, so that the retry, once the store
# takes writes again, revokes.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use File::Temp qw(tempdir);
use IO::Socket::INET;

plan tests => 9;

my $module = "$FindBin::Bin/../.libs/mod_api_oauth2.so";
my $dir    = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $key = "$dir/shared.key";
store_key($key);
my $port = (port('servers'))[0];
my $mc   = port('spare', 46);

ok(service_start('memcached-full', port => $mc, cmd => [qw(memcached -l 127.0.0.1 -p), $mc, qw(-U 0 -u nobody -M -m 2)]),
   "memcached -M on $mc");
extra_httpd(port => $port, dir => $dir, conf => <<"CONF");
LoadModule socache_memcache_module /usr/lib/apache2/modules/mod_socache_memcache.so
LoadModule api_oauth2_module $module
ApiOAuth2TokenStore socache:memcache:127.0.0.1:$mc
ApiOAuth2StoreKey file:$key
@{[shared_api_conf()]}
CONF
my $base  = "http://127.0.0.1:$port";
my @basic = (basic => ['api-client', 'api-secret']);
sub get { (api_call('GET', "$base/jsonapiext/res.partner", bearer => $_[0]))[0] }
sub revoke { api_call('POST', "$base/jsonapiext/oauth2/revoke", json => { client_user_identity => 'unrecorded-1' }, @basic) }

my $tok = full_flow(api => "$base/jsonapiext", client_id => 'api-client',
                    client_secret => 'api-secret', user => 'unrecorded-1', login => 'una');
is(get($tok->{access_token}), 200, 'the token works');

# Values of each size until that size is refused: memcached then takes
# no value of any size, and still deletes.
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$mc", Timeout => 5) or die "memcached: $!";
my $n = 0;
sub fill {
    my ($len) = @_;
    print $s "set fill-$n 0 0 $len\r\n" . ('x' x $len) . "\r\n";
    $n++;
    return (<$s> // '') =~ /^STORED/;
}
for (my $len = 16; $len <= 8192; $len += 16) {
    my $i = 0;
    1 while fill($len) && ++$i < 100_000;
}
ok(!grep({ fill($_) } 40, 200, 600, 2000), "memcached is full: it refuses writes ($n sets)");

my ($st, $err, $res) = revoke();
is($st, 503, 'the tombstone cannot be written: revoke answers 503, not 200');
is($err && $err->{error}, 'temporarily_unavailable', 'with a JSON error');
ok(($res->header('Retry-After') // '') =~ /^\d+$/, 'and Retry-After');

for my $i (0 .. $n - 1) {
    print $s "delete fill-$i\r\n";
    <$s>;
}
($st) = revoke();
is($st, 200, 'the store takes writes again: the retry revokes');
is(get($tok->{access_token}), 401, 'and the token is refused');
# The retry needed the record: it was kept.
($st) = revoke();
is($st, 404, 'the record is gone after it');
