# shellcheck shell=bash
# Shared by tools/system-check.sh and tools/package-check.sh (sourced, not
# run): both install mod_api_oauth2 into this machine's Debian apache2, serve
# an authorize call from a site made of conf/example-site.conf, and put the
# system back as it was.
#
# Never listening on anything but 127.0.0.1: Debian's ports.conf says
# "Listen 80" (every address). apache2 runs with the real /etc/apache2 (its
# ServerRoot, mods-enabled, conf-enabled, sites-enabled, envvars, www-data,
# /var/log/apache2) but through APACHE_ARGUMENTS="-f COPY", COPY being
# /etc/apache2/apache2.conf with its "Include ports.conf" line pointing at a
# temporary ports file with "Listen 127.0.0.1:PORT" only. No file of
# /etc/apache2 is edited for that. Before the start any other Listen in the
# included files stops the check; after it, apache2's sockets are checked.
#
# Ports (127.0.0.1): apache2 AO2_PORT_BASE+10096, the test provider
# AO2_PORT_BASE+10097 (AO2_PORT_BASE defaults to 8529; t/ tests use
# +10020..+10079). One check at a time (a lock): there is one system apache2.
#
# The caller sets NAME (for messages) and SITE, sources this file, calls
# sys_begin, does its install steps, then sys_site, sys_start, sys_authorize
# ...; on exit sys_undo runs the caller's undo_install between stopping
# apache2 and comparing the system with the snapshot taken by sys_begin.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1
umask 022

base=${AO2_PORT_BASE:-8529}
PORT=$((base + 10096))
PPORT=$((base + 10097))
P=http://127.0.0.1:$PPORT
STATE=/var/lib/apache2/api_oauth2
A2=/etc/apache2
ERRLOG=/var/log/apache2/error.log
LIBEXECDIR=$(apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)

say() { printf '[%s] %s\n' "$NAME" "$*" >&2; }
die() { say "FAIL: $*"; exit 1; }
step() { printf '[%s] $ %s\n' "$NAME" "$*" >&2; }

# envvar NAME: a variable of Debian's /etc/apache2/envvars (which reads
# APACHE_CONFDIR).
# shellcheck disable=SC1091,SC2034
envvar() { (set +u; APACHE_CONFDIR=$A2; . "$A2/envvars"; eval "printf '%s' \"\${$1:-}\""); }

# A listing of everything the steps may touch, with checksums. The state
# directory is left out: whether it stays depends on whether it was there.
snapshot() {
    find "$A2" "$LIBEXECDIR" /var/lib/apache2 \( -path "$STATE" -prune \) -o -printf '%p %y %m %u %g %l\n' |
        sort
    find "$A2" "$LIBEXECDIR" /var/lib/apache2 -path "$STATE" -prune -o -type f -print0 |
        sort -z | xargs -0 -r sha256sum
}

sys_begin() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (it installs into Debian's apache2)"
    local c f p
    for c in apache2ctl a2enmod a2dismod a2ensite a2dissite curl node perl ss flock sha256sum "$@"; do
        command -v "$c" >/dev/null 2>&1 || die "$c is missing (make deps)"
    done
    [ -d t/provider/node_modules/oidc-provider ] || die "t/provider/node_modules is missing (make deps)"
    exec 9>/run/lock/ao2-system-check.lock
    flock -n 9 || die "another system or package check is running"
    pidfile=$(envvar APACHE_PID_FILE)
    [ -n "$pidfile" ] || die "no APACHE_PID_FILE in $A2/envvars"
    if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        die "Debian's apache2 is running (pid $(cat "$pidfile")); this check starts and stops it itself"
    fi
    for f in "$A2/mods-available/api_oauth2.load" "$A2/mods-available/api_oauth2.conf" \
        "$LIBEXECDIR/mod_api_oauth2.so" "$A2/sites-available/$SITE.conf"; do
        [ ! -e "$f" ] || die "$f exists already: mod_api_oauth2 is installed here; not touching it"
    done
    for p in "$PORT" "$PPORT"; do
        ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || die "port 127.0.0.1:$p is in use"
    done
    run_user=$(envvar APACHE_RUN_USER)
    tmp=$(mktemp -d "/tmp/ao2-$NAME.XXXXXX")
    chmod 0755 "$tmp"
    snapshot >"$tmp/before"
    state_existed=0
    [ -e "$STATE" ] && state_existed=1
    mods_before=$(ls "$A2/mods-enabled")
    log_mark=$(stat -c %s "$ERRLOG" 2>/dev/null || echo 0)
    provider_pid=
    started_apache=0
    enabled_site=0
    failed=1
    trap sys_undo EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    # The test provider (9>&-: nothing started keeps the lock of this run).
    node t/provider/server.mjs --port "$PPORT" </dev/null >"$tmp/provider.log" 2>&1 9>&- &
    provider_pid=$!
    for _ in $(seq 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PPORT") 2>/dev/null && return 0
        kill -0 "$provider_pid" 2>/dev/null || die "the test provider exited"
        sleep 0.05
    done
    die "the test provider does not listen on $PPORT"
}

a2ctl() { APACHE_ARGUMENTS="-f $tmp/apache2.conf" apache2ctl "$@" 9>&-; }
apache_pid() { cat "$pidfile" 2>/dev/null || true; }

# sys_site: the README's site (conf/example-site.conf) on 127.0.0.1:PORT with
# the test provider and its api-client; no store or key line anywhere, so
# the defaults are what runs. Then Debian's configuration with the loopback
# ports file, and apache2ctl configtest.
sys_site() {
    step "cp conf/example-site.conf $A2/sites-available/$SITE.conf (127.0.0.1:$PORT, the test provider)"
    local oidc=https://sso.example.com/realms/erp/protocol/openid-connect
    sed -e "s|<VirtualHost \*:80>|<VirtualHost 127.0.0.1:$PORT>|" \
        -e "s|ServerName erp.example.com|ServerName 127.0.0.1:$PORT|" \
        -e "s|$oidc/auth|$P/auth|" \
        -e "s|$oidc/token/introspect|$P/token/introspection|" \
        -e "s|$oidc/token|$P/token|" \
        -e "s|$oidc/revoke|$P/token/revocation|" \
        -e "s|$oidc/userinfo|$P/me|" \
        -e "s|issuer=https://sso.example.com/realms/erp|issuer=$P|" \
        -e "s|CLIENT_ID CLIENT_SECRET|api-client api-secret|" \
        -e "s|https://erp.example.com/jsonapiext/oauth2/callback|http://127.0.0.1:$PORT/jsonapiext/oauth2/callback|" \
        conf/example-site.conf >"$A2/sites-available/$SITE.conf"
    # (comments may still name the example's hosts)
    if grep -nv '^\s*#' "$A2/sites-available/$SITE.conf" | grep "example\.com\|\*:80" >&2; then
        die "conf/example-site.conf changed: adapt the substitutions in tools/system-lib.sh"
    fi
    if grep -nE '^\s*ApiOAuth2(TokenStore|StoreKey)' "$A2/sites-available/$SITE.conf" \
        "$A2/mods-available/api_oauth2.conf" >&2; then
        die "the installed configuration sets the store or the key: the defaults would not be tested"
    fi
    step "a2ensite $SITE"
    enabled_site=1
    a2ensite -q "$SITE" >/dev/null

    grep -qE '^Include ports\.conf$' "$A2/apache2.conf" || die "$A2/apache2.conf has no 'Include ports.conf' line"
    sed "s|^Include ports\\.conf\$|Include $tmp/ports.conf|" "$A2/apache2.conf" >"$tmp/apache2.conf"
    echo "Listen 127.0.0.1:$PORT" >"$tmp/ports.conf"

    step "apache2ctl configtest"
    a2ctl configtest >"$tmp/configtest" 2>&1 || { cat "$tmp/configtest" >&2; die "apache2ctl configtest failed"; }
    local includes
    includes=$(a2ctl -t -D DUMP_INCLUDES 2>/dev/null | sed -n 's/^ *([0-9]*) *//p' | grep -vxF "$tmp/ports.conf" || true)
    [ -n "$includes" ] || die "cannot list the included files (apache2 -t -D DUMP_INCLUDES)"
    # shellcheck disable=SC2086 # a list of files
    if grep -HniE '^\s*Listen\s' $includes >&2; then
        die "the configuration listens elsewhere too (above); not starting it"
    fi
}

# sys_start: apache2ctl start, wait for the pid file and the port, and insist
# that 127.0.0.1:PORT is all it listens on.
sys_start() {
    step "apache2ctl start"
    started_apache=1
    a2ctl start >"$tmp/start" 2>&1 || { cat "$tmp/start" >&2; die "apache2ctl start failed"; }
    local apid='' listening i
    for ((i = 0; i < 400; i++)); do
        apid=$(apache_pid)
        [ -n "$apid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        # A start-up failure (post_config) happens after apache2ctl returned:
        # no apache2 with this configuration any more means it gave up.
        if ((i > 10)) && [ -z "$apid" ] && ! pgrep -f -- "-f $tmp/apache2.conf" >/dev/null; then
            die "apache2 exited at start-up (error.log below)"
        fi
        sleep 0.05
    done
    [ -n "$apid" ] || die "apache2 did not start (no $pidfile after 20 s)"
    listening=$(ss -Hltnp | grep "pid=$apid," | awk '{print $4}' | sort -u | tr '\n' ' ')
    [ "$listening" = "127.0.0.1:$PORT " ] || die "apache2 listens on '$listening', expected 127.0.0.1:$PORT only"
}

sys_stop() {
    local pid
    pid=$(apache_pid)
    step "apache2ctl stop"
    a2ctl stop >/dev/null 2>&1
    for _ in $(seq 200); do
        if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then break; fi
        sleep 0.05
    done
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        say "apache2 (pid $pid) did not stop; killing it"
        kill -KILL "$pid" 2>/dev/null
    fi
    started_apache=0
}

# sys_authorize WHO: the README's curl; 200 JSON with the provider's URL.
sys_authorize() {
    step "curl -u api-client:api-secret -d '{\"client_user_identity\": \"$1\"}' http://127.0.0.1:$PORT/jsonapiext/oauth2/provider/authorize"
    local code body url
    code=$(curl -s -o "$tmp/authorize.json" -w '%{http_code} %{content_type}' --max-time 20 \
        -u api-client:api-secret -H 'Content-Type: application/json' \
        -d "{\"client_user_identity\": \"$1\"}" \
        "http://127.0.0.1:$PORT/jsonapiext/oauth2/provider/authorize") || true
    body=$(cat "$tmp/authorize.json" 2>/dev/null || true)
    say "answer: $code ${body:0:160}..."
    [[ $code == "200 application/json"* ]] || die "authorize answered '$code' ($body), expected 200 JSON"
    url=$(printf '%s' "$body" | perl -MJSON::PP -0777 -ne 'print JSON::PP->new->decode($_)->{authorization_url} // ""') ||
        die "authorize did not answer JSON"
    [[ $url == "$P/auth?"* ]] || die "authorization_url '$url' is not the test provider's /auth"
    [[ $url == *code_challenge_method=S256* ]] || die "authorization_url has no PKCE S256 challenge"
}

# The defaults on Debian: the state directory belongs to the run user, 0700.
sys_check_state_dir() {
    local st
    st=$(stat -c '%a %U' "$STATE" 2>/dev/null || echo missing)
    [ "$st" = "700 $run_user" ] || die "$STATE is '$st', expected '700 $run_user'"
    say "$STATE: $st; holds: $(ls "$STATE" | tr '\n' ' ')"
    # The generated key, when there is one beside it: root's, out of reach of
    # a compromised worker.
    local key=/var/lib/apache2/api_oauth2.key
    if [ -e "$key" ]; then
        st=$(stat -c '%a %U' "$key")
        [ "$st" = "600 root" ] || die "$key is '$st', expected '600 root'"
        say "$key: $st"
    fi
}

sys_undo() {
    local rc=$? m path
    trap - EXIT INT TERM
    set +e
    say "restoring the system"
    [ "$started_apache" = 1 ] && sys_stop
    if [ "$enabled_site" = 1 ]; then
        step "a2dissite -q $SITE"
        a2dissite -q -p "$SITE" >/dev/null 2>&1 || a2dissite -q "$SITE" >/dev/null
    fi
    rm -f "$A2/sites-available/$SITE.conf"
    # Only what this run enabled (a2enmod enables Depends: too).
    for m in $(comm -13 <(echo "$mods_before" | sed -n 's/\.load$//p' | sort) \
        <(ls "$A2/mods-enabled" | sed -n 's/\.load$//p' | sort)); do
        step "a2dismod -q -p $m"
        a2dismod -q -p "$m" >/dev/null 2>&1 || a2dismod -q -f "$m" >/dev/null
    done
    undo_install || rc=1
    if [ "$state_existed" = 0 ] && [ -e "$STATE" ]; then
        step "rm -rf $STATE"
        rm -rf "$STATE"
    fi
    [ -n "$provider_pid" ] && kill -TERM "$provider_pid" 2>/dev/null && wait "$provider_pid" 2>/dev/null
    # a2enmod/a2dismod keep their own state under /var/lib/apache2/{module,
    # site} (enabled_by_admin, disabled_by_admin): what this run added there
    # goes, and so does a store key the module may have generated beside its
    # state directory (/var/lib/apache2/api_oauth2*). Anything else that
    # differs is a failure.
    snapshot >"$tmp/after"
    while read -r path; do
        case $path in
        /var/lib/apache2/module/* | /var/lib/apache2/site/* | /var/lib/apache2/api_oauth2*)
            say "removing $path (made during the run)"
            rm -rf "$path"
            ;;
        esac
    done < <(comm -13 <(awk 'NF >= 5 && $2 ~ /^[a-z]$/ {print $1}' "$tmp/before" | sort -u) \
        <(awk 'NF >= 5 && $2 ~ /^[a-z]$/ {print $1}' "$tmp/after" | sort -u) | sort -r)
    snapshot >"$tmp/after"
    if ! diff -u "$tmp/before" "$tmp/after" >"$tmp/diff"; then
        say "FAIL: the system is not as it was before the check:"
        cat "$tmp/diff" >&2
        rc=1
    fi
    if [ "$rc" -ne 0 ] || [ "$failed" = 1 ]; then
        say "apache2's error.log during the run:"
        tail -c +"$((log_mark + 1))" "$ERRLOG" 2>/dev/null | tail -n 30 >&2
        [ -s "$tmp/provider.log" ] && { say "provider log:"; tail -n 10 "$tmp/provider.log" >&2; }
        [ "$rc" -ne 0 ] || rc=1
    fi
    rm -rf "$tmp"
    [ "$rc" -eq 0 ] && say "OK: $OK_MESSAGE"
    exit "$rc"
}
