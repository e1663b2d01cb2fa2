# Without ApiOAuth2RedirectURI the redirect URI comes from the server's own
# name (ServerName, scheme, port), never from the request's Host header, and
# a start-up notice says which URI was derived for each API location.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Apache::TestRequest;
use AO2Test;
use URI;

plan tests => 6;

sub redirect_of {
    my ($url, %opt) = @_;
    my ($st, $auth) = api_call(POST => $url,
        json => { client_id => 'api-client', client_user_identity => 'redir-1' },
        basic => ['api-client', 'api-secret'], %opt);
    return undef unless $st == 200;
    return { URI->new($auth->{authorization_url})->query_form }->{redirect_uri};
}

my $main = 'http://127.0.0.1:' . port('httpd') . '/jsonapiext/oauth2/callback';
is(redirect_of('/jsonapiext/oauth2/provider/authorize', headers => [Host => 'evil.example']),
   $main, 'Host: evil.example gives the ServerName\'s redirect URI');
is(redirect_of('/jsonapiext/oauth2/provider/authorize',
               headers => [Host => '127.0.0.1:1', 'X-Forwarded-Host' => 'evil.example']),
   $main, 'another port in Host and X-Forwarded-Host change nothing either');

Apache::TestRequest::module('ao2_short_state');
my $vhost = Apache::TestRequest::hostport();
my $short = "http://$vhost/shortapi/oauth2/callback";
is(redirect_of("http://$vhost/shortapi/oauth2/provider/authorize",
               headers => [Host => 'evil.example']),
   $short, 'in a virtual host: that virtual host\'s ServerName');

my $log = error_log_text();
like($log, qr/AO2E0009: \/jsonapiext \(\S+:\d+\): redirect URI \Q$main\E,/,
     'start-up notice for /jsonapiext');
like($log, qr/AO2E0009: \/shortapi \(\S+:\d+\): redirect URI \Q$short\E,/,
     'start-up notice for the virtual host\'s /shortapi');
like($log, qr/\[api_oauth2:notice\] [^\n]*AO2E0009/, 'at level notice');
