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
# Key files a worker could replace, or that are not files.
open $k, '>', "$dir/open.key" or die; print $k 'k' x 32; close $k;
chmod 0602, "$dir/open.key";
symlink "$dir/key", "$dir/link.key" or die;
open $k, '>', "$dir/readable.key" or die; print $k 'k' x 32; close $k;
chmod 0644, "$dir/readable.key";

my $head = <<"CONF";
ServerRoot $dir
ServerName localhost
PidFile $dir/httpd.pid
ErrorLog $dir/error.log
Listen 127.0.0.1:1
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule api_oauth2_module $module
ApiOAuth2TokenStore dbm:$dir/tokens
CONF
my $provider = 'ApiOAuth2Provider p authorize=https://op.example/auth token=https://op.example/token';
my $location = qq{<Location /api>\nApiOAuth2API on\nApiOAuth2Client p id secret "scope=openid"\n</Location>};

my @cases = (
    [ 'a good configuration', "ApiOAuth2StoreKey file:$dir/key\n$provider\n$location", undef ],
    [ 'unknown provider name', "$provider\n<Location /api>\nApiOAuth2API on\nApiOAuth2Client q id secret\n</Location>",
      qr/ApiOAuth2Client: unknown provider "q"/ ],
    [ 'missing client secret', "$provider\n<Location /api>\nApiOAuth2API on\nApiOAuth2Client p id\n</Location>",
      qr/ApiOAuth2Client needs PROVIDER CLIENT_ID CLIENT_SECRET/ ],
    [ 'bad URL', "ApiOAuth2Provider p authorize=ftp://x/a token=https://op/t",
      qr/ApiOAuth2Provider: authorize "ftp:\/\/x\/a" is not an absolute http\(s\) URL/ ],
    [ 'unreadable key', "ApiOAuth2StoreKey file:$dir/missing",
      qr/ApiOAuth2StoreKey: cannot read key file/ ],
    [ 'key writable by everyone', "ApiOAuth2StoreKey file:$dir/open.key",
      qr/ApiOAuth2StoreKey: \Q$dir\E\/open\.key is writable by everyone \(mode 0602, owner root\)/ ],
    [ 'key behind a symbolic link', "ApiOAuth2StoreKey file:$dir/link.key",
      qr/ApiOAuth2StoreKey: \Q$dir\E\/link\.key is a symbolic link; name the file itself/ ],
    [ 'short key', "ApiOAuth2StoreKey file:$dir/short",
      qr/ApiOAuth2StoreKey: key file .* has 8 bytes/ ],
    [ 'unknown store type', "ApiOAuth2TokenStore nosuch:/x",
      qr/ApiOAuth2TokenStore: unknown store type "nosuch"/ ],
    [ 'socache provider not loaded', "ApiOAuth2TokenStore socache:redis:127.0.0.1:6379",
      qr/ApiOAuth2TokenStore: .*mod_socache_redis/ ],
    [ 'auth_params= naming a parameter the module sets', "$provider\n<Location /api>\nApiOAuth2API on\nApiOAuth2Client p id secret auth_params=state=x\n</Location>",
      qr/ApiOAuth2Client p id: auth_params=: state is set by the module itself/ ],
    [ 'auth_params= badly encoded', "$provider\n<Location /api>\nApiOAuth2API on\nApiOAuth2Client p id secret auth_params=x=%zz\n</Location>",
      qr/ApiOAuth2Client p id: auth_params=: the value of x is badly percent-encoded/ ],
    [ 'API location without a client', "$provider\n<Location /api>\nApiOAuth2API on\n</Location>",
      qr/ApiOAuth2API on: <Location \/api> has no ApiOAuth2Client/ ],
    [ 'unknown provider key', "ApiOAuth2Provider p authorize=https://a/b token=https://a/t colour=blue",
      qr/ApiOAuth2Provider p: unknown key "colour" \(issuer, authorize, token, revoke, userinfo, introspect, jwks, auth, introspect_token_type, leeway, token_validation\)/ ],
    [ 'bad option value lists the allowed ones', "ApiOAuth2Provider p authorize=https://a/b token=https://a/t auth=secret",
      qr/ApiOAuth2Provider p: auth=secret is not one of client_secret_basic, client_secret_post/ ],
    [ 'bad introspect_token_type', "ApiOAuth2Provider p authorize=https://a/b token=https://a/t introspect_token_type=maybe",
      qr/ApiOAuth2Provider p: introspect_token_type=maybe is not one of optional, required/ ],
    [ 'bad byte count', "ApiOAuth2ProviderMaxResponse 12",
      qr/ApiOAuth2ProviderMaxResponse: "12" is not a byte count from 1024 to 16777216/ ],
    # Discovery happens at first use, never at -t: an issuer nobody
    # answers for (port 9) passes the configuration test offline.
    [ 'issuer= alone (discovery)', "ApiOAuth2StoreKey file:$dir/key\nApiOAuth2Provider p issuer=http://127.0.0.1:9/realms/x\n$location", undef ],
    [ 'neither issuer nor endpoints', "ApiOAuth2Provider p revoke=https://a/r",
      qr/ApiOAuth2Provider p: give issuer= \(OpenID Connect discovery\) or both authorize= and token=/ ],
    [ 'bad leeway', "ApiOAuth2Provider p issuer=https://a leeway=-1",
      qr/ApiOAuth2Provider: "-1" is not a whole number of seconds from 0 to 600/ ],
    [ 'bad jwks URL', "ApiOAuth2Provider p issuer=https://a jwks=file:///etc/passwd",
      qr/ApiOAuth2Provider: jwks "file:\/\/\/etc\/passwd" is not an absolute http\(s\) URL/ ],
    [ 'bad timeout', "ApiOAuth2ProviderTimeout abc",
      qr/ApiOAuth2ProviderTimeout: "abc" is not a whole number/ ],
    # Without TOTAL, the total follows a connect timeout above its default.
    [ 'a connect timeout alone, above the default total', "ApiOAuth2StoreKey file:$dir/key\nApiOAuth2ProviderTimeout 15\n$provider\n$location", undef ],
    [ 'a total timeout given below the connect timeout', "ApiOAuth2ProviderTimeout 15 12",
      qr/ApiOAuth2ProviderTimeout: the total timeout 12 is shorter than the connect timeout 15/ ],
    [ 'ApiOAuth2API outside a Location', "$provider\n<Directory /tmp>\nApiOAuth2API on\n</Directory>",
      qr/ApiOAuth2API on belongs in a <Location>/ ],
);

plan tests => 2 * @cases + 2;

# Softer problems of a key file pass -t with a warning.
{
    my $file = "$dir/warn.conf";
    open my $fh, '>', $file or die;
    print $fh $head, "ApiOAuth2StoreKey file:$dir/readable.key\n";
    close $fh;
    my $httpd = httpd_bin();
    my $out = `$httpd -t -f $file 2>&1`;
    is($? >> 8, 0, 'a key readable by others passes -t') or diag $out;
    like($out, qr/AO2C0001: store key \Q$dir\E\/readable\.key: \Q$dir\E\/readable\.key is readable by group or others \(mode 0644, owner root\); make it 0600 root/,
         'with a warning that says how to fix it') or diag $out;
}

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
