# The client examples of docs/clients.md, run end to end against the suite's
# httpd, provider and backend: docs/clients/python_requests.py (Python
# requests) and docs/clients/curl.sh (curl and jq). Their "browser" is
# t/bin/browser, which logs in and consents at the provider's pages and
# opens the callback. Each must print every step with the expected answer:
# the token information, the API reached as the end user's login, the
# refresh (inside the refresh window of the token information's refresh)
# answering the tokens in use, {"revoked": true}, then 401 for the token.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use AO2Test;

my $top = "$FindBin::Bin/..";
my $dir = tempdir(CLEANUP => 1);
my $api = base_url() . '/jsonapiext';
my $python = '/usr/bin/python3';    # Debian's, with python3-requests

my @examples = (
    [ python => $python, "$top/docs/clients/python_requests.py" ],
    [ curl   => "$top/docs/clients/curl.sh" ],
);
my @steps = ('authorize', 'token information', 'api', 'refresh', 'api after refresh',
             'revoke', 'api after revoke');

plan tests => @examples * 25 + 3;

# run_example([command...], user, login, secret) -> (exit status, {step =>
# [status, answer]}, stdout, stderr, browser page). Bounded by timeout(1):
# a login that never completes would make an example wait the state's
# whole lifetime.
sub run_example {
    my ($cmd, $user, $login, $secret) = @_;
    my $page = "$dir/$user.page";
    my $err  = "$dir/$user.err";
    local %ENV = %ENV;
    delete @ENV{qw(http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY)};
    $ENV{CLIENT_SECRET}     = $secret;
    $ENV{BROWSER}           = "$top/t/bin/browser";
    $ENV{AO2_BROWSER_LOGIN} = $login;
    $ENV{AO2_BROWSER_PAGE}  = $page;
    open my $out, '-|', 'sh', '-c', 'exec timeout 120 "$@" 2>"$0" </dev/null',
        $err, @$cmd, $api, 'api-client', $user, 'res.partner'
        or die "run @$cmd: $!";
    my $stdout = do { local $/; <$out> } // '';
    close $out;
    my $rc = $? >> 8;
    my %step;
    for my $line (split /\n/, $stdout) {
        my ($name, $status, $json) = $line =~ /^([a-z ]+): (\d{3}) (.*)$/ or next;
        $step{$name} = [$status, json_decode($json)];
    }
    my $slurp = sub { open my $f, '<', $_[0] or return ''; local $/; <$f> // '' };
    return ($rc, \%step, $stdout, $slurp->($err), $slurp->($page));
}

for my $ex (@examples) {
    my ($name, @cmd) = @$ex;
    my $user  = "example-$name";
    my $login = "ex$name";
    my ($rc, $step, $stdout, $stderr, $page) = run_example(\@cmd, $user, $login, 'api-secret');
    is($rc, 0, "$name: the example runs to its end") or diag("stdout:\n$stdout\nstderr:\n$stderr");
    is_deeply([grep { $step->{$_} } @steps], \@steps, "$name: prints every step");
    my %status = map { $_ => ($step->{$_} // [0])->[0] } @steps;
    my %json   = map { $_ => ($step->{$_} // [0, {}])->[1] // {} } @steps;

    is($status{authorize}, 200, "$name: authorize 200");
    like($json{authorize}{authorization_url} // '', qr{^\Q@{[provider_url()]}\E/auth\?},
         "$name: the authorization URL is the provider's");

    # The browser got the token information from the callback.
    my $shown = json_decode($page) // {};
    is($shown->{login}, "$login\@example.com", "$name: the browser shows the token information");

    # The example learnt the token information from /oauth2/token.
    my $info = $json{'token information'};
    is($status{'token information'}, 200, "$name: token information 200");
    is_deeply([grep { !defined $info->{$_} }
               qw(access_token refresh_token token_type expires_in expires_at scope id_token db login)],
              [], "$name: token information has every field");
    is($info->{token_type}, 'Bearer', "$name: a Bearer token");
    is($info->{login}, "$login\@example.com", "$name: the end user's login");
    isnt($info->{access_token}, $shown->{access_token} // '',
         "$name: a fresh access token, not the one the browser saw");

    # The API call reached the backend as that login.
    is($status{api}, 200, "$name: API 200");
    is($json{api}{path}, '/jsonapiext/res.partner', "$name: the backend got the API call");
    is($json{api}{headers}{'remote-user'}, "$login\@example.com", "$name: as the end user's login");
    is($json{api}{headers}{'x-odoo-db'}, 'testdb', "$name: with the database");

    # Refresh, a moment after the token information's own refresh: inside
    # its refresh window, the tokens in use, which work.
    my $fresh = $json{refresh};
    is($status{refresh}, 200, "$name: refresh 200");
    ok(length($fresh->{access_token} // '') > 10 && $fresh->{access_token} eq ($info->{access_token} // ''),
       "$name: inside the refresh window, the refresh answered the access token in use");
    is($status{'api after refresh'}, 200, "$name: API 200 with the new token");
    is($json{'api after refresh'}{headers}{'remote-user'}, "$login\@example.com",
       "$name: as the same login");

    # Revoke: revoked, and every token of the flow is refused from then on.
    is($status{revoke}, 200, "$name: revoke 200");
    is_deeply($json{revoke}, { revoked => JSON::PP::true() }, "$name: {\"revoked\": true}");
    is($status{'api after revoke'}, 401, "$name: the example sees 401 after the revoke");
    # What docs/clients.md says it shows: the JSON refusal and the challenge.
    is(ref $json{'api after revoke'} eq 'HASH' ? $json{'api after revoke'}{error} : undef,
       'invalid_token', "$name: the refusal is JSON: invalid_token");
    like($stdout, qr/^api after revoke: WWW-Authenticate: Bearer realm="Test API", error="invalid_token"$/m,
         "$name: prints the challenge");
    my ($st, undef, $res) = api_call(GET => '/jsonapiext/res.partner', bearer => $fresh->{access_token} // 'x');
    is($st, 401, "$name: the revoked token is refused");
    like($res->header('WWW-Authenticate') // '', qr/error="invalid_token"/, "$name: as invalid_token");
}

# A wrong secret stops the example at the first step: the credentials it
# sends are the ones checked.
my ($rc, $step, $stdout, $stderr) = run_example(['/usr/bin/python3', "$top/docs/clients/python_requests.py"],
                                                'example-badsecret', 'exbad', 'wrong-secret');
isnt($rc, 0, 'a wrong client secret: the example fails');
is(($step->{authorize} // [0])->[0], 401, 'at authorize, with 401');
is(($step->{authorize} // [0, {}])->[1]{error}, 'invalid_client', 'invalid_client');
