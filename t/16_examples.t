# The configuration examples in conf/examples/ (Keycloak, Entra ID, Google,
# Okta, Auth0, two APIs) pass "httpd -t" offline: each is included, as a site
# file would be, into a scratch configuration that loads the freshly built
# module (its TLS certificate paths replaced by a scratch certificate), and
# httpd runs in a network namespace of its own (no interface but a loopback
# that is down) under strace: "Syntax OK", and not one connect() to an
# IPv4 or IPv6 address other than the unspecified one (local probes that
# send nothing), so no discovery document, JWKS or DNS name was fetched. Each provider is configured by its issuer (discovery).
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use AO2Test;

my $top = "$FindBin::Bin/..";
my $module = "$top/.libs/mod_api_oauth2.so";
my $mods = '/usr/lib/apache2/modules';
my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;

my @expected = qw(auth0 entra-id google keycloak okta two-apis);
my @examples = sort glob("$top/conf/examples/*.conf");
my %name = map { $_ => m{([^/]+)\.conf$} } @examples;

plan tests => 1 + 5 * @examples + 2;

is_deeply([map { $name{$_} } @examples], \@expected,
          'conf/examples/ has Keycloak, Entra ID, Google, Okta, Auth0 and two APIs');

# The example's site certificate, replaced by a scratch one (mod_ssl wants
# the files to exist at -t).
my %replace = (
    '/etc/ssl/certs/erp.example.com.pem'  => "$dir/cert.pem",
    '/etc/ssl/private/erp.example.com.key' => "$dir/cert.key",
);
system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
       . "-subj /CN=erp.example.com -days 1 -keyout $dir/cert.key -out $dir/cert.pem 2>/dev/null") == 0
    or die "openssl req failed";
open my $k, '>', "$dir/store.key" or die "$dir/store.key: $!";
print $k 'k' x 32;
close $k;
chmod 0600, "$dir/store.key";

sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; local $/; <$f> }

# configtest($site_text, $tag) -> (exit status, output, connect() lines)
sub configtest {
    my ($site, $tag) = @_;
    return offline_configtest(dir => $dir, tag => $tag, site => $site, head => <<"CONF");
LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so
LoadModule ssl_module $mods/mod_ssl.so
LoadModule api_oauth2_module $module
# What mods-available/api_oauth2.conf sets server-wide.
ApiOAuth2TokenStore dbm:$dir/tokens
ApiOAuth2StoreKey file:$dir/store.key
CONF
}

for my $file (@examples) {
    my $n = $name{$file};
    my $text = slurp($file);
    my $site = $text;
    $site =~ s/\Q$_\E/$replace{$_}/g for keys %replace;
    is_deeply([$site =~ m{(/etc/ssl/\S+)}g], [], "$n: every certificate path replaced");
    my @providers = $text =~ /^\s*ApiOAuth2Provider\s+(\S+)\s+issuer=https:\/\/[^\s\/]+/mg;
    ok(@providers >= 1, "$n: providers configured by their issuer (@providers)");
    my ($rc, $out, $inet) = configtest($site, $n);
    is($rc, 0, "$n: httpd -t passes offline") or diag $out;
    like($out, qr/^Syntax OK$/m, "$n: Syntax OK");
    is_deeply($inet, [], "$n: no connection to any address (no discovery, no DNS)");
}

# The example is really read, with the module: a bad line in it fails -t
# and is named with the example's line.
my $bad = slurp($examples[0]) . "ApiOAuth2Provider broken colour=blue\n";
$bad =~ s/\Q$_\E/$replace{$_}/g for keys %replace;
my ($rc, $out) = configtest($bad, 'broken');
isnt($rc, 0, 'a bad line in an example fails -t');
like($out, qr/line \d+ of \Q$dir\E\/broken\.site\.conf:\s*ApiOAuth2Provider broken: unknown key "colour"/,
     'naming the example\'s line') or diag $out;
