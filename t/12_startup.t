# Start-up on the defaults, and start-up refusals that say why: each case
# starts a server of its own on a broken setup and checks the exact
# message; the good case checks what the module creates (modes, owners)
# and that the server then serves.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use File::Temp qw(tempdir);
use IO::Socket::INET;

plan skip_all => 'the privilege-drop checks need root' unless $> == 0;
plan tests => 48;

my $top = "$FindBin::Bin/..";
my $module = "$top/.libs/mod_api_oauth2.so";
my $mods = '/usr/lib/apache2/modules';
my $httpd = httpd_bin();
my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my ($nobody_uid) = (getpwnam 'nobody')[2];
my $port = port('spare', 0);

sub write_file {
    my ($path, $text, $mode) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
    chmod $mode, $path if defined $mode;
}
my $key = "$dir/good.key";
write_file($key, join('', map { chr int rand 256 } 1 .. 32), 0600);

my $n = 0;
sub conf {
    my ($store_and_key, $listen) = @_;
    $listen //= $port;
    my $case = "$dir/case" . ++$n;
    mkdir $case;
    my $conf = <<"CONF";
ServerRoot $case
ServerName 127.0.0.1
PidFile $case/httpd.pid
ErrorLog $case/error.log
LogLevel info
Listen 127.0.0.1:$listen
User nobody
Group nogroup
Mutex file:$case default
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule authn_core_module $mods/mod_authn_core.so
LoadModule socache_dbm_module $mods/mod_socache_dbm.so
LoadModule api_oauth2_module $module
$store_and_key
ApiOAuth2Provider op authorize=http://127.0.0.1:@{[port('provider')]}/auth token=http://127.0.0.1:@{[port('provider')]}/token
<Location /jsonapiext>
    ApiOAuth2API on
    ApiOAuth2Client op api-client api-secret "scope=openid"
    ApiOAuth2OdooDatabase db
</Location>
CONF
    write_file("$case/httpd.conf", $conf);
    return $case;
}

# The server must not come up: its exit status and everything it said.
sub start_fails {
    my ($case) = @_;
    my $out = `timeout 30 $httpd -f $case/httpd.conf -D FOREGROUND 2>&1`;
    my $rc = $?;
    my $log = -f "$case/error.log" ? do { local (@ARGV, $/) = "$case/error.log"; <> } : '';
    return ($rc, $out . $log);
}

sub refused {
    my ($name, $store_and_key, $want) = @_;
    my ($rc, $text) = start_fails(conf($store_and_key));
    isnt($rc, 0, "$name: the server does not start");
    ok(index($text, $want) >= 0, "$name: the message says why")
        or diag "wanted: $want\ngot: $text";
}

sub mkdirs { for (@_) { mkdir $_->[0] or die "$_->[0]: $!"; chmod $_->[1], $_->[0] } }

my $other = 'ApiOAuth2TokenStore dbm:/var/lib/apache2/api_oauth2/tokens';

# 1. The store's directory sits under a parent only root may enter.
mkdirs(["$dir/s1", 0755], ["$dir/s1/private", 0700]);
refused('store directory unreachable',
    "ApiOAuth2TokenStore dbm:$dir/s1/private/store/tokens\nApiOAuth2StoreKey file:$key",
    "AO2C0030: the token store dbm:$dir/s1/private/store/tokens is not reachable "
    . "by user nobody: $dir/s1/private is not searchable by nobody (mode 0700, "
    . "owner root); move the store ($other) or chmod o+x $dir/s1/private");

# 2. A component further up has no x for others.
mkdirs(["$dir/s2", 0755], ["$dir/s2/a", 0754]);
refused('store path component not searchable',
    "ApiOAuth2TokenStore dbm:$dir/s2/a/b/tokens\nApiOAuth2StoreKey file:$key",
    "AO2C0030: the token store dbm:$dir/s2/a/b/tokens is not reachable by user "
    . "nobody: $dir/s2/a is not searchable by nobody (mode 0754, owner root); "
    . "move the store ($other) or chmod o+x $dir/s2/a");

# 3. The store's own directory exists, made by root for root.
mkdirs(["$dir/s3", 0755], ["$dir/s3/store", 0700]);
refused('store directory owned by root',
    "ApiOAuth2TokenStore dbm:$dir/s3/store/tokens\nApiOAuth2StoreKey file:$key",
    "AO2C0030: the token store dbm:$dir/s3/store/tokens is not usable by user "
    . "nobody: $dir/s3/store is not searchable by nobody (mode 0700, owner root); "
    . "move the store ($other) or chown nobody $dir/s3/store");

# 3b. The same check for a mod_socache_dbm file.
mkdirs(["$dir/s3b", 0755], ["$dir/s3b/private", 0700]);
my ($rc, $text) = start_fails(conf(
    "ApiOAuth2TokenStore socache:dbm:$dir/s3b/private/tokens\nApiOAuth2StoreKey file:$key"));
like($text, qr/AO2C0030: the token store socache:dbm:\Q$dir\E\/s3b\/private\/tokens is not reachable by user nobody: \Q$dir\E\/s3b\/private is not searchable by nobody \(mode 0700, owner root\)/,
     'a socache:dbm file in a private directory: refused, saying why') or diag $text;

# 4. Keys: unreadable, or where a worker could replace them.
mkdirs(["$dir/s4", 0755], ["$dir/s4/keydir", 0700]);
refused('key unreadable',
    "ApiOAuth2TokenStore dbm:$dir/s4/store/tokens\nApiOAuth2StoreKey file:$dir/s4/keydir",
    "ApiOAuth2StoreKey: cannot read key file $dir/s4/keydir: Is a directory");
write_file("$dir/s4/mine.key", 'k' x 32, 0600);
chown $nobody_uid, 0, "$dir/s4/mine.key";
refused('key owned by the run user',
    "ApiOAuth2TokenStore dbm:$dir/s4/store/tokens\nApiOAuth2StoreKey file:$dir/s4/mine.key",
    "AO2C0032: the store key $dir/s4/mine.key cannot be used: nobody could replace "
    . "it: $dir/s4/mine.key is owned by nobody (mode 0600, owner nobody) (fix: "
    . "chown root $dir/s4/mine.key)");
# A key in a directory of the run user's. Kept in the store's own
# directory, that directory must stay the run user's (AO2C0030), so the
# only cure is to move the key, and the hint says so instead of handing the
# directory to root (which AO2C0030 would undo).
sub key_in_users_dir {
    my ($name, $sub, $mode, $store) = @_;
    my $kdir = "$dir/s4/$sub";
    mkdirs([$kdir, $mode]);
    chown $nobody_uid, 0, $kdir;
    write_file("$kdir/k.key", 'k' x 32, 0600);
    refused($name,
        "ApiOAuth2TokenStore dbm:$store/tokens\nApiOAuth2StoreKey file:$kdir/k.key",
        "AO2C0032: the store key $kdir/k.key cannot be used: nobody could "
        . "replace it: $kdir is owned by nobody (mode @{[sprintf '%04o', $mode]}, "
        . "owner nobody) (fix: move $kdir/k.key out of $kdir, into a directory "
        . "only root may write)");
}
key_in_users_dir('key in a directory of the run user', 'theirs', 0755, "$dir/s4/store");
key_in_users_dir('key in the store directory', 'st2', 0700, "$dir/s4/st2");

# 5. No key configured, and the place a generated one would go is open to
# the run user.
mkdirs(["$dir/s5", 0755], ["$dir/s5/open", 0777]);
refused('generated key would be replaceable',
    "ApiOAuth2TokenStore dbm:$dir/s5/open/store/tokens",
    "AO2C0031: the store key for dbm:$dir/s5/open/store/tokens would be "
    . "$dir/s5/open/store.key, which user nobody could replace: $dir/s5/open is "
    . "writable by nobody (mode 0777, owner root); set ApiOAuth2StoreKey "
    . "file:/etc/apache2/api_oauth2.key (head -c 32 /dev/urandom, 0600 root), "
    . "or move the store");
ok(!-e "$dir/s5/open/store.key", 'and no key was written there');

# 6. The default layout (no ApiOAuth2StoreKey, missing parents), as for
# dbm:/var/lib/apache2/api_oauth2/tokens: same code, a scratch path.
my $case = conf("ApiOAuth2TokenStore dbm:$dir/xyz/a/b/tokens");
system($httpd, '-f', "$case/httpd.conf", '-k', 'start') == 0 or die 'httpd -k start';
END { system($httpd, '-f', "$case/httpd.conf", '-k', 'stop') if $case && $> == 0 }
# The listener opens before post_config; the pid file is written after it.
my $up = wait_for(sub { -s "$case/httpd.pid"
                        && IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1) }, 20);
ok($up, 'the default layout starts')
    or diag `cat $case/error.log`;
sub mode_owner { my @s = stat $_[0]; return @s ? sprintf('%04o %s', $s[2] & 07777, scalar getpwuid $s[4]) : 'missing' }
is(mode_owner("$dir/xyz"), '0755 root', 'a missing parent: 0755 root');
is(mode_owner("$dir/xyz/a"), '0755 root', 'the next one too');
is(mode_owner("$dir/xyz/a/b"), '0700 nobody', 'the store directory: 0700, the run user');
is(mode_owner("$dir/xyz/a/b.key"), '0600 root', 'the generated key: beside it, 0600 root');
my $log = do { local (@ARGV, $/) = "$case/error.log"; <> };
like($log, qr/AO2C0003: generated the store key \Q$dir\E\/xyz\/a\/b\.key \(0600, owner root\)/,
     'a notice names where the key went');
my $base = "http://127.0.0.1:$port";
my @auth = (json => { client_user_identity => 'startup-1' }, basic => ['api-client', 'api-secret']);
my ($st, $body) = api_call('POST', "$base/jsonapiext/oauth2/provider/authorize", @auth);
is($st, 200, 'and it serves an authorize call');
ok($body && $body->{authorization_url}, 'with an authorization URL');

# 7. A store failure at run time is logged in words, naming the operation
# and the file.
my $mark = -s "$case/error.log";
chown 0, 0, glob("$dir/xyz/a/b/*");
chmod 0600, glob("$dir/xyz/a/b/*");
($st) = api_call('POST', "$base/jsonapiext/oauth2/provider/authorize", @auth);
is($st, 503, 'with the store file taken away, authorize answers 503');
my $tail = '';
wait_for(sub {
    open my $fh, '<', "$case/error.log" or return;
    seek $fh, $mark, 0;
    local $/;
    $tail = <$fh>;
    $tail =~ /AO2E0001/;
}, 5);
like($tail, qr/\(13\)Permission denied: .*AO2S0011: token store dbm:\Q$dir\E\/xyz\/a\/b\/tokens: cannot open \Q$dir\E\/xyz\/a\/b\/tokens for writing/,
     'the log names the operation, the file and the cause') or diag $tail;
unlike($tail, qr/does not understand this error code/, 'never a bare APR code');

# 8. The revocation journal (a memcache cache has one; nobody listens on
# that port, and no check here needs it) where the run user could replace
# it: a path you set stops the start, the default path only costs a
# warning. Port spare 1: the server of case 6 is still up on spare 0.
my $jport = port('spare', 1);
my $mc = 'ApiOAuth2Cache memcache:127.0.0.1:' . port('spare', 2);
mkdirs(["$dir/j", 0755], ["$dir/j/mine", 0755], ["$dir/j/open", 0777], ["$dir/j/rt", 0755]);
chown $nobody_uid, 0, "$dir/j/mine", "$dir/j/rt";
my $jstore = "ApiOAuth2TokenStore dbm:$dir/j/store/tokens\nApiOAuth2StoreKey file:$key\n$mc";
sub journal_refused {
    my ($name, $journal, $want) = @_;
    my ($rc, $text) = start_fails(conf("$jstore\nApiOAuth2RevocationJournal $journal", $jport));
    isnt($rc, 0, "$name: the server does not start");
    ok(index($text, $want) >= 0, "$name: the message says why")
        or diag "wanted: $want\ngot: $text";
}
journal_refused('journal in a directory of the run user', "$dir/j/mine/revoked",
    "AO2C0034: the revocation journal $dir/j/mine/revoked cannot be used: nobody "
    . "could replace it: $dir/j/mine is owned by nobody (mode 0755, owner nobody) "
    . "(fix: move $dir/j/mine/revoked out of $dir/j/mine, into a directory only "
    . "root may write); a restart forgets what this node learned "
    . "from the revocation log; set ApiOAuth2RevocationJournal off to go on without");
journal_refused('journal in a directory the run user may write', "$dir/j/open/revoked",
    "AO2C0034: the revocation journal $dir/j/open/revoked cannot be used: nobody "
    . "could replace it: $dir/j/open is writable by nobody (mode 0777, owner root) "
    . "(fix: move $dir/j/open/revoked out of $dir/j/open, into a directory only "
    . "root may write)");
ok(!-e "$dir/j/open/revoked", 'and no journal was created there');

# A server that starts, stopped again: whether it came up, and its log.
sub start_stop {
    my ($case, $p) = @_;
    system($httpd, '-f', "$case/httpd.conf", '-k', 'start') == 0 or die 'httpd -k start';
    my $came = wait_for(sub { -s "$case/httpd.pid"
                              && IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p", Timeout => 1) }, 20);
    system($httpd, '-f', "$case/httpd.conf", '-k', 'stop');
    wait_for(sub { !-e "$case/httpd.pid" }, 20);
    return ($came, do { local (@ARGV, $/) = "$case/error.log"; <> });
}

# The default path, in a DefaultRuntimeDir of the run user: a warning, and
# the server runs without a journal.
my $jcase = conf("$jstore\nDefaultRuntimeDir $dir/j/rt", $jport);
my ($jup, $jlog) = start_stop($jcase, $jport);
ok($jup, 'a default journal the run user could replace: the server starts') or diag $jlog;
like($jlog, qr/\[api_oauth2:warn\] .*AO2C0034: the revocation journal \Q$dir\E\/j\/rt\/api_oauth2_revoked cannot be used: nobody could replace it: \Q$dir\E\/j\/rt is owned by nobody \(mode 0755, owner nobody\) \(fix: move \Q$dir\E\/j\/rt\/api_oauth2_revoked out of \Q$dir\E\/j\/rt, into a directory only root may write\); a restart forgets what this node learned from the revocation log\n/,
     'with a warning that says why') or diag $jlog;
ok(!-e "$dir/j/rt/api_oauth2_revoked", 'and without a journal');

# 9. A usable journal is read back once per start: httpd reads its
# configuration twice at start-up, and the first (dry) pass must not read
# it (ao2_post_config returns early there); a graceful restart reads it
# once more.
$jcase = conf("$jstore\nApiOAuth2RevocationJournal $dir/j/revoked", $jport);
sub count_in_log {
    my ($re) = @_;
    open my $fh, '<', "$jcase/error.log" or return 0;
    return scalar grep { /$re/ } <$fh>;
}
system($httpd, '-f', "$jcase/httpd.conf", '-k', 'start') == 0 or die 'httpd -k start';
$jup = wait_for(sub { -s "$jcase/httpd.pid" && count_in_log(qr/AH00489/) == 1 }, 20);
my @reads = (count_in_log(qr/AO2C0035: revocation journal \Q$dir\E\/j\/revoked: 0 tombstones read back/));
system($httpd, '-f', "$jcase/httpd.conf", '-k', 'graceful');
my $again = wait_for(sub { count_in_log(qr/AH00489/) == 2 }, 20);
push @reads, count_in_log(qr/AO2C0035: /);
system($httpd, '-f', "$jcase/httpd.conf", '-k', 'stop');
wait_for(sub { !-e "$jcase/httpd.pid" }, 20);
ok($jup && $again, 'a server with a journal starts and restarts gracefully')
    or diag `cat $jcase/error.log`;
is($reads[0], 1, 'the journal is read back once at start-up (not in the dry pass)');
is($reads[1], 2, 'and once more at a graceful restart');

# 10. Client authentication turned off in a location nested in the API
# (the API location's own setting untouched) reaches the endpoints: the
# start-up warning names it too.
my ($aup, $alog) = start_stop(conf("ApiOAuth2TokenStore dbm:$dir/a/tokens\n"
    . "ApiOAuth2StoreKey file:$key\n<Location /jsonapiext/oauth2>\n"
    . "    ApiOAuth2ClientAuthentication off\n</Location>", $jport), $jport);
ok($aup, 'client authentication off in a nested location: the server starts') or diag $alog;
like($alog, qr/\[api_oauth2:warn\] .*AO2C0008: ApiOAuth2ClientAuthentication is off for \/jsonapiext\/oauth2 \(\Q$dir\E\/case\d+\/httpd\.conf:\d+\): anyone who knows a client_id/,
     'with the warning AO2C0008, naming the nested location') or diag $alog;

# 11. What the store cannot keep is said at start-up, with the fix (issue
# 19 L6, M3): a store shared with other servers and a node-local cache
# (no revocation log: their revokes count here at ApiOAuth2CacheTTL only),
# and stores that lose tombstones before their tokens expire. Nobody
# listens on the Redis and memcached ports; nothing here needs them.
my $wport = port('spare', 4);
my $redis_store = "LoadModule socache_redis_module $mods/mod_socache_redis.so\n"
    . 'ApiOAuth2TokenStore socache:redis:127.0.0.1:' . port('spare', 3) . "\nApiOAuth2StoreKey file:$key";
my $mc_spec = 'memcache:127.0.0.1:' . port('spare', 2);
my $mc_store = "LoadModule socache_memcache_module $mods/mod_socache_memcache.so\n"
    . "ApiOAuth2TokenStore socache:$mc_spec\nApiOAuth2StoreKey file:$key";
my $shmcb_store = "LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so\n"
    . "ApiOAuth2TokenStore socache:shmcb\nApiOAuth2StoreKey file:$key";
# Starts a server on $store_and_key, stops it; its error log, or undef when
# it did not come up.
sub started_log {
    my ($store_and_key) = @_;
    my $c = conf($store_and_key, $wport);
    system($httpd, '-f', "$c/httpd.conf", '-k', 'start') == 0 or return undef;
    my $ok = wait_for(sub { -s "$c/httpd.pid" }, 20);
    system($httpd, '-f', "$c/httpd.conf", '-k', 'stop');
    wait_for(sub { !-e "$c/httpd.pid" }, 20);
    my $text = do { local (@ARGV, $/) = "$c/error.log"; <> };
    return $ok ? $text : undef;
}
my $w = started_log($redis_store) // '';
like($w, qr/\[api_oauth2:warn\] .*AO2C0071: ApiOAuth2TokenStore socache:redis:\S+ is shared with other servers, but ApiOAuth2Cache shm is this server's own: a revoke or refresh on another server counts here only once the cached verdict expires \(ApiOAuth2CacheTTL, 300 s\), not within 1 s; set ApiOAuth2Cache memcache:HOST:PORT/,
     'socache:redis with the default shm cache: a warning with the fix') or diag $w;
unlike($w, qr/AO2C0072/, 'Redis: no word of lost tombstones');
$w = started_log("$redis_store\nApiOAuth2Cache $mc_spec") // '';
unlike($w, qr/AO2C007[12]/, 'socache:redis with a memcache cache: no warning') or diag $w;
$w = started_log("$mc_store\nApiOAuth2Cache $mc_spec") // '';
like($w, qr/AO2C0072: ApiOAuth2TokenStore socache:\Q$mc_spec\E loses records when memcached runs out of memory \(it evicts\) or restarts: the tombstones of revoked and refreshed-away tokens go with them.* \(servers that learned the revoke from the revocation log keep refusing it\); use dbm:PATH/,
     'socache:memcache: its tombstones may be evicted, said with the fix') or diag $w;
unlike($w, qr/AO2C0071/, 'and with a memcache cache no word of a missing log');
$w = started_log($shmcb_store) // '';
like($w, qr/AO2C0072: ApiOAuth2TokenStore socache:shmcb loses every record when httpd stops .*is accepted again until it expires; use dbm:PATH/,
     'socache:shmcb: its tombstones go with a stop, said with the fix') or diag $w;
