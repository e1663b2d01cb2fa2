# Rollback-proof cluster state (issue 7 item 6): someone with write access
# to memcached snapshots every key before a refresh and before a revoke and
# writes them all back afterwards (verdicts, the revocation log's counter,
# and with a socache:memcache store the old index entries over the
# tombstones). The refreshed-away and the revoked token stay refused on
# every server, with the store on socache:memcache and on socache:redis,
# the validation cache on memcache both times. Then both servers restart
# after the log's entries were deleted and the values put back once more:
# each reads back from its revocation journal what it had learned, so the
# revoked token stays refused (without the journal a restarted server
# believed the index entry put back into a socache:memcache store). In the
# Redis pass the journals are deleted too, so the servers start as new
# nodes: their first read moves the generation on, the verdict put back
# with its counter is a miss and Redis's tombstone answers (before, they
# believed it). Last, every decimal value in memcached (the log's counter)
# is set to 2^64 - 1 (issue 19 M1): the servers took it as their
# generation, the next incr wrapped, later revokes missed the log and a
# server's node-local copy answered a token revoked on the other until
# ApiOAuth2CacheLocalTTL; now such a counter is not believed, is reset, and
# the revoke counts on both within the bound. Two servers, this test's own
# memcached and Redis.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes ();

my @stores = qw(memcache redis);
my $per_store = 26;
plan tests => 2 + $per_store * @stores;

my $top    = "$FindBin::Bin/..";
my $module = "$top/.libs/mod_api_oauth2.so";
my $dir    = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $key = "$dir/shared.key";
store_key($key);
my @ports = (port('servers'))[0, 1];
my ($mc, $redis) = (port('spare', 42), port('spare', 43));
my $mods  = '/usr/lib/apache2/modules';
my $bound = 1.0;    # seconds: SPEC's cross-server revocation bound

sub port_open { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$_[0]", Timeout => 1) }

# --- services this test owns (AO2Test stops them at the end) -------------------
ok(service_start('memcached-replay', port => $mc, cmd => [qw(memcached -l 127.0.0.1 -p), $mc, qw(-U 0 -u nobody -m 16)]),
   "memcached on $mc");
ok(service_start('redis', port => $redis, cmd => ['redis-server', '--bind', '127.0.0.1', '--port', $redis,
                 '--save', '', '--appendonly', 'no', '--protected-mode', 'yes']),
   "Redis on $redis");

# --- memcached, as the one who replays it -------------------------------------
sub mc_conn { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$mc", Timeout => 5) or die "memcached: $!" }
sub mc_lines {
    my ($s, $cmd) = @_;
    print $s "$cmd\r\n";
    my @l;
    while (defined(my $l = <$s>)) {
        $l =~ s/\r?\n\z//;
        last if $l eq 'END';
        push @l, $l;
    }
    return @l;
}

# Every key with its flags, expiry (absolute, 0: none) and value.
sub snapshot {
    my $s = mc_conn();
    my %snap;
    for (mc_lines($s, 'lru_crawler metadump all')) {
        my ($k) = /^key=(\S+)/ or next;
        $k =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
        my ($exp) = /\bexp=(-?\d+)/;
        print $s "get $k\r\n";
        my $hdr = <$s>;
        next unless $hdr =~ /^VALUE \S+ (\d+) (\d+)/;
        my ($flags, $len) = ($1, $2);
        read($s, my $val, $len + 2);
        <$s>;    # END
        $snap{$k} = { flags => $flags, exp => ($exp // -1) > 0 ? $exp : 0, val => substr($val, 0, $len) };
    }
    return \%snap;
}

# Writes every value back with set, as it was (the same flags, what is left
# of its expiry). Returns how many were written.
sub write_back {
    my ($snap) = @_;
    my $s = mc_conn();
    my $n = 0;
    for my $k (sort keys %$snap) {
        my $e = $snap->{$k};
        my $ttl = $e->{exp} ? $e->{exp} - time : 0;
        next if $e->{exp} && $ttl <= 0;
        print $s "set $k $e->{flags} $ttl " . length($e->{val}) . "\r\n$e->{val}\r\n";
        my $r = <$s>;
        $n++ if defined $r && $r =~ /^STORED/;
    }
    return $n;
}

# Deletes every entry of the revocation log; returns how many.
sub delete_log_entries {
    my $s = mc_conn();
    my $n = 0;
    for (mc_lines($s, 'lru_crawler metadump all')) {
        my ($k) = /^key=(ao2r%3A\S+|ao2r:\S+)/ or next;
        $k =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
        print $s "delete $k\r\n";
        my $r = <$s>;
        $n++ if defined $r && $r =~ /^DELETED/;
    }
    return $n;
}

# Every value that is a decimal number set to 2^64 - 1, with its flags and
# no expiry. Returns the keys set.
sub forge_decimals {
    my $snap = snapshot();
    my $s = mc_conn();
    my @set;
    for my $k (sort keys %$snap) {
        next unless $snap->{$k}{val} =~ /\A\d+\z/;
        print $s "set $k $snap->{$k}{flags} 0 20\r\n18446744073709551615\r\n";
        push @set, $k if (<$s> // '') =~ /^STORED/;
    }
    return @set;
}

# Whether the error log $file says $re after byte $from.
sub logged_since {
    my ($file, $from, $re) = @_;
    open my $fh, '<', $file or return 0;
    seek $fh, $from, 0;
    local $/;
    return (<$fh> // '') =~ $re;
}

# The tombstones the last start of a server read back (AO2C0035).
sub journal_read_back {
    my ($log) = @_;
    open my $fh, '<', $log or return -1;
    my $n = -1;
    while (my $l = <$fh>) { $n = $1 if $l =~ /AO2C0035: .*: (\d+) tombstones read back/ }
    return $n;
}

sub conf_for {
    my ($port, $store) = @_;
    my $spec = $store eq 'redis' ? "socache:redis:127.0.0.1:$redis" : "socache:memcache:127.0.0.1:$mc";
    return <<"CONF";
LoadModule socache_memcache_module $mods/mod_socache_memcache.so
LoadModule socache_redis_module $mods/mod_socache_redis.so
LoadModule api_oauth2_module $module
ApiOAuth2TokenStore $spec
ApiOAuth2StoreKey file:$key
ApiOAuth2Cache memcache:127.0.0.1:$mc
ApiOAuth2RevocationJournal $dir/journal-$port
@{[shared_api_conf()]}
CONF
}

my @urls  = map { "http://127.0.0.1:$_" } @ports;
my @basic = (basic => ['api-client', 'api-secret']);
sub get { (api_call('GET', "$_[0]/jsonapiext/res.partner", bearer => $_[1]))[0] }
sub all_status { join ' ', map { get($_, $_[0]) } @urls }

# The token is refused on both servers, and still after every value was put
# back once more (the servers had time to read the log and the replay
# again): never again valid, not merely for a while.
sub stays_refused {
    my ($label, $token, $snap) = @_;
    my $t0 = Time::HiRes::time();
    my $ok = wait_for(sub { all_status($token) eq '401 401' }, 5, 0.02);
    my $secs = Time::HiRes::time() - $t0;
    ok($ok && $secs <= $bound, sprintf("%s: refused on both servers %.3f s after the replay (bound %.1f s)",
                                       $label, $secs, $bound));
    write_back($snap);
    my @seen = map { all_status($token) } 1 .. 5;
    is_deeply(\@seen, [('401 401') x 5], "$label: replayed again, still refused on both");
}

for my $store (@stores) {
    extra_httpd(port => $_, dir => $dir, conf => conf_for($_, $store)) for @ports;
    ok(!grep({ !port_open($_) } @ports), "$store: two servers listen");
    my $user = "replay-$store";
    my $tok = full_flow(api => "$urls[0]/jsonapiext", client_id => 'api-client',
                        client_secret => 'api-secret', user => $user, login => 'rita');
    ok($tok->{access_token}, "$store: tokens issued through server 1");
    # Both servers have the verdict in memcached and a copy of their own.
    is(all_status($tok->{access_token}), '200 200', "$store: valid on both");
    is(all_status($tok->{access_token}), '200 200', "$store: again (cached)");

    # Refresh on 2, then every old value back.
    my $snap = snapshot();
    ok(grep({ /^ao2v:/ } keys %$snap) >= 1, "$store: the snapshot holds the cached verdict")
        or diag explain [sort keys %$snap];
    my ($st, $new) = api_call('POST', "$urls[1]/jsonapiext/oauth2/token",
        json => { client_user_identity => $user }, @basic);
    is($st, 200, "$store: server 2 refreshes");
    ok(write_back($snap) >= keys %$snap, "$store: every old memcached value written back");
    is(get($urls[1], $tok->{access_token}), 401, "$store: server 2 refuses the old token at once");
    stays_refused("$store: the refreshed-away token", $tok->{access_token}, $snap);

    # Revoke on 1, then every old value back. A fresh identity: the replay
    # above also put the old record back (a socache:memcache store), and a
    # revoke revokes what the record names.
    ok($new->{access_token}, "$store: the refresh gave a new token");
    $new = full_flow(api => "$urls[0]/jsonapiext", client_id => 'api-client',
                     client_secret => 'api-secret', user => "$user-2", login => 'sam');
    $user = "$user-2";
    is(all_status($new->{access_token}), '200 200', "$store: another identity's token is valid on both");
    $snap = snapshot();
    ($st) = api_call('POST', "$urls[0]/jsonapiext/oauth2/revoke",
        json => { client_user_identity => $user }, @basic);
    is($st, 200, "$store: server 1 revokes");
    write_back($snap);
    stays_refused("$store: the revoked token", $new->{access_token}, $snap);

    # Both restart; meanwhile the log's entries are deleted and every old
    # value is put back: only the journal still names the revoked token
    # (with a socache:memcache store), or only the store (Redis).
    my $new_nodes = $store eq 'redis';
    extra_httpd_stop($_) for @ports;
    unlink map { "$dir/journal-$_" } @ports if $new_nodes;
    my $gone = delete_log_entries();
    ok($gone >= 2, "$store: the log's $gone entries deleted while both servers are down");
    write_back($snap);
    extra_httpd(port => $_, dir => $dir, conf => conf_for($_, $store)) for @ports;
    is(all_status($new->{access_token}), '401 401',
       "$store: restarted" . ($new_nodes ? ' as new nodes' : '') . ", the revoked token is refused on both at once");
    my @read = map { journal_read_back("$dir/error-$_.log") } @ports;
    ok($new_nodes ? !grep({ $_ != 0 } @read) : !grep({ $_ < 2 } @read),
       "$store: tombstones read back from the journals: @read");
    is(all_status($new->{access_token}), '401 401', "$store: and still after the first read of the log");

    # The counter forged to 2^64 - 1; both servers read it (each logs that
    # its log changed under it) and copy the verdict again; forged once more
    # just before the revoke, so that the write meets it too.
    my @logs = map { "$dir/error-$_.log" } @ports;
    my $forged = full_flow(api => "$urls[0]/jsonapiext", client_id => 'api-client',
                           client_secret => 'api-secret', user => "$user-3", login => 'tia');
    is(all_status($forged->{access_token}), '200 200', "$store: a third identity's token is valid on both");
    my @from = map { -s $_ || 0 } @logs;
    my @set = forge_decimals();
    ok(grep({ $_ eq 'ao2g:generation' } @set), "$store: the counter set to 2^64 - 1 (@set)");
    ok(wait_for(sub {
            all_status($forged->{access_token}) eq '200 200'
                && !grep { !logged_since($logs[$_], $from[$_], qr/AO2G000[36]/) } 0 .. 1
        }, 10, 0.02),
       "$store: both servers read the forged counter, the token still valid on both");
    is(all_status($forged->{access_token}), '200 200', "$store: again (node-local copies)");
    forge_decimals();
    ($st) = api_call('POST', "$urls[0]/jsonapiext/oauth2/revoke",
        json => { client_user_identity => "$user-3" }, @basic);
    is($st, 200, "$store: server 1 revokes, the counter forged");
    my $t0 = Time::HiRes::time();
    my $gone_ok = wait_for(sub { all_status($forged->{access_token}) eq '401 401' }, 5, 0.02);
    my $secs = Time::HiRes::time() - $t0;
    ok($gone_ok && $secs <= $bound,
       sprintf("$store: refused on both servers %.3f s after the revoke (bound %.1f s)", $secs, $bound));

    extra_httpd_stop($_) for @ports;
    unlink map { "$dir/journal-$_" } @ports;
    # The next pass starts from an empty memcached.
    my $s = mc_conn();
    print $s "flush_all\r\n";
    my $r = <$s>;
    is($r // '', "OK\r\n", "$store: memcached emptied for the next pass");
}
