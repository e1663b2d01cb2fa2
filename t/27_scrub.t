# Client-sent identity headers never reach a backend through this server,
# API location or not, in any virtual host, nor anything configured at
# server level (SetEnvIf, RewriteRule: they run before the location is
# known); ApiOAuth2ScrubHeaders off lets them through where the operator
# says so, to what runs once the location is known.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Apache::TestRequest;
use AO2Test;

plan tests => 13;

my @spoof = ('Remote-User' => 'evil', 'Remote_User' => 'evil', 'REMOTE-USER' => 'evil',
             'X-Odoo-Login' => 'evil', 'x_odoo_login' => 'evil', 'X-ODOO-DB' => 'evil',
             'X_Odoo_Db' => 'evil', 'X-OAuth2-Scope' => 'evil', 'x_oauth2_scope' => 'evil',
             'X-Other' => 'kept');

# Values of identity headers the backend received, in any spelling.
sub leaked {
    my ($echo) = @_;
    return grep { $_->[0] =~ /^(remote|x.odoo|x.oauth2)/i } @{ $echo->{raw_headers} || [] };
}

my ($st, $echo) = api_call(GET => '/plainproxy/x', headers => [@spoof]);
is($st, 200, 'plain proxied location (no API) reached the backend');
is($echo->{headers}{'x-other'}, 'kept', 'other headers pass');
is_deeply([leaked($echo)], [], 'no identity header reached it') or diag explain $echo->{raw_headers};
is($echo->{headers}{'x-seen-other'}, 'kept', 'a server-level SetEnvIf sees the other headers');
is($echo->{headers}{'x-seen-setenvif'}, undef, 'but not a client-sent Remote-User');
is($echo->{headers}{'x-seen-rewrite'}, undef, 'nor does a server-level RewriteRule');

($st, $echo) = api_call(GET => '/trustedproxy/x', headers => [@spoof]);
is($st, 200, 'ApiOAuth2ScrubHeaders off location reached the backend');
# httpd folds Remote-User and REMOTE-USER into one header: 8 names.
my %names = map { lc($_->[0]) => 1 } leaked($echo);
is(scalar(keys %names), 8, 'there every spelling of every identity header passes')
    or diag explain $echo->{raw_headers};
# httpd folded Remote-User and REMOTE-USER into one: "evil, evil".
like($echo->{headers}{'x-loc-seen'} // '', qr/^evil\b/, 'a SetEnvIf of that location sees them');
is($echo->{headers}{'x-seen-setenvif'}, undef, 'a server-level one still does not');

Apache::TestRequest::module('ao2_other_vhost');
my $other = 'http://' . Apache::TestRequest::hostport();
($st, $echo) = api_call(GET => "$other/anything", headers => [@spoof]);
is($st, 200, 'another virtual host reached the backend');
is($echo->{path}, '/anything', '... through its own ProxyPass');
is_deeply([leaked($echo)], [], 'no identity header reached it') or diag explain $echo->{raw_headers};
