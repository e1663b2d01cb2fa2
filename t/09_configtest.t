# A bad configuration stops "apachectl -t" with a message naming the
# directive and the file line.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use AO2Test;

my $top = "$FindBin::Bin/..";
my $module = "$top/.libs/mod_api_oauth2.so";
my $dir = tempdir(CLEANUP => 1);
open my $k, '>', "$dir/key" or die; print $k 'k' x 32; close $k;
chmod 0600, "$dir/key";
open $k, '>', "$dir/short" or die; print $k 'k' x 8; close $k;

my $head = <<"CONF";
ServerRoot $dir
ServerName localhost
PidFile $dir/httpd.pid
ErrorLog $dir/error.log
Listen 127.0.0.1:1
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule api_oauth2_module $module
OAuth2TokenStore dbm:$dir/tokens
CONF
my $provider = 'OAuth2Provider p authorize=https://op.example/auth token=https://op.example/token';
my $location = qq{<Location /api>\nOAuth2API on\nOAuth2Client p id secret "scope=openid"\n</Location>};

my @cases = (
    [ 'a good configuration', "OAuth2StoreKey file:$dir/key\n$provider\n$location", undef ],
    [ 'unknown provider name', "$provider\n<Location /api>\nOAuth2API on\nOAuth2Client q id secret\n</Location>",
      qr/OAuth2Client: unknown provider "q"/ ],
    [ 'missing client secret', "$provider\n<Location /api>\nOAuth2API on\nOAuth2Client p id\n</Location>",
      qr/OAuth2Client needs PROVIDER CLIENT_ID CLIENT_SECRET/ ],
    [ 'bad URL', "OAuth2Provider p authorize=ftp://x/a token=https://op/t",
      qr/OAuth2Provider: authorize "ftp:\/\/x\/a" is not an absolute http\(s\) URL/ ],
    [ 'unreadable key', "OAuth2StoreKey file:$dir/missing",
      qr/OAuth2StoreKey: cannot read key file/ ],
    [ 'short key', "OAuth2StoreKey file:$dir/short",
      qr/OAuth2StoreKey: key file .* has 8 bytes/ ],
    [ 'unknown store type', "OAuth2TokenStore nosuch:/x",
      qr/OAuth2TokenStore: unknown store type "nosuch"/ ],
    [ 'socache provider not loaded', "OAuth2TokenStore socache:redis:127.0.0.1:6379",
      qr/OAuth2TokenStore: .*mod_socache_redis/ ],
    [ 'API location without a client', "$provider\n<Location /api>\nOAuth2API on\n</Location>",
      qr/OAuth2API on: <Location \/api> has no OAuth2Client/ ],
    [ 'unknown provider key', "OAuth2Provider p authorize=https://a/b token=https://a/t colour=blue",
      qr/OAuth2Provider p: unknown key "colour"/ ],
    [ 'discovery not yet supported', "OAuth2Provider p issuer=https://a",
      qr/OAuth2Provider p: OIDC discovery/ ],
    [ 'bad timeout', "OAuth2ProviderTimeout abc",
      qr/OAuth2ProviderTimeout: "abc" is not a whole number/ ],
    [ 'OAuth2API outside a Location', "$provider\n<Directory /tmp>\nOAuth2API on\n</Directory>",
      qr/OAuth2API on belongs in a <Location>/ ],
);

plan tests => 2 * @cases;

my $n = 0;
for my $c (@cases) {
    my ($name, $body, $expect) = @$c;
    my $file = "$dir/case" . $n++ . ".conf";
    open my $fh, '>', $file or die;
    print $fh $head, $body, "\n";
    close $fh;
    my $httpd = httpd_bin();
    my $out = `$httpd -t -f $file 2>&1`;
    my $rc = $? >> 8;
    if (!defined $expect) {
        is($rc, 0, "$name passes -t") or diag $out;
        like($out, qr/Syntax OK/, "$name: Syntax OK");
        next;
    }
    isnt($rc, 0, "$name fails -t");
    like($out, qr/line \d+ of \Q$file\E:\s*$expect/,
         "$name: message names the file line and the directive")
        or diag $out;
}
