#!/usr/bin/env bash
# The Debian package, end to end on this machine's Debian apache2:
#
#   dpkg-buildpackage -us -uc -b   in a copy of the checkout under /tmp (it
#                                  writes ../*.deb: never next to the checkout)
#   lintian                        no tag at all (debian/README.source explains
#                                  the build's known messages)
#   dpkg -i                        nothing enabled; state dir 0700 www-data
#   a2enmod api_oauth2 proxy_http; a site from conf/example-site.conf;
#   apache2ctl start; one authorize call (200 JSON authorization_url)
#   dpkg --purge                   every file dpkg -L listed is gone, and so
#                                  is the state directory with what it holds
#
# then the system is compared with how it was before (tools/system-lib.sh:
# 127.0.0.1 only, the ports, the restore). Root only; `make test` runs it only
# with CI=true or AO2_PACKAGE_CHECK=1. AO2_PACKAGE_KEEP=DIR copies the built
# .deb files to DIR.
set -euo pipefail

NAME=package-check
SITE=api-oauth2-package-check
PKG=libapache2-mod-api-oauth2
OK_MESSAGE="built $PKG, lintian clean, installed, served an authorize call, purged without a trace"
# shellcheck source=tools/system-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/system-lib.sh"

installed=0
undo_install() {
    [ "$installed" = 1 ] || return 0
    if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
        step "dpkg --purge $PKG"
        dpkg --purge "$PKG" >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log" >&2; return 1; }
    fi
}

if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
    echo "[$NAME] FAIL: $PKG is installed here already; not touching it" >&2
    exit 1
fi
sys_begin dpkg-buildpackage lintian dpkg-deb

# --- build, from a copy: the tracked files and the new ones git does not ignore
build=$tmp/build
mkdir -p "$build/src"
git ls-files -z -co --exclude-standard | tar -C "$top" --null -T - -cf - | tar -C "$build/src" -xf -
step "dpkg-buildpackage -us -uc -b   (in $build/src)"
(cd "$build/src" && dpkg-buildpackage -us -uc -b >"$build/build.log" 2>&1) ||
    { tail -n 40 "$build/build.log" >&2; die "dpkg-buildpackage failed (log above)"; }
deb=$(ls "$build"/${PKG}_*.deb)
[ -f "$deb" ] || die "no $PKG .deb in $build"
[ -n "${AO2_PACKAGE_KEEP:-}" ] && cp "$build"/*.deb "$AO2_PACKAGE_KEEP"/
step "lintian -I -E --pedantic"
lintian -I -E --pedantic "$build"/*.changes >"$build/lintian.log" 2>&1 || true
if grep -E '^[EWIPX]: ' "$build/lintian.log" >&2; then
    die "lintian tags (above): fix them, or explain each in debian/README.source with an override"
fi
say "$(basename "$deb"): $(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | tr '\n' ' ')"

# --- install: files in place, nothing enabled, the state directory made
step "dpkg -i $(basename "$deb")"
installed=1
dpkg -i "$deb" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; die "dpkg -i failed"; }
[ ! -e "$A2/mods-enabled/api_oauth2.load" ] || die "installing the package enabled the module"
for f in "$LIBEXECDIR/mod_api_oauth2.so" "$A2/mods-available/api_oauth2.load" "$A2/mods-available/api_oauth2.conf"; do
    [ -f "$f" ] || die "$f is not installed"
done
sys_check_state_dir
dpkg -L "$PKG" >"$tmp/files"

step "a2enmod api_oauth2 proxy_http"
a2enmod -q api_oauth2 proxy_http >/dev/null
sys_site
sys_start
sys_authorize package-check-1
sys_check_state_dir
sys_stop

# --- purge: nothing of the package is left
step "dpkg --purge $PKG"
dpkg --purge "$PKG" >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log" >&2; die "dpkg --purge failed"; }
[ ! -e "$A2/mods-enabled/api_oauth2.load" ] || die "the module is still enabled after the purge"
left=()
while read -r f; do
    # Directories other packages own too (/etc/apache2, /usr/lib ...) stay.
    if [ -d "$f" ] && [ ! -L "$f" ]; then
        case $f in */$PKG) [ -e "$f" ] && left+=("$f") ;; esac
        continue
    fi
    [ -e "$f" ] || [ -L "$f" ] && left+=("$f")
done <"$tmp/files"
[ -e "$STATE" ] && left+=("$STATE")
[ -e /var/lib/apache2/api_oauth2.key ] && left+=(/var/lib/apache2/api_oauth2.key)
[ "${#left[@]}" -eq 0 ] || die "left after the purge: ${left[*]}"
say "purged: none of the $(wc -l <"$tmp/files") paths dpkg -L listed is left, nor $STATE, nor a generated key"
failed=0
