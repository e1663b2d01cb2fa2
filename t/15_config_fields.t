# Every field of the server and directory configurations has a merge rule
# (AO2_MERGE in src/ao2_directives.c), and every field merged as unset
# with AO2_UNSET starts unset in its create function: a new directive
# cannot forget either (mod_auth_openidc's check_directives.sh does the
# same for its module). Every default comes from ao2_defaults.h.
use strict;
use warnings FATAL => 'all';
use FindBin;
use Apache::Test qw(-withtestmore);

my $src = "$FindBin::Bin/../src";
sub slurp { local (@ARGV, $/) = @_; <> }
my $hdr = slurp("$src/ao2_config.h");
my $http = slurp("$src/ao2_http.h");
my $c = slurp("$src/ao2_directives.c");

# Field names of a struct body (one declaration per line, comments dropped).
sub fields {
    my ($text, $name) = @_;
    my ($body) = $text =~ /typedef struct \Q$name\E \{(.*?)\} \Q$name\E_t;/s
        or die "struct $name not found";
    $body =~ s{/\*.*?\*/}{}gs;
    return map { /(\w+)\s*;\s*$/ ? $1 : () } grep { /;/ } split /\n/, $body;
}
sub body_of {
    my ($fn) = @_;
    my ($body) = $c =~ /\b\Q$fn\E\([^)]*\)\s*\{(.*?)\n\}/s or die "$fn not found";
    return $body;
}
sub merged {
    my ($fn) = @_;
    my %m;
    my $body = body_of($fn);
    while ($body =~ /AO2_MERGE\(([\w.]+),\s*([^,]+),\s*([^)]+)\)/g) {
        $m{$1} = { unset => $2, default => $3 };
    }
    # A field computed from the merged ones (conf->x = ...): its own rule.
    while ($body =~ /^\s*conf->([\w.]+)\s*=/mg) {
        $m{$1} //= { unset => 'derived', default => 'NULL' };
    }
    return %m;
}

my @server = map { $_ eq 'http' ? map { "http.$_" } fields($http, 'ao2_http_opts') : $_ }
             fields($hdr, 'ao2_server_conf');
my @dir = grep { $_ ne 'path' } fields($hdr, 'ao2_dir_conf'); # path: the section's own
my %sm = merged('server_merge');
my %dm = merged('dir_merge');
my $screate = body_of('ao2_create_server_conf');
my $dcreate = body_of('ao2_create_dir_conf');

plan tests => 2 * (@server + @dir) + 1;

for my $set ([\@server, \%sm, $screate, 'server'], [\@dir, \%dm, $dcreate, 'directory']) {
    my ($fields, $m, $create, $what) = @$set;
    for my $f (@$fields) {
        ok($m->{$f}, "$what field $f has a merge rule");
        my $u = $m->{$f} ? $m->{$f}{unset} : '';
        if ($u eq 'derived') {
            pass("$what field $f is derived in the merge");
        } elsif ($u eq 'AO2_UNSET') {
            like($create, qr/->\Q$f\E = AO2_UNSET;/, "$what field $f starts unset");
        } else {
            # NULL or 0: what apr_pcalloc gives.
            like($u, qr/^(NULL|0)$/, "$what field $f is unset as allocated ($u)");
        }
    }
}
my @literal = grep { $_->{default} !~ /^(AO2_DEFAULT_\w+|NULL|0)$/ } values %sm, values %dm;
is(scalar @literal, 0, 'every default is an AO2_DEFAULT_* of ao2_defaults.h (or none)')
    or diag join ', ', map { $_->{default} } @literal;
