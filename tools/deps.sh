#!/usr/bin/env bash
# Installs what building and testing mod_api_oauth2 needs (run by `make deps`).
# Idempotent and quiet when there is nothing to do:
#  - Debian packages, with one `apt-get update` first, only if one is missing;
#    the apache2/memcached/redis services Debian may start are then stopped and
#    disabled (the test suite starts its own on 127.0.0.1 ports);
#  - the peer modules libapache2-mod-oauth2 and libapache2-mod-auth-openidc
#    (t/14_three_modules.t, make bench). Installing them makes Debian enable
#    them (links in /etc/apache2/mods-enabled): that is left as it is, since
#    it is what an operator's machine looks like, and mod_api_oauth2 must
#    start next to them (tools/system-check.sh does so);
#  - what building the Debian package needs (dpkg-dev, debhelper, fakeroot,
#    lintian; tools/package-check.sh);
#  - jq and python3-requests, which the client examples (docs/clients/,
#    t/51_client_examples.t) use, and strace (t/16_examples.t: httpd -t
#    connects nowhere);
#  - the test provider's node modules (npm ci in t/provider) when missing;
#    the second test provider (t/dot) is Debian's python3-django-oauth-toolkit.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

packages=(
    apache2 apache2-dev libapr1-dev libaprutil1-dev libcurl4-openssl-dev
    libjansson-dev libmemcached-dev libssl-dev memcached libapache2-mod-perl2
    libwww-perl wrk redis-server pkg-config gcc make clang-format valgrind
    clang libclang-rt-14-dev
    libcjose-dev libgdbm-dev libapache2-mod-oauth2 libapache2-mod-auth-openidc
    openssl curl jq python3-requests strace dpkg-dev debhelper fakeroot lintian
    python3-django-oauth-toolkit
)
services=(apache2 memcached redis-server)

sudo=
if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done

stop_service() {
    local s=$1
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        $sudo systemctl stop "$s" >/dev/null 2>&1 || true
        $sudo systemctl disable "$s" >/dev/null 2>&1 || true
    else
        if [ -x "/etc/init.d/$s" ]; then
            $sudo "/etc/init.d/$s" stop >/dev/null 2>&1 || true
        fi
        if command -v update-rc.d >/dev/null 2>&1; then
            $sudo update-rc.d "$s" disable >/dev/null 2>&1 || true
        fi
    fi
}

if [ "${#missing[@]}" -gt 0 ]; then
    echo "tools/deps.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}" >/dev/null
    for s in "${services[@]}"; do
        stop_service "$s"
    done
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "tools/deps.sh: node and npm are needed for the test provider (t/provider)" >&2
    exit 1
fi

prov=t/provider
if [ ! -d "$prov/node_modules" ] || [ "$prov/package-lock.json" -nt "$prov/node_modules/.package-lock.json" ]; then
    echo "tools/deps.sh: npm ci in $prov"
    (cd "$prov" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
