# Client authentication on the endpoints (RFC 6749 §2.3.1) and a client
# secret the provider refuses.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use URI;

plan tests => 35;

my $path = '/jsonapiext/oauth2/provider/authorize';
my %body = (client_id => 'api-client', client_user_identity => 'auth-1');

my ($st, $e, $res) = api_call('POST', $path, json => \%body,
                              basic => ['api-client', 'wrong']);
is($st, 401, 'wrong secret in Basic is 401');
is($e->{error}, 'invalid_client', 'invalid_client');
like($res->header('WWW-Authenticate') // '', qr/^Basic /,
     'Basic challenge after a Basic attempt');

($st, $e) = api_call('POST', $path, json => { %body, client_secret => 'api-secret' });
is($st, 200, 'client_secret in the JSON body works');
($st, $e) = api_call('POST', $path, form => { %body, client_secret => 'api-secret' });
is($st, 200, 'client_secret in a form body works');
# A secret in the URL ends up in access logs: refused, even when right.
($st, $e) = api_call('POST', $path, query => { client_secret => 'api-secret' }, json => \%body);
is($st, 400, 'client_secret in the query string is 400');
is($e->{error}, 'invalid_request', '... invalid_request');
like($e->{error_description}, qr/client_secret must not be sent in the URL/, '... saying why');
($st, $e) = api_call('POST', $path, json => { %body, client_secret => 'nope' });
is($st, 401, 'wrong client_secret in the body is 401');

($st, $e, $res) = api_call('POST', $path, json => \%body);
is($st, 401, 'no client authentication is 401');
is($e->{error}, 'invalid_client', 'invalid_client');
like($res->header('WWW-Authenticate') // '', qr/^Basic realm="/, '... with a Basic challenge');
# No credentials at all: what docs/endpoints.md promises (RFC 6749 §5.2).
($st, $e, $res) = api_call('POST', $path, json => { client_user_identity => 'auth-1' });
is($st, 401, 'no client credentials at all is 401');
is($e->{error}, 'invalid_client', '... invalid_client');
like($res->header('WWW-Authenticate') // '', qr/^Basic realm="/, '... with a Basic challenge');

($st, $e) = api_call('POST', $path,
    json => { %body, client_secret => 'api-secret' },
    basic => ['api-client', 'api-secret']);
is($st, 400, 'two authentication methods is 400');

($st, $e) = api_call('POST', $path,
    json => { client_id => 'ghost', client_user_identity => 'x' },
    basic => ['ghost', 'api-secret']);
is($st, 401, 'unknown client_id is 401');
is($e->{error}, 'invalid_client', 'unknown client: invalid_client');

($st, $e) = api_call('POST', $path,
    json => { client_id => 'other', client_user_identity => 'x' },
    basic => ['api-client', 'api-secret']);
is($st, 400, 'client_id differing from the Basic user is 400');

($st, $e) = api_call('POST', '/jsonapiext/oauth2/token',
    json => { client_user_identity => 'auth-1' },
    basic => ['api-client', 'wrong']);
is($st, 401, 'token endpoint checks the secret too');
($st, $e) = api_call('POST', '/jsonapiext/oauth2/revoke',
    json => { client_user_identity => 'auth-1' },
    basic => ['api-client', 'wrong']);
is($st, 401, 'revoke endpoint checks the secret too');

# The provider refuses the secret configured in /badsecret.
(my $s, my $auth) = api_call('POST', '/badsecret/oauth2/provider/authorize',
    json => { client_id => 'api-client', client_user_identity => 'bad-1' },
    basic => ['api-client', 'WRONG-secret']);
is($s, 200, 'authorize does not contact the provider');
my $callback = provider_login($auth->{authorization_url}, login => 'gina');
($st, $e) = api_call('GET', URI->new($callback)->path_query);
is($st, 401, 'provider refusal of our client credentials is passed on');
is($e->{error}, 'invalid_client', 'with the provider\'s code');

# One rule for HTTP Basic: id and secret are form-encoded first (RFC 6749
# §2.3.1), and the module form-decodes them. The secret of special-client
# holds "+", "%" and ":".
my $special = 'pl+us%25:colon';
my $spath = '/specialapi/oauth2/provider/authorize';
my %sbody = (client_user_identity => 'special-1');
($st, $e) = api_call('POST', $spath, json => \%sbody,
                     basic => ['special-client', 'pl%2Bus%2525%3Acolon']);
is($st, 200, 'a form-encoded secret in Basic works');
($st, $e, $res) = api_call('POST', $spath, json => \%sbody, basic => ['special-client', $special]);
is($st, 401, 'the same secret raw in Basic is refused: "+" decodes to a space');
is($e->{error}, 'invalid_client', '... invalid_client');
($st) = api_call('POST', $spath, json => { %sbody, client_id => 'special-client',
                                           client_secret => $special });
is($st, 200, 'as a body parameter the secret is sent as it is');
($st) = api_call('POST', $path, json => \%body, basic => ['api-client', 'api-secret']);
is($st, 200, 'a value with nothing to encode is the same raw or encoded');

# The documented commands, followed literally, with this client.
my $base = base_url();
sub authorize_command {
    my ($file, $lang) = @_;
    open my $fh, '<', "$FindBin::Bin/../$file" or die "$file: $!";
    my $text = do { local $/; <$fh> };
    my @blocks = $text =~ /^```$lang\n(.*?)^```/msg;
    for my $block (@blocks) {
        if ($lang eq 'sh') {
            my ($cmd) = $block =~ /^(curl (?:[^\n]*\\\n)*[^\n]*provider\/authorize[^\n]*)$/m or next;
            # With the one-line functions and the variables the block sets.
            return join "\n", ($block =~ /^(\w+\(\) \{.*\}|[A-Z_]+=.*)$/mg), $cmd;
        }
        my ($code) = $block =~ /\A(.*?^r = requests\.post\([^\n]*provider\/authorize[^\n]*\n)/ms or next;
        return $code . "print(r.status_code)\n";
    }
    return undef;
}
sub run_documented {
    my ($cmd, @argv) = @_;
    $cmd =~ s{https?://erp\.example\.com/jsonapiext}{$base/specialapi}g;
    $cmd =~ s{--resolve \S+ }{}g;
    $cmd =~ s/CLIENT_ID/special-client/g;
    $cmd =~ s/CLIENT_SECRET/$special/g;
    local %ENV = %ENV;
    delete @ENV{qw(http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY)};
    open my $out, '-|', @argv, $cmd or die "@argv: $!";
    my $text = do { local $/; <$out> } // '';
    close $out;
    return $text;
}
for my $doc (['docs/endpoints.md', 'sh'], ['README.md', 'sh'], ['docs/endpoints.md', 'python']) {
    my ($file, $lang) = @$doc;
    my $cmd = authorize_command($file, $lang);
    ok($cmd, "${file} has a $lang authorize example") or next;
    my $out = $lang eq 'sh'
        ? run_documented("API=$base/specialapi\n$cmd", 'bash', '-c')
        : run_documented($cmd, '/usr/bin/python3', '-c');
    like($out, $lang eq 'sh' ? qr/"authorization_url"/ : qr/^200$/m,
         "${file}'s $lang example authorizes with a secret holding + % :") or diag $out;
}
