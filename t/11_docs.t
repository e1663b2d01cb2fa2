# The documentation says what the code does, and stays inside the repository:
# - every directive the module defines has a full entry in
#   docs/configuration.md (Syntax, Default, Context, Since) and a line in
#   conf/api_oauth2.conf (commented at least), and neither names one the
#   module lacks; no page names an ApiOAuth2* word that is not a directive;
# - every log line of the code starts with a tag of the one scheme,
#   AO2<letter><4 digits> (the letters docs/operations.md explains), and
#   every tag is explained there, which lists no tag the code lacks;
# - README.md, SECURITY.md and docs/*.md link only to files of the repository
#   (and to headings that exist in them), and README links every docs page;
# - README's map of the source names every file of src/ (a line of its own
#   or a glob), and "httpd -L" names every key=... of a directive's Syntax.
use strict;
use warnings FATAL => 'all';
use Cwd ();
use FindBin;
use Apache::Test qw(-withtestmore);
use File::Temp ();

my $top = "$FindBin::Bin/..";

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!";
    local $/;
    return <$fh>;
}

my @code_files = ("$top/mod_api_oauth2.c", glob("$top/src/*.[ch]"));
my $code = join "\n", map { slurp($_) } @code_files;
my @defined = sort $code =~ /AP_INIT_\w+\(\s*"(ApiOAuth2\w+)"/g;
my %known = map { $_ => 1 } @defined;
my %tags = map { $_ => 1 } $code =~ /\b(AO2[A-Z]?[0-9]{4})\b/g;

my $reference = slurp("$top/docs/configuration.md");
my %entry;
for my $section (split /^(?=### )/m, $reference) {
    $entry{$1} = $section if $section =~ /\A### (ApiOAuth2\w+)\s*$/m;
}
my $conf = slurp("$top/conf/api_oauth2.conf");
my %in_conf = map { $_ => 1 } $conf =~ /^\s*#?\s*(ApiOAuth2\w+)\b/mg;
my $operations = slurp("$top/docs/operations.md");
my %explained = map { $_ => 1 } $operations =~ /^\|\s*(AO2[A-Z]?[0-9]{4})\s*\|/mg;

# The format string of every log call: ap_log_*error() and ao2_validate's
# say(). A bare "%s" is the sink that writes say()'s already-tagged lines.
my @formats = grep { $_ ne '%s' } ($code =~ /\bap_log_[a-z]*error\s*\(\s*APLOG_MARK\s*,[^";]*"([^"]*)"/g,
               $code =~ /\bsay\s*\(\s*env\s*,[^";]*"([^"]*)"/g);
# The letters are the ones docs/operations.md explains ("`C` configuration
# and start-up, ..."): a new letter is documented first.
my ($scheme) = $operations =~ /The letter says where it comes from:(.*?)\n\n/s;
my $letters = join '', ($scheme // '') =~ /`([A-Z])`/g;
$letters ||= 'none documented';

my @pages = ("$top/README.md", "$top/SECURITY.md", glob("$top/docs/*.md"));

plan tests => 3 + 2 * @defined + 4 + keys(%tags) + 5 + @pages + 3 + 2;

ok(@defined >= 18, scalar(@defined) . ' directives found in the code');
ok(keys(%tags) >= 40, scalar(keys %tags) . ' log tags found in the code');
ok(-f "$top/SECURITY.md", 'SECURITY.md exists');

for my $d (@defined) {
    my $e = $entry{$d} // '';
    my @missing = grep { $e !~ /^- $_:/m } qw(Syntax Default Context Since);
    ok($e && !@missing, "docs/configuration.md: $d has an entry with "
       . 'Syntax, Default, Context, Since')
        or diag($e ? "missing: @missing" : 'no "### ' . $d . '" section');
    ok($in_conf{$d}, "conf/api_oauth2.conf names $d (commented at least)");
}
is_deeply([grep { !$known{$_} } sort keys %entry], [],
          'docs/configuration.md has no entry for a directive the module lacks');
is_deeply([grep { !$known{$_} } sort keys %in_conf], [],
          'conf/api_oauth2.conf names no directive the module lacks');
my %stray;
for my $page (@pages, grep { -f } glob("$top/conf/*"), glob("$top/conf/examples/*")) {
    my $text = slurp($page);
    (my $name = $page) =~ s{^\Q$top\E/}{};
    $stray{"$1 ($name)"} = 1
        for grep { !$known{$_} } $text =~ /\b(ApiOAuth2[A-Z]\w*)\b/g;
}
is_deeply([sort keys %stray], [], 'no page names a directive the module lacks');
is_deeply([grep { !$tags{$_} } sort keys %explained], [],
          'docs/operations.md explains no tag the code lacks');
ok($explained{$_}, "docs/operations.md explains $_") for sort keys %tags;
ok(@formats >= 40, scalar(@formats) . ' log calls found');
is_deeply([grep { !/^AO2[$letters][0-9]{4}: / } @formats], [],
          'every log line starts with a tag AO2<letter><4 digits>: ');
is_deeply([grep { !/^AO2[$letters][0-9]{4}$/ } sort keys %tags], [],
          "one tag scheme: AO2 + one of $letters + 4 digits");

# Links: relative, inside the repository, to files and headings that exist.
sub anchors {
    my ($text) = @_;
    my %a;
    for my $h ($text =~ /^#+\s+(.+?)\s*$/mg) {
        (my $slug = lc $h) =~ s/[^a-z0-9 _-]//g;
        $slug =~ tr/ /-/;
        $a{$slug} = 1;
    }
    return \%a;
}
my $readme = slurp("$top/README.md");
my @unlinked = grep { $readme !~ /\]\(\Q$_\E(?:#[^)]*)?\)/ }
    ('SECURITY.md', map { s{^\Q$top\E/}{}r } glob("$top/docs/*.md"));
is_deeply(\@unlinked, [], 'README.md links SECURITY.md and every docs page');
ok(-f "$top/docs/$_", "docs/$_ exists")
    for qw(configuration.md endpoints.md operations.md security.md);
for my $page (@pages) {
    my $text = slurp($page);
    (my $dir = $page) =~ s{/[^/]+$}{};
    (my $name = $page) =~ s{^\Q$top\E/}{};
    my @bad;
    for my $link ($text =~ /\]\(([^)\s]+)\)/g) {
        my ($file, $anchor) = $link =~ /^([^#]*)(?:#(.*))?$/;
        if ($file =~ m{^[a-z][a-z0-9+.-]*:}i || $file =~ m{^/}) {
            push @bad, "$link (outside the repository)";
            next;
        }
        my $path = length $file ? "$dir/$file" : $page;
        my $real = -e $path ? Cwd::realpath($path) : undef;
        my $root = Cwd::realpath($top);
        if (!$real || index($real, "$root/") != 0) {
            push @bad, "$link (no such file in the repository)";
            next;
        }
        push @bad, "$link (no such heading)"
            if defined $anchor && -f $real && $real =~ /\.md$/
            && !anchors(slurp($real))->{$anchor};
    }
    push @bad, 'names ../shared' if $text =~ m{\.\./shared};
    is_deeply(\@bad, [], "$name links only inside the repository");
}

# The map of the source in README.md: "src/NAME  what it is" lines.
my @mapped = $readme =~ m{^(src/\S+)\s}mg;
my @globs = map { (quotemeta) =~ s/\\\*/.*/gr } @mapped;
my @unmapped = grep { my $f = $_; !grep { $f =~ /^$_$/ } @globs }
    map { s{^\Q$top\E/}{}r } glob("$top/src/*.c");
is_deeply(\@unmapped, [], "README.md's map of the source names every src/*.c");

# httpd -L shows each directive's help line: it must offer the key=
# words the directive's Syntax documents (an operator's first look).
my $ldir = File::Temp::tempdir(CLEANUP => 1);
open my $lc, '>', "$ldir/l.conf" or die;
print $lc "ServerRoot $ldir\nServerName localhost\nErrorLog $ldir/error.log\n",
    "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n",
    "LoadModule api_oauth2_module $top/.libs/mod_api_oauth2.so\n",
    "ApiOAuth2TokenStore dbm:$ldir/tokens\n";
close $lc;
my $httpd = $ENV{APACHE_TEST_HTTPD} || '/usr/sbin/apache2';
my %help = `$httpd -L -f $ldir/l.conf 2>&1` =~ /^(ApiOAuth2\w+) \(mod_api_oauth2\.c\)\n\t(.*)$/mg;
my @unoffered;
for my $d (@defined) {
    my ($syntax) = ($entry{$d} // '') =~ /^- Syntax: (.*)$/m;
    push @unoffered, map { "$d: $_=" } grep { index($help{$d} // '', "$_=") < 0 }
        ($syntax // '') =~ /\b([a-z_]+)=/g;
}
is_deeply(\@unoffered, [], 'httpd -L offers every key= word of the documented Syntax')
    or diag explain \%help;
