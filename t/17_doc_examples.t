# Every ```apache block of README.md and docs/*.md passes "httpd -t" as it
# would be copied, offline (the machinery of t/16_examples.t), so no example
# drifts from what httpd and the module accept. The convention:
# - a block is a fragment of a site file: it is included after a base
#   configuration that loads the module, the httpd modules the examples use
#   (the socache providers too: the text says to load them first) and what
#   mods-available/api_oauth2.conf sets (store, key);
# - a block in a directive's section of docs/configuration.md whose
#   "Context:" is "directory" only is placed in a <Location> (unless it opens
#   its own section), with the providers its clients name ("acme", "google")
#   defined around it; any other block is placed at server level, as
#   written;
# - paths are replaced by files this test makes (the store key, a CA file,
#   the store's directory), "modules/mod_api_oauth2.so" by the built module.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use AO2Test;

plan skip_all => 'a network namespace of its own needs root' unless $> == 0;

my $top = "$FindBin::Bin/..";
my $module = "$top/.libs/mod_api_oauth2.so";
my $mods = '/usr/lib/apache2/modules';
my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;

sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; local $/; <$f> }

store_key("$dir/store.key");
system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
       . "-subj /CN=ca.example.com -days 1 -keyout $dir/ca.key -out $dir/ca.pem 2>/dev/null") == 0
    or die "openssl req failed";
mkdir "$dir/var";
my %replace = (
    'modules/mod_api_oauth2.so'      => $module,
    '/etc/apache2/api_oauth2.key'    => "$dir/store.key",
    '/etc/ssl/private-ca.pem'        => "$dir/ca.pem",
    '/var/lib/apache2/'              => "$dir/var/",
);

# (file, line, text, in a directory-only section?) of every block.
my @blocks;
for my $file ("$top/README.md", sort glob("$top/docs/*.md")) {
    my $text = slurp($file);
    (my $name = $file) =~ s{^\Q$top\E/}{};
    my $context = '';
    my $line = 1;
    for my $piece (split /^(```apache\n.*?^```\n)/ms, $text) {
        if ($piece =~ /\A```apache\n(.*)^```\n\z/ms) {
            my $body = $1;
            push @blocks, [$name, $line, $body, $context =~ /\A\s*directory\s*\z/ ? 1 : 0];
        } else {
            # The Context line of the section the block is in (any
            # heading starts a section; one without the line has none).
            for my $section (split /^(?=##+ )/m, $piece) {
                next unless $section =~ /\A##+ /;
                $context = $section =~ /^- Context:\s*(.*)$/m ? $1 : '';
            }
        }
        $line += () = $piece =~ /\n/g;
    }
}

plan tests => 1 + 2 * @blocks;
ok(@blocks >= 28, scalar(@blocks) . ' apache blocks found in README.md and docs/*.md');

my $head = <<"CONF";
LoadModule authz_host_module $mods/mod_authz_host.so
LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so
LoadModule socache_memcache_module $mods/mod_socache_memcache.so
LoadModule socache_redis_module $mods/mod_socache_redis.so
LoadModule api_oauth2_module $module
# What mods-available/api_oauth2.conf sets server-wide.
ApiOAuth2TokenStore dbm:$dir/var/tokens
ApiOAuth2StoreKey file:$dir/store.key
CONF
my $providers = <<'CONF';
ApiOAuth2Provider acme authorize=https://acme/authorize token=https://acme/token
ApiOAuth2Provider google authorize=https://google/authorize token=https://google/token
CONF

my $n = 0;
for my $b (@blocks) {
    my ($file, $line, $text, $in_location) = @$b;
    $text =~ s/\Q$_\E/$replace{$_}/g for keys %replace;
    # A block that opens its own section is placed as written.
    $text = "$providers<Location /jsonapiext>\n$text</Location>\n"
        if $in_location && $text !~ /\A\s*<(?:Location|Directory|Files|If)/;
    my ($rc, $out, $inet) = offline_configtest(dir => $dir, tag => 'block' . ++$n,
                                               head => $head, site => $text);
    ok($rc == 0 && $out =~ /^Syntax OK$/m, "$file:$line: httpd -t passes")
        or diag "$out\n--- as tested:\n$text";
    is_deeply($inet, [], "$file:$line: and fetches nothing");
}
