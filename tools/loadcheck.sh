#!/usr/bin/env bash
# Loads the built module into a minimal httpd configuration and runs a
# configuration test: a missing -l library shows up only when httpd loads
# the .so (ap_* and apr_* symbols come from the httpd binary itself).
set -euo pipefail
module=$(readlink -f "${1:-.libs/mod_api_oauth2.so}")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
head -c 32 /dev/urandom >"$dir/key"
chmod 600 "$dir/key"
cat >"$dir/httpd.conf" <<CONF
ServerRoot $dir
ServerName localhost
PidFile $dir/httpd.pid
ErrorLog $dir/error.log
Listen 127.0.0.1:1
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule api_oauth2_module $module
ApiOAuth2TokenStore dbm:$dir/tokens
ApiOAuth2StoreKey file:$dir/key
ApiOAuth2Provider p authorize=https://op.example/auth token=https://op.example/token
<Location /api>
    ApiOAuth2API on
    ApiOAuth2Client p id secret "scope=openid"
</Location>
CONF
/usr/sbin/apache2 -t -f "$dir/httpd.conf" 2>&1
