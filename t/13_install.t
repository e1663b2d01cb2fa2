# make install puts every file where Debian's apache2 looks for it, with the
# right mode and content, and make uninstall takes it away again. Two
# installs into scratch directories: one staged with DESTDIR (as a package
# build does: modes only), one as on a real system but with every directory
# moved into the scratch tree (the state directory then belongs to the run
# user, and httpd -t loads the installed .load and .conf).
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;
use Cwd qw(abs_path);
use File::Temp qw(tempdir);

plan tests => 29;

my $top = abs_path("$FindBin::Bin/..");
my $libexec = `apxs -q LIBEXECDIR`;
chomp $libexec;
my $httpd = httpd_bin();

sub slurp {
    my ($f) = @_;
    open my $fh, '<:raw', $f or return undef;
    local $/;
    return scalar <$fh>;
}
sub mode { my @s = stat $_[0]; @s ? sprintf('%04o', $s[2] & 07777) : 'missing' }
sub owner { my @s = stat $_[0]; @s ? scalar getpwuid($s[4]) : 'missing' }

# make -o: the module is already built (make all ran before the suite); never
# rebuild it inside the test's copy.
sub make {
    my @args = @_;
    my $out = `make -s -C '$top' -o .libs/mod_api_oauth2.so @args 2>&1`;
    return ($? == 0, $out);
}

my $so   = slurp("$top/.libs/mod_api_oauth2.so");
my $conf = slurp("$top/conf/api_oauth2.conf");
ok(length($so // '') > 10000, 'the built module is there');

# --- staged: make install DESTDIR=... ------------------------------------------
my $d = tempdir(CLEANUP => 1);
my ($ok, $out) = make("install DESTDIR=$d");
ok($ok, 'make install DESTDIR=... succeeds') or diag $out;
my $mods = "$d/etc/apache2/mods-available";
is(mode("$d$libexec/mod_api_oauth2.so"), '0644', "module installed in DESTDIR$libexec, 0644");
ok(slurp("$d$libexec/mod_api_oauth2.so") eq $so, 'it is the built module, byte for byte');
is(mode("$mods/api_oauth2.load"), '0644', 'api_oauth2.load in mods-available, 0644');
is(mode("$mods/api_oauth2.conf"), '0644', 'api_oauth2.conf in mods-available, 0644');
is(slurp("$mods/api_oauth2.conf"), $conf, 'api_oauth2.conf is conf/api_oauth2.conf');
my $load = slurp("$mods/api_oauth2.load") // '';
my @lm = $load =~ /^\s*LoadModule\s+(\S+)\s+(\S+)\s*$/mg;
is_deeply(\@lm, ['api_oauth2_module', "$libexec/mod_api_oauth2.so"],
          'the .load loads the module from where it was installed (without DESTDIR)');
like($load, qr/^# Depends: .*\bproxy_http\b/m, 'the .load keeps its a2enmod Depends line');
is(mode("$d/var/lib/apache2/api_oauth2"), '0700', 'state directory made, 0700');
is(owner("$d/var/lib/apache2/api_oauth2"), scalar getpwuid($>),
   'staged state directory: not given away (the package does that)');
my @files = split /\n/, `cd '$d' && find . -type f | sort`;
is_deeply(\@files, [sort map { ".$_" } "$libexec/mod_api_oauth2.so",
    '/etc/apache2/mods-available/api_oauth2.conf', '/etc/apache2/mods-available/api_oauth2.load'],
    'nothing else is installed');

($ok, $out) = make("uninstall DESTDIR=$d");
ok($ok, 'make uninstall DESTDIR=... succeeds') or diag $out;
is(`cd '$d' && find . -type f`, '', 'no installed file is left');
ok(!-e "$d/var/lib/apache2/api_oauth2", 'the empty state directory is gone');

# --- "real" install, every directory moved: LIBEXECDIR, A2CONFDIR, STATEDIR ------
SKIP: {
    skip 'the run-user branch needs root', 14 unless $> == 0;
    my $r = tempdir(CLEANUP => 1);
    chmod 0755, $r;
    my @dirs = ("LIBEXECDIR=$r/modules", "A2CONFDIR=$r/apache2", "STATEDIR=$r/state/api_oauth2");
    ($ok, $out) = make('install', @dirs);
    ok($ok, 'make install LIBEXECDIR=... A2CONFDIR=... STATEDIR=... succeeds') or diag $out;
    ok(slurp("$r/modules/mod_api_oauth2.so") eq $so, 'module in LIBEXECDIR');
    $load = slurp("$r/apache2/mods-available/api_oauth2.load") // '';
    like($load, qr{^LoadModule api_oauth2_module \Q$r\E/modules/mod_api_oauth2\.so$}m,
         'the .load names the LIBEXECDIR given');
    is(mode("$r/state/api_oauth2"), '0700', 'state directory 0700');
    is(owner("$r/state/api_oauth2"), 'www-data', 'owned by the run user (www-data, no envvars there)');

    # httpd loads exactly what was installed, as a2enmod would include it.
    my $m = '/usr/lib/apache2/modules';
    open my $fh, '>', "$r/httpd.conf" or die $!;
    print $fh <<"CONF";
ServerRoot $r
ServerName 127.0.0.1
PidFile $r/httpd.pid
ErrorLog $r/error.log
Listen 127.0.0.1:@{[port('spare', 0)]}
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
Include $r/apache2/mods-available/api_oauth2.load
Include $r/apache2/mods-available/api_oauth2.conf
CONF
    close $fh;
    my $t = `'$httpd' -t -f '$r/httpd.conf' 2>&1`;
    is($?, 0, 'httpd -t loads the installed .load and .conf') or diag $t;
    like($t, qr/Syntax OK/, 'Syntax OK');

    # Reinstalling over an existing installation is fine (upgrades).
    ($ok, $out) = make('install', @dirs);
    ok($ok, 'make install again over it succeeds') or diag $out;

    # uninstall keeps a state directory that holds something (records, key).
    open $fh, '>', "$r/state/api_oauth2/tokens.pag" or die $!;
    close $fh;
    ($ok, $out) = make('uninstall', @dirs);
    ok($ok, 'make uninstall succeeds') or diag $out;
    ok(!-e "$r/modules/mod_api_oauth2.so", 'module removed');
    ok(!-e "$r/apache2/mods-available/api_oauth2.load"
       && !-e "$r/apache2/mods-available/api_oauth2.conf", '.load and .conf removed');
    ok(-e "$r/state/api_oauth2/tokens.pag", 'a non-empty state directory is kept');
    like($out, qr/kept \Q$r\E\/state\/api_oauth2/, 'and make uninstall says so');
    unlink "$r/state/api_oauth2/tokens.pag";
    ($ok, $out) = make('uninstall', @dirs);
    ok($ok && !-e "$r/state/api_oauth2", 'uninstall again: the empty state directory goes');
}
