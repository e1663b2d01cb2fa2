# The README documents exactly the directives the module defines.
use strict;
use warnings FATAL => 'all';
use FindBin;
use Apache::Test qw(-withtestmore);

my $top = "$FindBin::Bin/..";
open my $src, '<', "$top/mod_api_oauth2.c" or die $!;
my @defined = do { local $/; <$src> } =~ /AP_INIT_\w+\(\s*"(\w+)"/g;
open my $readme, '<', "$top/README.md" or die $!;
my $doc = do { local $/; <$readme> };
my %documented = map { $_ => 1 } $doc =~ /\b(ApiOAuth2[A-Z]\w+)\b/g;

plan tests => 2 + @defined;
ok(@defined >= 18, 'directives found in mod_api_oauth2.c');
ok($documented{$_}, "README documents $_") for @defined;
my %known = map { $_ => 1 } @defined;
my @stray = grep { !$known{$_} } sort keys %documented;
is_deeply(\@stray, [], 'README names no directive the module lacks');
