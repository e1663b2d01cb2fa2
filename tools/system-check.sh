#!/usr/bin/env bash
# The README's "Installing" steps, performed for real on this machine's
# Debian apache2 with the module's defaults, then everything undone:
#
#   make install                  (module, mods-available files, state dir)
#   a2enmod api_oauth2 proxy_http
#   cp conf/example-site.conf /etc/apache2/sites-available/...; a2ensite
#   apache2ctl configtest; apache2ctl start
#   curl .../jsonapiext/oauth2/provider/authorize  -> 200 JSON authorization_url
#
# and then once more after removing the state directory, which the module
# must then create itself (0700, www-data) at start-up.
#
# It changes the system while it runs: root only, run by `make test` only
# with CI=true or AO2_SYSTEM_CHECK=1. Refuses to run when Debian's apache2 is
# running or mod_api_oauth2 is already installed.
#
# The site is conf/example-site.conf with three changes: its virtual host is
# 127.0.0.1:PORT (not *:80), its provider is the test provider this script
# starts (t/provider/server.mjs on 127.0.0.1), its client is the provider's
# api-client. Nothing else is configured: no ApiOAuth2TokenStore, no
# ApiOAuth2StoreKey: the defaults are what is tested. How apache2 is kept on
# 127.0.0.1 (Debian's ports.conf says "Listen 80"), the ports, and the
# restore: tools/system-lib.sh.
#
# At the end /etc/apache2, /usr/lib/apache2/modules and /var/lib/apache2 must
# be exactly as before (a listing with checksums is compared), except that
# /var/lib/apache2/api_oauth2 is kept when it existed before the run.
set -euo pipefail

NAME=system-check
SITE=api-oauth2-system-check
OK_MESSAGE="installed with make install, served authorize calls, restored the system"
# shellcheck source=tools/system-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/system-lib.sh"

installed=0
undo_install() {
    [ "$installed" = 1 ] || return 0
    step "make uninstall"
    make -s uninstall >/dev/null
}

sys_begin

[ -f .libs/mod_api_oauth2.so ] || { step make; make -s >/dev/null; }
step "make install"
installed=1
make -s install >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; die "make install failed"; }
step "a2enmod api_oauth2 proxy_http"
a2enmod -q api_oauth2 proxy_http >/dev/null
sys_site
sys_start
sys_authorize system-check-1
sys_check_state_dir

# The same without the state directory (removed by hand, or never made): the
# module creates it for the run user at start-up. Only when this run made it.
if [ "$state_existed" = 0 ]; then
    sys_stop
    step "rm -rf $STATE"
    rm -rf "$STATE"
    sys_start
    sys_authorize system-check-2
    sys_check_state_dir
fi
failed=0
