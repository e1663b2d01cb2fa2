# 32 concurrent first requests with one new foreign token make one
# introspection call at the provider, across processes.
use strict;
use warnings FATAL => 'all';
use FindBin;
use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use AO2Test;

my $callers = 32;
plan tests => 4;

sub burst {
    my ($token) = @_;
    my %status;
    $status{$_}++ for concurrently($callers, sub {
        (api_call('GET', '/jsonapiext/res.partner', bearer => $token))[0];
    });
    return \%status;
}

my $foreign = provider_tokens(login => 'tara', scope => 'openid email');
ok($foreign->{access_token}, 'a token the module did not issue');

provider_stats_reset();
provider_delay('introspection', 300);    # every caller overlaps the lookup
my $status = burst($foreign->{access_token});
provider_delay('introspection', 0);
is_deeply($status, { 200 => $callers }, "all $callers requests passed") or diag explain $status;
is(provider_stats()->{introspection}, 1, 'one introspection call for all of them');

provider_stats_reset();
provider_delay('introspection', 300);
$status = burst('never-issued-' . random_string(12));
provider_delay('introspection', 0);
is(provider_stats()->{introspection}, 1, 'the same for one unknown token')
    or diag explain $status;
