package AO2Test;

# Helpers for the mod_api_oauth2 Apache::Test suite.
#
#   use FindBin; use lib "$FindBin::Bin/lib";
#   use Apache::Test qw(-withtestmore);
#   use AO2Test;
#
#   my ($status, $json, $res) = api_call(POST => '/jsonapiext/oauth2/token',
#       json => { client_id => 'api-client', client_user_identity => 'u1' },
#       basic => [ 'api-client', 'api-secret' ]);
#
#   my ($status, $tok, $res, $info) = full_flow(api => '/jsonapiext', user => 'u1',
#                                                login => 'alice');
#
# Everything talks to 127.0.0.1 only. The httpd under test is
# http://127.0.0.1:<Apache::Test port> (the callback URLs registered at the
# provider use 127.0.0.1, so never "localhost"); AO2_BASE_URL overrides it
# (for the standalone t/provider/smoke.pl). The provider is
# http://127.0.0.1:18531 (AO2_PROVIDER_URL overrides).

use strict;
use warnings;

use Carp qw(croak);
use Digest::SHA qw(sha256);
use Exporter qw(import);
use HTTP::Cookies ();
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();
use MIME::Base64 qw(encode_base64url);
use URI ();

our @EXPORT = qw(
    api_call base_url provider_url port
    provider_login provider_deny full_flow
    provider_stats provider_stats_reset
    provider_delay concurrently memcached_stat provider_tokens provider_token_request provider_introspect provider_revoke
    pkce_pair random_string authorization_url
    json_encode json_decode
    error_log_path error_log_mark error_log_text wait_for
    httpd_bin service_stop service_start
    wrk_start wrk_result extra_httpd extra_httpd_conf extra_httpd_stop httpd_children_rss
    store_key offline_configtest
    httpd_core_modules
    dot_url dot_login dot_tokens dot_token_request dot_introspect
    metrics_scrape
    keepalive_connection keepalive_get
    refresh_window past_refresh_window shared_api_conf
);

# port('httpd' | 'provider' | 'backend' | 'memcached' | 'dot') -> the run's port for
# it; port('servers') -> the extra servers' ports (list); port('spare', N) ->
# the Nth (0..79) port free for a test's own services. t/TEST.PL derives them
# all from AO2_PORT_BASE.
sub port {
    my ($name, $n) = @_;
    my $base = $ENV{AO2_PORT_BASE} || 8529;
    return $ENV{AO2_HTTPD_PORT} || $base                  if $name eq 'httpd';
    return $ENV{AO2_PROVIDER_PORT} || $base + 10002       if $name eq 'provider';
    return $ENV{AO2_BACKEND_PORT} || $base + 10003        if $name eq 'backend';
    return $ENV{AO2_MEMCACHED_PORT} || $base + 10004      if $name eq 'memcached';
    return $ENV{AO2_DOT_PORT} || $base + 10005            if $name eq 'dot';
    return split /,/, ($ENV{AO2_SERVER_PORTS} || join ',', map { $base + $_ } 10012 .. 10014)
        if $name eq 'servers';
    if ($name eq 'spare') {
        croak "port('spare', $n): 0 to 79" unless defined $n && $n >= 0 && $n < 80;
        return $base + 10020 + $n;
    }
    croak "port: unknown name $name";
}

our $PROVIDER_URL = $ENV{AO2_PROVIDER_URL} || 'http://127.0.0.1:' . port('provider');
our $TIMEOUT      = $ENV{AO2_HTTP_TIMEOUT} || 30;
# The checkout (or the run's copy of it): t/lib/AO2Test.pm is two levels down.
our $TOP = do { require Cwd; require File::Basename;
                File::Basename::dirname(File::Basename::dirname(File::Basename::dirname(Cwd::abs_path(__FILE__)))) };
our $MAX_STEPS    = 20;    # Location hops in one provider_login

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub json_encode { $JSON->encode($_[0]) }
sub json_decode { my $r = eval { $JSON->decode($_[0]) }; $r }

sub provider_url { $PROVIDER_URL }

my $base_url;
sub base_url {
    return $base_url if defined $base_url;
    if ($ENV{AO2_BASE_URL}) {
        ($base_url = $ENV{AO2_BASE_URL}) =~ s{/+\z}{};
        return $base_url;
    }
    require Apache::Test;
    my $port = Apache::Test::vars('port')
        or croak 'AO2Test: no Apache::Test port (run under t/TEST or set AO2_BASE_URL)';
    return $base_url = "http://127.0.0.1:$port";
}

sub _ua {
    my (%opt) = @_;
    my $ua = LWP::UserAgent->new(
        agent        => 'ao2-test/1.0',
        timeout      => $TIMEOUT,
        max_redirect => 0,
        keep_alive   => 0,
        env_proxy    => 0,
        %opt,
    );
    return $ua;
}

sub _abs_url {
    my ($path) = @_;
    return $path if $path =~ m{^https?://}i;
    $path = "/$path" unless $path =~ m{^/};
    return base_url() . $path;
}

sub _pairs {
    my ($v) = @_;
    return ref $v eq 'HASH' ? (map { $_ => $v->{$_} } sort keys %$v)
         : ref $v eq 'ARRAY' ? @$v
         : croak 'AO2Test: expected a hash or array ref';
}

sub _decode_response {
    my ($res) = @_;
    my $body = $res->decoded_content(charset => 'none') // $res->content // '';
    return undef unless length $body;
    return json_decode($body);
}

# api_call($method, $path_or_url, %opt) -> ($status, $json_or_undef, $response)
# (in scalar context: the decoded JSON, or undef)
#   json => {...}          JSON body (Content-Type: application/json)
#   form => {...} or [...] urlencoded body
#   query => {...} or [...] appended to the URL's query
#   raw_body => '...', content_type => '...'   body sent as is
#   basic => [user, pass]  HTTP Basic credentials
#   bearer => 'token'      Authorization: Bearer token
#   headers => {...} or [...]  extra request headers, sent exactly as spelled
#                          (case and '_' kept; a list keeps order and duplicates)
#   ua => $lwp_ua          use this user agent instead of a fresh one
sub api_call {
    my ($method, $path, %opt) = @_;
    my $uri = URI->new(_abs_url($path));
    if ($opt{query}) {
        my @q = ($uri->query_form, _pairs($opt{query}));
        $uri->query_form(\@q);
    }
    my $req = HTTP::Request->new(uc $method => $uri);
    if (exists $opt{json}) {
        $req->content($JSON->encode($opt{json}));
        $req->content_type('application/json');
    }
    elsif ($opt{form}) {
        my $u = URI->new('http:');
        $u->query_form([_pairs($opt{form})]);
        $req->content($u->query // '');
        $req->content_type('application/x-www-form-urlencoded');
    }
    elsif (defined $opt{raw_body}) {
        $req->content($opt{raw_body});
    }
    $req->content_type($opt{content_type}) if defined $opt{content_type};
    $req->authorization_basic(@{ $opt{basic} }) if $opt{basic};
    $req->header(Authorization => "Bearer $opt{bearer}") if defined $opt{bearer};
    if ($opt{headers}) {
        # Sent exactly as spelled (case, '_' kept), duplicates kept; the
        # headers LWP manages itself replace its value instead.
        local $HTTP::Headers::TRANSLATE_UNDERSCORE = 0;
        my @h = _pairs($opt{headers});
        while (my ($k, $v) = splice @h, 0, 2) {
            if ($k =~ /^(?:content-type|content-length|authorization|host|user-agent)$/i) {
                $req->header($k => $v);
            }
            else {
                $req->push_header(($k =~ /^:/ ? $k : ":$k") => $v);
            }
        }
    }
    $req->header('Content-Length' => length($req->content // ''))
        if length($req->content // '') || $req->method =~ /^(POST|PUT|PATCH)$/;

    my $res = ($opt{ua} || _ua())->request($req);
    my $json = _decode_response($res);
    return wantarray ? ($res->code, $json, $res) : $json;
}

# The httpd binary the suite runs: /usr/sbin/apache2, or under AO2_ASAN=1 a
# wrapper that preloads the sanitizer runtimes (use it for `httpd -t` checks,
# or an instrumented module will not load).
# keepalive_connection([BASE]) -> one kept-alive connection (Net::HTTP) to
# the server; keepalive_get(CONN, PATH, TOKEN) -> (status, decoded body)
# of a GET on that very connection, and dies when the server closed it (a
# test of what one connection remembers must not pass on a new one).
sub keepalive_connection {
    my ($base) = @_;
    require Net::HTTP;
    my ($host) = ($base // base_url()) =~ m{^https?://([^/]+)};
    my $c = Net::HTTP->new(Host => $host, KeepAlive => 1, Timeout => $TIMEOUT)
        or croak "keepalive_connection $host: $@";
    return { conn => $c, port => $c->sockport };
}

sub keepalive_get {
    my ($k, $path, $token) = @_;
    my $c = $k->{conn};
    croak 'keepalive_get: the connection changed' unless ($c->sockport // 0) == $k->{port};
    $c->write_request(GET => $path, Authorization => "Bearer $token")
        or croak "keepalive_get: write: $!";
    my ($code, undef, %h) = $c->read_response_headers;
    my ($body, $buf) = ('', '');
    while (1) {
        my $n = $c->read_entity_body($buf, 8192);
        croak "keepalive_get: read: $!" unless defined $n;
        last unless $n;
        $body .= $buf;
    }
    croak 'keepalive_get: the server closed the connection'
        if grep { lc $_ eq 'connection' && lc $h{$_} eq 'close' } keys %h;
    return ($code, json_decode($body));
}

sub httpd_bin { $ENV{APACHE_TEST_HTTPD} || '/usr/sbin/apache2' }

# --- the test server's error_log ---------------------------------------------

sub error_log_path {
    return $ENV{AO2_ERROR_LOG} if $ENV{AO2_ERROR_LOG};
    require Apache::Test;
    my $logs = Apache::Test::vars('t_logs') or croak 'AO2Test: no t_logs (run under t/TEST)';
    return "$logs/error_log";
}

# error_log_mark() -> current size; error_log_text($mark) -> what was logged
# since (the whole file without a mark).
sub error_log_mark { return -s error_log_path() || 0 }

sub error_log_text {
    my ($from) = @_;
    my $file = error_log_path();
    open my $fh, '<', $file or return '';
    binmode $fh;
    seek $fh, $from, 0 if $from;
    local $/;
    my $text = <$fh> // '';
    close $fh;
    return $text;
}

# wait_for(sub { ... }, $timeout_seconds = 10, $interval = 0.05): polls until
# the sub returns true; returns its value, or false after the deadline.
sub wait_for {
    my ($cond, $timeout, $interval) = @_;
    require Time::HiRes;
    my $deadline = Time::HiRes::time() + ($timeout // 10);
    while (1) {
        my $v = eval { $cond->() };
        return $v if $v;
        return 0 if Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep($interval // 0.05);
    }
}

# refresh_window() -> seconds of the refresh window of a server that leaves
# ApiOAuth2RefreshWindow at its default (the test server does): the value of
# AO2_DEFAULT_REFRESH_WINDOW in src/ao2_defaults.h, 0 where it is not
# defined. past_refresh_window($since[, $window]) returns once $window
# (default: refresh_window()) seconds have passed since $since (a
# Time::HiRes time taken once the refresh's answer was back: the refresh
# was made no later): a /token call then refreshes again. The window is
# defined by the clock, so this waits until a known deadline.
sub refresh_window {
    open my $h, '<', "$TOP/src/ao2_defaults.h" or croak "ao2_defaults.h: $!";
    local $/;
    return <$h> =~ /^#define AO2_DEFAULT_REFRESH_WINDOW\s+(\d+)/m ? $1 : 0;
}

sub past_refresh_window {
    my ($since, $window) = @_;
    require Time::HiRes;
    my $left = $since + ($window // refresh_window()) + 0.05 - Time::HiRes::time();
    Time::HiRes::sleep($left) if $left > 0;
    return 1;
}

# --- provider helpers ---------------------------------------------------------

sub random_string {
    my ($n) = @_;
    $n ||= 32;
    open my $fh, '<:raw', '/dev/urandom' or croak "urandom: $!";
    read($fh, my $buf, $n) == $n or croak 'short read from /dev/urandom';
    close $fh;
    return encode_base64url($buf);
}

# PKCE S256: returns ($verifier, $challenge)
sub pkce_pair {
    my $verifier  = random_string(32);
    my $challenge = encode_base64url(sha256($verifier));
    return ($verifier, $challenge);
}

# authorization_url(client_id => ..., redirect_uri => ..., [scope, state, nonce,
# code_challenge, prompt]) -> URL of the provider's /auth with those parameters.
# nonce => undef: none at all (the ID token then carries none).
sub authorization_url {
    my (%p) = @_;
    my $u = URI->new("$PROVIDER_URL/auth");
    my $nonce = exists $p{nonce} ? $p{nonce} : random_string(16);
    $u->query_form([
        response_type         => 'code',
        client_id             => $p{client_id},
        redirect_uri          => $p{redirect_uri},
        scope                 => $p{scope} // 'openid email offline_access',
        state                 => $p{state} // random_string(16),
        (defined $nonce ? (nonce => $nonce) : ()),
        code_challenge        => $p{code_challenge},
        code_challenge_method => 'S256',
        prompt                => $p{prompt} // 'consent',
    ]);
    return $u->as_string;
}

sub _is_provider_url {
    my ($url) = @_;
    my $p = URI->new($PROVIDER_URL);
    my $u = URI->new($url);
    return lc($u->scheme // '') eq lc $p->scheme
        && lc($u->host // '') eq lc $p->host
        && ($u->port // 0) == $p->port;
}

sub _snippet {
    my ($res) = @_;
    my $t = $res->decoded_content // '';
    $t =~ s/<[^>]*>/ /g;
    $t =~ s/\s+/ /g;
    return substr($t, 0, 400);
}

# provider_login($authorization_url, %opt) -> URL the provider redirects the
# browser to (the module's callback, with code & state or error), NOT fetched.
#   login => 'alice', password => 'x'   what is typed into the login page
#   consent => 1       press "Continue" on the consent page (0: abort there)
#   deny => 0|1|'login'|'consent'      abort the interaction (the devInteractions
#                      "[ Abort ]" link, GET /interaction/<uid>/abort) at the
#                      first page (1 or 'login') or after logging in ('consent');
#                      the provider then redirects with error=access_denied
#   jar => HTTP::Cookies  reuse a browser session (default: a fresh jar)
# In list context also returns the list of URLs visited. Dies on anything a
# browser user would see as a provider error page.
sub provider_login {
    my ($url, %opt) = @_;
    croak 'provider_login: no authorization URL' unless $url;
    my $login    = $opt{login}    // 'alice';
    my $password = $opt{password} // 'x';
    my $consent  = exists $opt{consent} ? $opt{consent} : 1;
    my $deny     = $opt{deny} // 0;
    $deny = 'login' if $deny && $deny eq '1';
    my $jar = $opt{jar} || HTTP::Cookies->new;
    my $ua  = _ua(cookie_jar => $jar);

    my @visited;
    my $req = HTTP::Request->new(GET => $url);
    for my $step (1 .. $MAX_STEPS) {
        push @visited, $req->uri->as_string;
        my $res = $ua->request($req);
        if ($res->is_redirect) {
            my $loc = $res->header('Location')
                or croak "provider_login: redirect without Location at " . $req->uri;
            my $next = URI->new_abs($loc, $req->uri)->as_string;
            unless (_is_provider_url($next)) {
                return wantarray ? ($next, \@visited) : $next;
            }
            $req = HTTP::Request->new(GET => $next);
            next;
        }
        my $uri = URI->new($req->uri);
        if ($res->code == 200 && $uri->path =~ m{^/interaction/([^/]+)$}) {
            my $uid  = $1;
            my $html = $res->decoded_content // '';
            my ($prompt) = $html =~ /name="prompt"\s+value="([^"]+)"/;
            croak "provider_login: no prompt on interaction page: " . _snippet($res)
                unless $prompt;
            my $abort = ($deny && ($deny eq 'login' || ($deny eq 'consent' && $prompt eq 'consent')))
                     || ($prompt eq 'consent' && !$consent);
            my $base = "$PROVIDER_URL/interaction/$uid";
            if ($abort) {
                $req = HTTP::Request->new(GET => "$base/abort");
                next;
            }
            my $form = URI->new('http:');
            if ($prompt eq 'login') {
                $form->query_form([prompt => 'login', login => $login, password => $password]);
            }
            elsif ($prompt eq 'consent') {
                $form->query_form([prompt => 'consent']);
            }
            else {
                croak "provider_login: unknown prompt '$prompt'";
            }
            $req = HTTP::Request->new(POST => $base);
            $req->content_type('application/x-www-form-urlencoded');
            $req->content($form->query);
            next;
        }
        croak sprintf 'provider_login: unexpected %s at %s: %s',
            $res->status_line, $req->uri, _snippet($res);
    }
    croak "provider_login: more than $MAX_STEPS steps";
}

# provider_deny($authorization_url, %opt): provider_login that aborts at the
# first interaction page -> callback URL carrying error=access_denied.
# deny => 'consent' logs in first and aborts at the consent page.
sub provider_deny {
    my ($url, %opt) = @_;
    return provider_login($url, deny => 'login', %opt);
}

# full_flow(%opt) -> ($status, $token_json, $response, \%info) in list context,
#                    $token_json in scalar context
#   api => '/jsonapiext', client_id => 'api-client', client_secret => 'api-secret'
#   (undef: no client authentication), secret_in_body => 1 (client_secret in
#   the JSON body instead of Basic), user => 'u1' (client_user_identity),
#   login/password/consent/deny: as for provider_login,
#   callback => sub { $url } to alter the callback URL before it is fetched,
#   authorize_extra => {...} more fields for the authorize request,
#   driver => \&dot_login: what logs in at the provider (provider_login).
# $status/$token_json/$response are those of the last request made: the
# callback's, or the authorize request's when that did not answer 200 with an
# authorization_url. %info: step ('authorize'|'callback'), authorize (its
# JSON), authorization_url, callback_url.
sub full_flow {
    my (%o) = @_;
    my $api       = $o{api} // '/jsonapiext';
    my $client_id = exists $o{client_id} ? $o{client_id} : 'api-client';
    my $secret    = exists $o{client_secret} ? $o{client_secret} : 'api-secret';
    my $user      = $o{user} // 'u1';
    my %info      = (step => 'authorize');

    my %body = (client_id => $client_id, client_user_identity => $user,
                %{ $o{authorize_extra} || {} });
    my %auth;
    if (defined $secret) {
        if ($o{secret_in_body}) { $body{client_secret} = $secret }
        else                    { $auth{basic} = [$client_id, $secret] }
    }
    my ($st, $js, $res) = api_call(POST => "$api/oauth2/provider/authorize",
                                   json => \%body, %auth);
    $info{authorize} = $js;
    unless ($st == 200 && ref $js eq 'HASH' && $js->{authorization_url}) {
        return wantarray ? ($st, $js, $res, \%info) : $js;
    }
    $info{authorization_url} = $js->{authorization_url};

    $info{step} = 'login';
    my $drive = $o{driver} || \&provider_login;
    my $cb = $drive->($js->{authorization_url},
        map { exists $o{$_} ? ($_ => $o{$_}) : () } qw(login password consent deny jar));
    $cb = $o{callback}->($cb) if $o{callback};
    $info{callback_url} = $cb;

    $info{step} = 'callback';
    ($st, $js, $res) = api_call(GET => $cb);
    return wantarray ? ($st, $js, $res, \%info) : $js;
}

sub provider_stats {
    my $res = _ua()->get("$PROVIDER_URL/__stats");
    croak 'provider_stats: ' . $res->status_line unless $res->is_success;
    return json_decode($res->decoded_content);
}

# provider_delay('token', 300): the provider answers that endpoint 300 ms
# late until provider_delay('token', 0).
sub provider_delay {
    my ($endpoint, $ms) = @_;
    my $res = _ua()->post("$PROVIDER_URL/__delay?endpoint=$endpoint&ms=$ms");
    croak "provider_delay: " . $res->status_line unless $res->is_success;
    return 1;
}

# concurrently($n, sub { ... }) -> list of what each of $n forked callers
# returned (one line of text each; the sub gets its caller number, 0 to
# $n - 1). They all start at once: each waits on a
# pipe the parent closes when all are forked.
sub concurrently {
    my ($n, $work) = @_;
    pipe(my $go_r, my $go_w) or croak "pipe: $!";
    my @kids;
    for my $i (0 .. $n - 1) {
        pipe(my $out_r, my $out_w) or croak "pipe: $!";
        my $pid = fork // croak "fork: $!";
        if ($pid == 0) {
            close $go_w; close $out_r;
            sysread($go_r, my $x, 1);    # returns at EOF, when the parent closes
            my $line = eval { $work->($i) } // 'died';
            print $out_w $line;
            close $out_w;
            require POSIX; POSIX::_exit(0);
        }
        close $out_w;
        push @kids, [$pid, $out_r];
    }
    close $go_r; close $go_w;
    my @out;
    for my $k (@kids) {
        my $fh = $k->[1];
        my $line = do { local $/; <$fh> } // 'none';
        waitpid($k->[0], 0);
        push @out, $line;
    }
    return @out;
}

# service_stop('memcached') stops the run's memcached (t/TEST.PL started it;
# its pid is in t/logs/services.pids) and waits until it no longer answers;
# service_start('memcached') starts it again with the same command line and
# records the new pid there, so t/TEST.PL stops it at the end of the run. A
# test that stops it must start it again: later tests need it.
# service_start(NAME, port => P, cmd => [...]) starts a service of the test
# itself (e.g. a second memcached), logging to t/logs/NAME.log, and returns
# whether it listens on 127.0.0.1:P within 20 s; service_stop(NAME) stops it
# and waits for it; what is still running at the end of the test is stopped.
my %own_services;    # name -> pid, of this test
my $services_owner = $$;
sub _spawn {
    my ($name, @cmd) = @_;
    my $log = Apache::Test::vars('t_logs') . "/$name.log";
    require POSIX;
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        POSIX::setsid();    # its own session: no signal of the test's reaches it
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log; open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    return $pid;
}
END {
    if ($$ == $services_owner) {
        local $?;
        service_stop($_) for keys %own_services;
    }
}
sub _pids_file { Apache::Test::vars('t_logs') . '/services.pids' }
sub _read_pids {
    open my $f, '<', _pids_file() or return ();
    return map { /^(\d+) (\S+)$/ ? [$1, $2] : () } <$f>;
}
sub _write_pids {
    my $file = _pids_file();
    open my $f, '>', "$file.tmp" or croak "$file.tmp: $!";
    print $f "$_->[0] $_->[1]\n" for @_;
    close $f;
    rename "$file.tmp", $file or croak "rename $file: $!";
}
sub service_stop {
    my ($name) = @_;
    if (my $own = delete $own_services{$name}) {
        kill TERM => $own;
        waitpid($own, 0);
        return 1;
    }
    croak "service_stop: $name is neither the run's memcached nor the test's" unless $name eq 'memcached';
    my @pids = _read_pids();
    my ($pid) = map { $_->[1] eq $name ? $_->[0] : () } @pids or croak "no $name pid";
    kill TERM => $pid;
    _write_pids(grep { $_->[1] ne $name } @pids);
    return wait_for(sub { !defined memcached_stat('pid') }, 10);
}
sub service_start {
    my ($name, %o) = @_;
    if ($o{cmd}) {
        croak "service_start: $name runs already" if $own_services{$name};
        $own_services{$name} = _spawn($name, @{ $o{cmd} });
        require IO::Socket::INET;
        return wait_for(sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$o{port}", Timeout => 1) }, 20);
    }
    croak "service_start: only memcached, or a service with cmd =>" unless $name eq 'memcached';
    my @cmd = split ' ', ($ENV{AO2_MEMCACHED_CMD} or croak 'AO2_MEMCACHED_CMD is not set');
    # Not this test's: it outlives the test (t/TEST.PL stops it).
    my $pid = _spawn($name, @cmd);
    _write_pids(_read_pids(), [$pid, $name]);
    return wait_for(sub { defined memcached_stat('pid') }, 10);
}

# memcached_stat('get_hits', $port) -> the number, or undef when memcached
# does not answer (default port: the test run's memcached).
sub memcached_stat {
    my ($name, $port) = @_;
    require IO::Socket::INET;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . ($port // port('memcached')), Timeout => 2)
        or return undef;
    print $s "stats\r\n";
    my $value;
    while (my $line = <$s>) {
        $value = $1 if $line =~ /^STAT \Q$name\E (\d+)/;
        last if $line =~ /^END/;
    }
    return $value;
}

sub provider_stats_reset {
    my $res = _ua()->post("$PROVIDER_URL/__stats/reset");
    croak 'provider_stats_reset: ' . $res->status_line unless $res->is_success;
    return json_decode($res->decoded_content);
}

# Direct calls to the provider, bypassing the module (e.g. to get a token the
# module did not issue). Each returns ($status, $json, $response), or just
# $json in scalar context.
#   client_id/client_secret: default api-client/api-secret;
#   auth => 'basic' (default) or 'post'.
sub provider_token_request {
    my (%o) = @_;
    my $id     = delete $o{client_id}     // 'api-client';
    my $secret = delete $o{client_secret} // 'api-secret';
    my $how    = delete $o{auth}          // 'basic';
    my $path   = delete $o{path}          // '/token';
    my @form   = map { $_ => $o{$_} } sort keys %o;
    my %auth   = $how eq 'post' ? () : (basic => [$id, $secret]);
    push @form, (client_id => $id, client_secret => $secret) if $how eq 'post';
    my @r = api_call(POST => "$PROVIDER_URL$path", form => \@form, %auth);
    return wantarray ? @r : $r[1];
}

sub provider_introspect {
    my ($token, %o) = @_;
    return provider_token_request(path => '/token/introspection', token => $token,
        client_id => 'rs-client', client_secret => 'rs-secret', %o);
}

sub provider_revoke {
    my ($token, %o) = @_;
    return provider_token_request(path => '/token/revocation', token => $token, %o);
}

# provider_tokens(%opt) -> ($status, $json, $response): a whole
# authorization-code flow with PKCE straight against the provider, as any
# other OAuth2 client would do it. Options: client_id, client_secret, auth,
# redirect_uri (default: the /badsecret callback, which api-client has
# registered and which the module never handles with a working secret),
# scope, login, password, nonce (undef: none).
sub provider_tokens {
    my (%o) = @_;
    my $id     = $o{client_id}     // 'api-client';
    my $secret = $o{client_secret} // 'api-secret';
    my $redir  = $o{redirect_uri}  // 'http://127.0.0.1:' . port('httpd') . '/badsecret/oauth2/callback';
    my ($verifier, $challenge) = pkce_pair();
    my $state = random_string(16);
    my $url = authorization_url(client_id => $id, redirect_uri => $redir,
        scope => $o{scope}, state => $state, code_challenge => $challenge,
        (exists $o{nonce} ? (nonce => $o{nonce}) : ()));
    my $cb = provider_login($url, login => $o{login} // 'alice',
                            password => $o{password} // 'x');
    my %q = URI->new($cb)->query_form;
    croak "provider_tokens: state mismatch" unless ($q{state} // '') eq $state;
    croak "provider_tokens: no code: $cb" unless $q{code};
    my @r = provider_token_request(client_id => $id, client_secret => $secret,
        auth => $o{auth} // 'basic', grant_type => 'authorization_code',
        code => $q{code}, redirect_uri => $redir, code_verifier => $verifier);
    return wantarray ? @r : $r[1];
}


# --- the second provider: django-oauth-toolkit (t/dot) --------------------------

# dot_url() -> http://127.0.0.1:<port('dot')>, where DOT serves /o/... (the
# issuer is dot_url() . '/o').
sub dot_url { 'http://127.0.0.1:' . port('dot') }

sub _html_attrs {
    my ($tag) = @_;
    my %a;
    while ($tag =~ /([\w-]+)="([^"]*)"/g) {
        my ($k, $v) = (lc $1, $2);
        $v =~ s/&quot;/"/g; $v =~ s/&#x27;|&#39;/'/g; $v =~ s/&lt;/</g;
        $v =~ s/&gt;/>/g;  $v =~ s/&amp;/&/g;
        $a{$k} = $v;
    }
    return \%a;
}

# The named inputs of the form with id $id in $html, as a list of pairs.
sub _form_inputs {
    my ($html, $id) = @_;
    my ($form) = $html =~ m{<form[^>]*id="\Q$id\E"[^>]*>(.*?)</form>}s or return;
    return map { my $a = _html_attrs($_); defined $a->{name} ? ($a->{name}, $a->{value} // '') : () }
           $form =~ /<input\b([^>]*)>/g;
}

# dot_login($authorization_url, %opt) -> the URL DOT redirects the browser to
# (the callback, with code & state or error), NOT fetched. What a browser
# user does at DOT: Django's login form (/accounts/login/, with its CSRF
# token and cookie), then DOT's consent page (/o/authorize/, the
# authorizationForm: its hidden fields and "allow").
#   login => 'alice', password => 'x'
#   consent => 1       press "Authorize" (0: "Cancel", DOT answers
#                      error=access_denied)
#   jar => HTTP::Cookies  reuse a browser session (default: a fresh jar)
# Dies on anything a browser user would see as an error page (a refused
# login shows the login form again).
sub dot_login {
    my ($url, %opt) = @_;
    croak 'dot_login: no authorization URL' unless $url;
    my $consent = exists $opt{consent} ? $opt{consent} : 1;
    my $jar = $opt{jar} || HTTP::Cookies->new;
    my $ua  = _ua(cookie_jar => $jar);
    my $origin = URI->new(dot_url());
    my $logins = 0;
    my $req = HTTP::Request->new(GET => $url);
    for my $step (1 .. $MAX_STEPS) {
        my $res = $ua->request($req);
        my $uri = URI->new($req->uri);
        if ($res->is_redirect) {
            my $loc = $res->header('Location')
                or croak 'dot_login: redirect without Location at ' . $req->uri;
            my $next = URI->new_abs($loc, $req->uri);
            return $next->as_string
                unless lc($next->scheme // '') eq 'http' && ($next->host // '') eq $origin->host
                    && ($next->port // 0) == $origin->port;
            $req = HTTP::Request->new(GET => $next);
            next;
        }
        my $html = $res->decoded_content // '';
        my @fields;
        if ($res->code == 200 && $uri->path eq '/accounts/login/'
            && (my %f = _form_inputs($html, 'loginForm'))) {
            croak 'dot_login: login refused for ' . ($opt{login} // 'alice') if $logins++;
            @fields = (csrfmiddlewaretoken => $f{csrfmiddlewaretoken}, next => $f{next},
                       username => $opt{login} // 'alice', password => $opt{password} // 'x');
        }
        elsif ($res->code == 200 && $uri->path eq '/o/authorize/'
               && (@fields = _form_inputs($html, 'authorizationForm'))) {
            # Of the two submit buttons "Cancel" has no name; "allow" is the other.
            my @pairs;
            while (my ($k, $v) = splice @fields, 0, 2) {
                push @pairs, $k, $v unless $k eq 'allow';
            }
            push @pairs, allow => 'Authorize' if $consent;
            @fields = @pairs;
        }
        else {
            croak sprintf 'dot_login: unexpected %s at %s: %s',
                $res->status_line, $req->uri, _snippet($res);
        }
        my $form = URI->new('http:');
        $form->query_form(\@fields);
        $req = HTTP::Request->new(POST => $uri);
        $req->content_type('application/x-www-form-urlencoded');
        $req->content($form->query);
    }
    croak "dot_login: more than $MAX_STEPS steps";
}

# dot_token_request(%form) -> ($status, $json, $response): a POST straight
# to DOT's token endpoint (path => '/o/introspect/' etc. for another one),
# with HTTP Basic client_id:client_secret (default dot-client/dot-secret).
sub dot_token_request {
    my (%o) = @_;
    my $id     = delete $o{client_id}     // 'dot-client';
    my $secret = delete $o{client_secret} // 'dot-secret';
    my $path   = delete $o{path}          // '/o/token/';
    my @form   = map { $_ => $o{$_} } sort keys %o;
    my @r = api_call(POST => dot_url() . $path, form => \@form, basic => [$id, $secret]);
    return wantarray ? @r : $r[1];
}

# dot_introspect($token) -> DOT's RFC 7662 answer, asked as dot-other (any
# client of DOT may introspect any token).
sub dot_introspect {
    my ($token) = @_;
    return scalar dot_token_request(path => '/o/introspect/', token => $token,
        client_id => 'dot-other', client_secret => 'other-secret');
}

# dot_tokens(%opt) -> ($status, $json, $response): the whole
# authorization-code flow with PKCE straight against DOT, as any other
# client would do it, the code taken at /dotdirect/callback (a path httpd
# never handles). client_id, client_secret (dot-client, dot-secret), scope,
# login, password.
sub dot_tokens {
    my (%o) = @_;
    my $id    = $o{client_id}     // 'dot-client';
    my $redir = 'http://127.0.0.1:' . port('httpd') . '/dotdirect/callback';
    my ($verifier, $challenge) = pkce_pair();
    my $state = random_string(16);
    my $u = URI->new(dot_url() . '/o/authorize/');
    $u->query_form(response_type => 'code', client_id => $id, redirect_uri => $redir,
        scope => $o{scope} // 'openid email', state => $state, nonce => random_string(16),
        code_challenge => $challenge, code_challenge_method => 'S256');
    my $cb = dot_login($u->as_string, login => $o{login} // 'alice', password => $o{password} // 'x');
    my %q = URI->new($cb)->query_form;
    croak 'dot_tokens: state mismatch' unless ($q{state} // '') eq $state;
    croak "dot_tokens: no code: $cb" unless $q{code};
    my @r = dot_token_request(client_id => $id, client_secret => $o{client_secret} // 'dot-secret',
        grant_type => 'authorization_code', code => $q{code}, redirect_uri => $redir,
        code_verifier => $verifier);
    return wantarray ? @r : $r[1];
}


# --- load and extra servers (t/faults, multi-server tests) ---------------------

# wrk_start(url => ..., bearer => 'tok', seconds => 5, connections => 8,
#           threads => 2, close => 1 (a new connection per request),
#           tokens_file => F (a Bearer token per request, rotating over F's
#           lines: bench/wrk/rotate.lua)) -> handle; wrk runs in the background on 127.0.0.1.
# wrk_result($handle) waits for it and returns {requests, non2xx, errors
# (socket errors: connect, read, write, timeout), rps, text}.
sub wrk_start {
    my (%o) = @_;
    require POSIX;
    croak 'wrk_start: url' unless $o{url} && $o{url} =~ m{^http://127\.0\.0\.1:};
    require File::Temp;
    my ($fh, $out) = File::Temp::tempfile('ao2-wrk-XXXXXX', TMPDIR => 1, UNLINK => 1);
    my @cmd = ('wrk', '-t', $o{threads} // 2, '-c', $o{connections} // 8,
               '-d', ($o{seconds} // 5) . 's', '--timeout', ($o{timeout} // 10) . 's',
               ($o{bearer} ? ('-H', "Authorization: Bearer $o{bearer}") : ()),
               ($o{close} ? ('-H', 'Connection: close') : ()),
               ($o{tokens_file} ? ('-s', "$TOP/bench/wrk/rotate.lua") : ()), $o{url});
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        if ($o{tokens_file}) {
            $ENV{BENCH_TOKEN_FILE} = $o{tokens_file};
            $ENV{BENCH_LUA_DIR}    = "$TOP/bench/wrk";
        }
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out; open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    return { pid => $pid, out => $out, fh => $fh };
}

sub wrk_result {
    my ($h) = @_;
    waitpid($h->{pid}, 0);
    open my $f, '<', $h->{out} or croak "$h->{out}: $!";
    my $text = do { local $/; <$f> } // '';
    my %r = (text => $text, non2xx => 0, errors => 0);
    $r{requests} = $1 if $text =~ /(\d+) requests in/;
    $r{non2xx}   = $1 if $text =~ /Non-2xx or 3xx responses: (\d+)/;
    $r{rps}      = $1 if $text =~ /Requests\/sec:\s+([\d.]+)/;
    if ($text =~ /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/) {
        $r{errors} = $1 + $2 + $3 + $4;
    }
    return \%r;
}

# shared_api_conf([LOCATION_TEXT]) -> the provider testop and the API
# location /jsonapiext (client api-client, database "shared", Bearer
# protected, proxied to the backend) that the multi-server tests give each
# of their servers, with LOCATION_TEXT (lines) inside the location.
sub shared_api_conf {
    my ($more) = @_;
    my $p = provider_url();
    $more //= '';
    $more .= "\n" if length $more && $more !~ /\n\z/;
    return <<"CONF";
ApiOAuth2Provider testop issuer=$p authorize=$p/auth token=$p/token revoke=$p/token/revocation userinfo=$p/me introspect=$p/token/introspection introspect_token_type=required
<Location /jsonapiext>
    ApiOAuth2API on
    ApiOAuth2Client testop api-client api-secret "scope=openid email offline_access"
${more}    ApiOAuth2OdooDatabase shared
    AuthType api-oauth2
    Require valid-user
    ProxyPass http://127.0.0.1:@{[port('backend')]}/jsonapiext
</Location>
CONF
}

# httpd_core_modules([MPM_TEXT]) -> the LoadModule lines every scratch
# httpd of the suite needs: the event MPM (then MPM_TEXT, e.g. StartServers
# 1), core authn/authz, mod_proxy with proxy_http.
sub httpd_core_modules {
    my ($mpm) = @_;
    my $mods = '/usr/lib/apache2/modules';
    $mpm //= '';
    $mpm .= "\n" if length $mpm && $mpm !~ /\n\z/;
    return join '', "LoadModule mpm_event_module $mods/mod_mpm_event.so\n", $mpm,
        map { "LoadModule ${_}_module $mods/mod_$_.so\n" }
        qw(authz_core authn_core authz_user proxy proxy_http);
}

# extra_httpd(port => P, conf => TEXT, dir => DIR [, mpm => TEXT]) starts
# one more httpd on 127.0.0.1:P with the global lines every extra server
# needs (ServerRoot, Listen, PidFile, ErrorLog, User, Mutex, the MPM, with
# the mpm TEXT after it (e.g. StartServers 1), and the core auth and proxy
# modules) and TEXT; it is stopped at the end of the test (or by
# extra_httpd_stop). Dies with the error log when it does not come up.
# Returns the error log path. extra_httpd_conf(the same) only writes that
# configuration, and returns its path (for an httpd -t first).
my %extra;    # port -> httpd parent pid
my $extra_owner = $$;
sub extra_httpd_conf {
    my (%o) = @_;
    my ($port, $dir) = @o{qw(port dir)};
    my $user = $> == 0 ? "User nobody\nGroup nogroup\n" : '';
    my $conf = "$dir/httpd-$port.conf";
    open my $fh, '>', $conf or croak "$conf: $!";
    print $fh <<"CONF", $o{conf};
ServerRoot $dir
ServerName 127.0.0.1:$port
PidFile $dir/httpd-$port.pid
ErrorLog $dir/error-$port.log
LogLevel info api_oauth2:debug
Listen 127.0.0.1:$port
${user}Mutex file:$dir default
@{[httpd_core_modules($o{mpm})]}
CONF
    close $fh;
    return $conf;
}
sub extra_httpd {
    my (%o) = @_;
    my ($port, $dir) = @o{qw(port dir)};
    my $conf = extra_httpd_conf(%o);
    system(httpd_bin(), '-f', $conf, '-k', 'start') == 0
        or croak "httpd on $port did not start:\n" . `cat $dir/error-$port.log`;
    require IO::Socket::INET;
    wait_for(sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1) }, 20)
        or croak "httpd on $port does not listen:\n" . `cat $dir/error-$port.log`;
    # By pid: the test's temporary directory (and this config) may be gone
    # by the time END stops it.
    wait_for(sub { -s "$dir/httpd-$port.pid" }, 10);
    open my $pf, '<', "$dir/httpd-$port.pid" or croak "httpd-$port.pid: $!";
    ($extra{$port}) = <$pf> =~ /(\d+)/;
    return "$dir/error-$port.log";
}

sub extra_httpd_stop {
    my ($port) = @_;
    my $pid = delete $extra{$port} or return;
    kill TERM => $pid;
    require IO::Socket::INET;
    wait_for(sub { !IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1) }, 10);
}

END {
    if ($$ == $extra_owner) {
        local $?;
        extra_httpd_stop($_) for keys %extra;
    }
}

# metrics_scrape($path = '/ao2-metrics') -> {st, res, text, v, bad, types}:
# the metrics page checked line by line as Prometheus text format 0.0.4:
# bad lists every line that is not a HELP, a TYPE or a sample of a family
# whose HELP and TYPE came before it (histogram samples: _bucket, _sum,
# _count of a histogram); v maps 'name{labels}' to the value, types the
# family to its type.
sub metrics_scrape {
    my ($path) = @_;
    my ($st, undef, $res) = api_call(GET => $path // '/ao2-metrics');
    my $text = $res->decoded_content // '';
    my (%v, %help, %type, @bad);
    my $label = qr/[a-zA-Z_]\w*="(?:[^"\\\n]|\\[\\"n])*"/;
    for my $line (split /\n/, $text) {
        if ($line =~ /^# HELP ([a-zA-Z_:][\w:]*) \S/) { $help{$1} = 1; next }
        if ($line =~ /^# TYPE ([a-zA-Z_:][\w:]*) (counter|gauge|histogram)$/) {
            $type{$1} = $2;
            next;
        }
        if ($line =~ /^([a-zA-Z_:][\w:]*)((?:\{$label(?:,$label)*\})?) (-?\d+(?:\.\d+)?)$/) {
            my ($name, $labels, $val) = ($1, $2, $3);
            my $fam = $name;
            $fam =~ s/_(?:bucket|sum|count)$// if !$type{$name};
            push @bad, "no HELP/TYPE before: $line" unless $help{$fam} && $type{$fam};
            push @bad, "not a histogram: $line"
                if $fam ne $name && ($type{$fam} // '') ne 'histogram';
            $v{"$name$labels"} = $val;
            next;
        }
        push @bad, $line;
    }
    return { st => $st, res => $res, text => $text, v => \%v, bad => \@bad,
             types => \%type };
}

# httpd_children_rss($pidfile[, $field]) -> { pid => KB } of the children of
# the httpd whose parent pid is in $pidfile; $field is a /proc/PID/status
# line, VmRSS by default (RssAnon leaves out shared memory a child touches
# for the first time, which VmRSS counts as growth).
sub httpd_children_rss {
    my ($pidfile, $field) = @_;
    $field //= 'VmRSS';
    open my $f, '<', $pidfile or return {};
    my ($ppid) = <$f> =~ /(\d+)/;
    my %rss;
    for my $stat (glob '/proc/[0-9]*/status') {
        open my $s, '<', $stat or next;
        my $text = do { local $/; <$s> };
        next unless $text =~ /^PPid:\s+(\d+)/m && $1 == $ppid;
        my ($pid) = $text =~ /^Pid:\s+(\d+)/m;
        $rss{$pid} = $1 if $text =~ /^\Q$field\E:\s+(\d+)/m;
    }
    return \%rss;
}

# store_key($path) -> $path: a new ApiOAuth2StoreKey file of 32 random bytes,
# mode 0600 (what the start-up check asks of a key), for a test's own servers.
sub store_key {
    my ($path) = @_;
    open my $k, '>', $path or croak "store_key: $path: $!";
    print $k map { chr int rand 256 } 1 .. 32;
    close $k or croak "store_key: $path: $!";
    chmod 0600, $path or croak "store_key: chmod $path: $!";
    return $path;
}

# offline_configtest(dir => DIR, tag => NAME, head => TEXT, site => TEXT)
# -> (exit status, output, [connect() lines]): "httpd -t" on a scratch
# configuration (ServerRoot DIR, the core modules, then TEXT of head, then an
# Include of site written to DIR/NAME.site.conf, so httpd names the site's
# own lines), in a network namespace of its own (no interface but a loopback
# that is down) under strace. The connect() lines are those to an IPv4 or
# IPv6 address other than the unspecified one: a configuration that fetched
# something (discovery, JWKS, DNS) at -t has some.
sub offline_configtest {
    my (%o) = @_;
    my ($dir, $tag) = @o{qw(dir tag)};
    my $site_file = "$dir/$tag.site.conf";
    open my $s, '>', $site_file or croak "$site_file: $!";
    print $s $o{site};
    close $s;
    my $conf = "$dir/$tag.httpd.conf";
    open my $c, '>', $conf or croak "$conf: $!";
    print $c "ServerRoot $dir\nServerName localhost\nPidFile $dir/httpd.pid\n",
        "ErrorLog $dir/error.log\nListen 127.0.0.1:1\n", httpd_core_modules(),
        $o{head} // '', "Include $site_file\n";
    close $c;
    my $trace = "$dir/$tag.trace";
    my $httpd = httpd_bin();
    my $out = `unshare --net strace -f -qq -e trace=connect -o $trace $httpd -t -f $conf 2>&1`;
    my $rc = $? >> 8;
    # APR's IPv6 probe and glibc's source address selection for "*:443"
    # connect UDP sockets to the unspecified address ("::", 0.0.0.0): that
    # sends nothing. A DNS query or an HTTP fetch connects elsewhere.
    my @inet;
    if (open my $t, '<', $trace) {
        @inet = grep { /connect\(.*sa_family=AF_INET6?\b/
                       && !/inet_pton\(AF_INET6, "::"|inet_addr\("0\.0\.0\.0"\)/ } <$t>;
        chomp @inet;
    } else {
        @inet = ('strace wrote no trace');
    }
    return ($rc, $out, \@inet);
}

1;
