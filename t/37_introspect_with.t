# An opaque token names no issuer: where a location has clients of two
# providers that introspect, it is sent to neither unless
# ApiOAuth2IntrospectWith names one (issue 19 L8). Before, it went to the
# first client's provider, which learned the other provider's tokens.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

plan tests => 10;

like(error_log_text(0), qr{AO2C0036: /twoprov has clients of several providers},
     'the start-up warning names the location');
unlike(error_log_text(0), qr{AO2C0036: /twoprovdot }, 'not where ApiOAuth2IntrospectWith names one');

my $dot = dot_tokens(login => 'bob');
ok($dot->{access_token}, 'DOT issues dot-client an opaque token directly');
provider_stats_reset();
my $mark = error_log_mark();
my ($st) = api_call(GET => '/twoprov/x', bearer => $dot->{access_token});
is($st, 401, 'refused where two providers introspect and none is named');
is(provider_stats()->{introspection}, 0, 'oidc-provider never saw the DOT token');
like(error_log_text($mark), qr/AO2B0018/, 'the refusal says why');

my ($dst, $echo) = api_call(GET => '/twoprovdot/x', bearer => $dot->{access_token});
is($dst, 200, 'ApiOAuth2IntrospectWith dotfull: DOT vouches for its token');
is($echo && $echo->{headers}{'remote-user'}, 'bob@dot.example', '... with its login');

my $op = provider_tokens(login => 'ivy', scope => 'openid email');
provider_stats_reset();
($st) = api_call(GET => '/twoprovdot/x', bearer => $op->{access_token});
is($st, 401, "oidc-provider's opaque token there: only DOT is asked, and refuses it");
is(provider_stats()->{introspection}, 0, 'oidc-provider was not asked');
