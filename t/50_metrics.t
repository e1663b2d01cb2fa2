# SetHandler api-oauth2-metrics: valid Prometheus text whose counters move
# by exactly what the requests made here did (a token issued, Bearer checks
# valid, refused, missing and malformed, a cache miss then a hit, provider
# calls, a single flight's lock waits), summed over every httpd child; and
# the server-status section, in HTML and ?auto.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

plan tests => 43;

my $api = '/jsonapiext/res.partner';

sub scrape { metrics_scrape() }
sub d { my ($a, $b, $k) = @_; ($b->{v}{$k} // 0) - ($a->{v}{$k} // 0) }
# Delta of the sum of every sample whose key matches the pattern.
sub dsum {
    my ($a, $b, $re) = @_;
    my $s = 0;
    $s += $b->{v}{$_} for grep { /$re/ } keys %{ $b->{v} };
    $s -= $a->{v}{$_} for grep { /$re/ } keys %{ $a->{v} };
    return $s;
}
sub bearer { my $k = "api_oauth2_bearer_checks_total{outcome=\"$_[0]\"}"; $k }
sub lookup {
    qq{api_oauth2_cache_lookups_total{tier="memcache",result="$_[0]"}};
}
sub calls {
    my ($ep, $result) = @_;
    qq{api_oauth2_provider_calls_total{provider="testop",endpoint="$ep",result="$result"}};
}
my $all_checks = qr/^api_oauth2_bearer_checks_total\{/;

my $m0 = scrape();
is($m0->{st}, 200, 'metrics page answers');
like($m0->{res}->header('Content-Type') // '', qr{^text/plain; version=0\.0\.4\b},
     'Prometheus text format 0.0.4');
is_deeply($m0->{bad}, [], 'every line is a HELP, a TYPE or a sample of a declared family');
is($m0->{v}{api_oauth2_metrics_enabled}, 1, 'metrics on by default');
my @families = qw(api_oauth2_bearer_checks_total api_oauth2_cache_lookups_total
    api_oauth2_cache_errors_total api_oauth2_store_errors_total api_oauth2_lock_waits_total
    api_oauth2_lock_wait_seconds_total api_oauth2_provider_calls_total
    api_oauth2_provider_call_duration_seconds api_oauth2_metadata_refreshes_total
    api_oauth2_metrics_start_time_seconds);
is_deeply([grep { !$m0->{types}{$_} } @families], [], 'every family is declared');

# A token issued: one call to testop's token endpoint, in its histogram.
my $tok = full_flow(api => '/jsonapiext', client_id => 'api-client',
                    client_secret => 'api-secret', user => 'metrics-1', login => 'mia');
ok($tok->{access_token}, 'token issued');
my $m1 = scrape();
is(d($m0, $m1, calls('token', 'ok')), 1, 'one token call, ok');
is(d($m0, $m1, 'api_oauth2_provider_call_duration_seconds_count{provider="testop",endpoint="token"}'),
   1, '... counted in the latency histogram');
is(d($m0, $m1, 'api_oauth2_provider_call_duration_seconds_bucket{provider="testop",endpoint="token",le="+Inf"}'),
   1, '... in its +Inf bucket');
ok(($m1->{v}{'api_oauth2_provider_call_duration_seconds_sum{provider="testop",endpoint="token"}'} // 0) > 0,
   '... with its time in the sum');
is(dsum($m0, $m1, $all_checks), 0, 'no Bearer check meanwhile');

# A granted check: a miss in memcached (the store decides), then a hit.
my ($st) = api_call(GET => $api, bearer => $tok->{access_token});
is($st, 200, 'valid token passes');
my $m2 = scrape();
is(d($m1, $m2, bearer('valid')), 1, 'one valid Bearer check');
is(dsum($m1, $m2, $all_checks), 1, '... and no other');
is(d($m1, $m2, lookup('miss')), 1, 'the first check misses the cache');
is(d($m1, $m2, lookup('hit')), 0, '... and does not hit it');
($st) = api_call(GET => $api, bearer => $tok->{access_token});
is($st, 200, 'valid token passes again');
my $m3 = scrape();
is(d($m2, $m3, bearer('valid')), 1, 'a second valid check');
# With memcache, a hit is answered by the node-local copy (tier shm) while
# the revocation log has not moved, else by memcached.
is(d($m2, $m3, lookup('hit'))
       + d($m2, $m3, q{api_oauth2_cache_lookups_total{tier="shm",result="hit"}}),
   1, 'the second check is a cache hit (node-local copy or memcached)');
is(d($m2, $m3, lookup('miss')), 0, '... not a miss');
is(dsum($m2, $m3, qr/^api_oauth2_provider_calls_total/), 0, '... and calls no provider');

# Refused: a token nobody issued (introspected: inactive), none, malformed.
my $unknown = 'metrics-' . random_string(24);
($st) = api_call(GET => $api, bearer => $unknown);
is($st, 401, 'unknown token refused');
my $m4 = scrape();
is(d($m3, $m4, bearer('invalid')), 1, 'one refused Bearer check');
is(d($m3, $m4, calls('introspect', 'ok')), 1, 'after one introspection call');
($st) = api_call(GET => $api);
is($st, 401, 'no token: 401');
($st) = api_call(GET => $api, headers => [Authorization => 'Bearer a b']);
is($st, 401, 'malformed: 401');
my $m5 = scrape();
is(d($m4, $m5, bearer('missing')), 1, 'one check without a token');
is(d($m4, $m5, bearer('malformed')), 1, 'one malformed credential');
is(dsum($m0, $m5, qr/^api_oauth2_(?:store|cache)_errors_total/), 0,
   'no store or cache errors on the way');

# Concurrent first checks of one unknown token: one introspection, the
# other callers wait on the lookup lock (single flight).
my $callers = 6;
my $burst = 'metrics-' . random_string(24);
provider_delay('introspection', 1000);
my @st = concurrently($callers, sub { (api_call(GET => $api, bearer => $burst))[0] });
provider_delay('introspection', 0);
is_deeply([sort @st], [(401) x $callers], "$callers concurrent checks refused");
my $m6 = scrape();
is(d($m5, $m6, bearer('invalid')), $callers, "$callers refused checks counted");
is(d($m5, $m6, calls('introspect', 'ok')), 1, 'one introspection for all of them');
is(dsum($m5, $m6, qr/^api_oauth2_lock_waits_total\{lock="lookup"/), $callers - 1,
   'the others waited for the lookup lock');
ok(($m6->{v}{'api_oauth2_lock_wait_seconds_total{lock="lookup"}'} // 0)
   > ($m5->{v}{'api_oauth2_lock_wait_seconds_total{lock="lookup"}'} // 0),
   '... and their wait is in the wait time');

# Every child adds into one table: checks served by different children (the
# access log's %P says which) all show in one scrape, whichever child
# serves it.
my $pid_log = Apache::Test::vars('t_logs') . '/pid_log';
my (%pids, $sent);
for my $round (1 .. 10) {
    my $tag = "m$round-" . random_string(6);
    my @res = concurrently(8, sub {
        (api_call(GET => "$api?mtag=$tag-$_[0]", bearer => $tok->{access_token}))[0];
    });
    $sent += @res;
    # The access log is written after the answer: wait for all 8 lines.
    my @lines;
    wait_for(sub {
        open my $fh, '<', $pid_log or return 0;
        @lines = grep { /mtag=\Q$tag\E-/ } <$fh>;
        return @lines == 8;
    }, 10);
    $pids{(split ' ', $_)[0]} = 1 for @lines;
    last if keys %pids >= 2;
}
ok(keys %pids >= 2, 'checks were served by ' . (keys %pids) . ' children');
my $m7 = scrape();
is(d($m6, $m7, bearer('valid')), $sent, "all $sent valid checks of all children counted");

# server-status: the section, and ?auto's lines with the scrape's totals.
my (undef, undef, $html) = api_call(GET => '/server-status');
like($html->decoded_content // '', qr{<h2>mod_api_oauth2</h2>}, 'server-status has the section');
like($html->decoded_content // '', qr{<td>Bearer checks</td><td>\d+</td>}, '... with the totals');
my $m8 = scrape();
my (undef, undef, $auto) = api_call(GET => '/server-status?auto');
my %auto = ($auto->decoded_content // '') =~ /^ApiOAuth2 (\w+): (\d+)$/mg;
my $checks = 0;
$checks += $m8->{v}{$_} for grep { /$all_checks/ } keys %{ $m8->{v} };
is($auto{BearerChecks}, $checks, '?auto: "ApiOAuth2 BearerChecks" is the scrape\'s sum');
my $hits = 0;
$hits += $m8->{v}{$_} for grep { /^api_oauth2_cache_lookups_total\{.*result="hit"/ } keys %{ $m8->{v} };
is($auto{CacheHits}, $hits, '?auto: CacheHits too');
is(scalar(keys %auto), 12, '?auto: twelve ApiOAuth2 lines');

# Only GET; the page is never cached.
my ($pst) = api_call(POST => '/ao2-metrics', form => { a => 1 });
is($pst, 405, 'POST to the metrics page: 405');
is($m8->{res}->header('Cache-Control'), 'no-store', 'Cache-Control: no-store');
