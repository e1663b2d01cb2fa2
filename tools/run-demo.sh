#!/usr/bin/env bash
# Local demo of mod_api_oauth2 (`make run`): starts, in the foreground and on
# 127.0.0.1 only,
#   memcached  :9033   (-u nobody when root)       log run/logs/memcached.log
#   provider   :9031   node t/provider/server.mjs   log run/logs/provider.log
#   Odoo stand-in :8069 node t/backend/echo.mjs     log run/logs/backend.log
#   httpd      :8080   /usr/sbin/apache2 -DFOREGROUND with run/httpd.conf
#                      (from conf/demo.conf.in)     logs run/logs/error_log, access_log
# waits until each one accepts connections, prints a curl walkthrough, and
# runs until Ctrl-C (SIGINT) or SIGTERM, which stops all of them. If one of
# them dies, the others are stopped too and the exit status is 1. A port
# already in use is reported and nothing is started. (Started with SIGINT
# ignored, e.g. with & from a non-interactive shell, bash cannot trap it:
# stop it with SIGTERM then.)
#
# Generated files live under run/ (git-ignored): httpd.conf, store.key (32
# random bytes, 0600), store/ (the DBM token store, created by the module),
# logs/. The store and key are fresh at each start: the demo provider's
# signing keys and grants only live as long as the provider process.
#
# Needs `make deps all` (packages, t/provider/node_modules, the module).
# AO2_DEMO_TIMEOUT: seconds to wait for each service (default 30).
set -uo pipefail
umask 022

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1

run_dir=$top/run
log_dir=$run_dir/logs
module=$top/.libs/mod_api_oauth2.so
template=$top/conf/demo.conf.in
conf=$run_dir/httpd.conf
pids_file=$run_dir/services.pids
httpd_bin=${AO2_DEMO_HTTPD:-/usr/sbin/apache2}
modules_dir=/usr/lib/apache2/modules
timeout=${AO2_DEMO_TIMEOUT:-30}

HTTPD_PORT=8080 PROVIDER_PORT=9031 MEMCACHED_PORT=9033 BACKEND_PORT=8069
base=http://127.0.0.1:$HTTPD_PORT/jsonapiext

say() { printf '[demo] %s\n' "$*"; }
die() { printf 'tools/run-demo.sh: %s\n' "$*" >&2; exit 1; }

as_root=0
[ "$(id -u)" -eq 0 ] && as_root=1

# --- preconditions --------------------------------------------------------------
for cmd in node memcached setsid "$httpd_bin"; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found: run 'make deps' first"
done
[ -f "$module" ] || die "$module is missing: run 'make all' first"
[ -d t/provider/node_modules ] || die "t/provider/node_modules is missing: run 'make deps' first"
[ -f "$template" ] || die "$template is missing"

if [ "$as_root" = 1 ]; then
    # The httpd children (nobody) open run/store/: every directory above it
    # must be searchable by others.
    d=$run_dir
    while [ "$d" != / ] && [ -n "$d" ]; do
        d=$(dirname "$d")
        if [ -e "$d" ] && [ "$(( 0$(stat -c %a "$d") & 1 ))" -eq 0 ]; then
            die "$d is not searchable by others (mode $(stat -c %a "$d")): the httpd children (nobody) could not reach run/store; chmod o+x $d"
        fi
    done
fi

# --- helpers --------------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port_owner() {
    command -v ss >/dev/null 2>&1 || return 0
    ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))$/\1/p' | head -n 1
}

# A live (non-zombie) process.
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat:0:1}" != Z ]
}

# Some process of group $1 still exists.
group_alive() { kill -0 -- "-$1" 2>/dev/null; }

# Processes of an earlier run that was killed without cleaning up (SIGKILL of
# the script and its watcher): stopped if still running the very same command.
reap_stale() {
    [ -f "$pids_file" ] || return 0
    local pid name marker cmdline stale=()
    while read -r pid name marker; do
        [[ $pid =~ ^[0-9]+$ && -n $marker ]] || continue
        cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
        [[ $cmdline == *"$marker"* ]] || continue
        say "stopping $name (pid $pid) left over from an earlier run"
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
        stale+=("$pid")
    done <"$pids_file"
    rm -f "$pids_file"
    local deadline=$((SECONDS + 10)) p
    for p in "${stale[@]}"; do
        while group_alive "$p" || alive "$p"; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                kill -KILL -- "-$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null
                break
            fi
            sleep 0.1
        done
    done
}

# --- the services ------------------------------------------------------------------
# Parallel arrays, in start order.
names=() pids=() ports=() logs=() markers=()
watch_fd=

# A watcher kills what we started if this script dies without cleaning up
# (even by SIGKILL): it reads "+pid"/"-pid" lines and, at end of file (the
# script exited), stops the process groups still listed. Only this script
# holds the write end (the services are started with it closed).
start_watcher() {
    exec {watch_fd}> >(
        trap '' INT TERM HUP
        declare -A live=()
        while read -r line; do
            case $line in
                +*) live[${line#+}]=1 ;;
                -*) unset "live[${line#-}]" ;;
            esac
        done
        for p in "${!live[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
        for _ in $(seq 50); do
            left=0
            for p in "${!live[@]}"; do kill -0 -- "-$p" 2>/dev/null && left=1; done
            [ "$left" = 0 ] && exit 0
            sleep 0.1
        done
        for p in "${!live[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
    )
}
# (In a subshell: should the watcher be gone, SIGPIPE ends that, not us.)
watch() { [ -n "$watch_fd" ] && (printf '%s\n' "$1" 1>&"$watch_fd") 2>/dev/null; }

record_pids() {
    local i
    : >"$pids_file.tmp"
    for i in "${!pids[@]}"; do
        printf '%s %s %s\n' "${pids[$i]}" "${names[$i]}" "${markers[$i]}" >>"$pids_file.tmp"
    done
    mv -f "$pids_file.tmp" "$pids_file"
}

# spawn NAME PORT MARKER COMMAND...: in its own session (so a Ctrl-C at the
# terminal reaches only this script, which stops the services in order),
# stdio to run/logs/NAME.log. MARKER: a part of its command line that
# identifies it as ours (for reap_stale).
spawn() {
    local name=$1 port=$2 marker=$3
    shift 3
    local log=$log_dir/$name.log
    : >"$log"
    setsid "$@" </dev/null >>"$log" 2>&1 {watch_fd}>&- &
    local pid=$!
    names+=("$name") pids+=("$pid") ports+=("$port") logs+=("$log") markers+=("$marker")
    watch "+$pid"
    record_pids
}

tail_log() { [ -s "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/    /' >&2; }

wait_port() {
    local i=$1 deadline=$((SECONDS + timeout))
    local name=${names[$i]} pid=${pids[$i]} port=${ports[$i]}
    until port_open "$port"; do
        if ! alive "$pid"; then
            printf 'tools/run-demo.sh: %s exited before listening on 127.0.0.1:%s; last lines of %s:\n' \
                "$name" "$port" "${logs[$i]}" >&2
            tail_log "${logs[$i]}"
            [ "$name" = httpd ] && tail_log "$log_dir/error_log"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            printf 'tools/run-demo.sh: %s not listening on 127.0.0.1:%s after %ss; last lines of %s:\n' \
                "$name" "$port" "$timeout" "${logs[$i]}" >&2
            tail_log "${logs[$i]}"
            return 1
        fi
        sleep 0.05
    done
}

# stop_one INDEX: SIGTERM (httpd: its parent only, which stops its children),
# bounded wait, then SIGKILL to the whole process group.
stop_one() {
    local i=$1
    local pid=${pids[$i]}
    [ -n "$pid" ] || return 0
    if alive "$pid"; then
        if [ "${names[$i]}" = httpd ]; then
            kill -TERM "$pid" 2>/dev/null
        else
            kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
        fi
    fi
}

wait_stopped() {
    local deadline=$((SECONDS + 10)) i pid left
    while :; do
        left=()
        for i in "${!pids[@]}"; do
            pid=${pids[$i]}
            if alive "$pid" || group_alive "$pid"; then left+=("$i"); fi
        done
        [ "${#left[@]}" -eq 0 ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            for i in "${left[@]}"; do
                say "${names[$i]} (pid ${pids[$i]}) ignores SIGTERM, killing it"
                kill -KILL -- "-${pids[$i]}" 2>/dev/null; kill -KILL "${pids[$i]}" 2>/dev/null
            done
            break
        fi
        sleep 0.05
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" 2>/dev/null
        watch "-${pids[$i]}"
    done
}

stopping=0
stop_all() {
    [ "$stopping" = 1 ] && return
    stopping=1
    trap '' INT TERM HUP
    [ "${#pids[@]}" -gt 0 ] || return 0
    # httpd first (no request in flight reaches a stopped backend), then the rest.
    local i others=()
    for i in "${!names[@]}"; do [ "${names[$i]}" != httpd ] && others+=("${names[$i]}"); done
    if [ "${#others[@]}" -lt "${#names[@]}" ]; then
        say "stopping httpd, then ${others[*]}"
    else
        say "stopping ${others[*]}"
    fi
    for i in "${!names[@]}"; do [ "${names[$i]}" = httpd ] && stop_one "$i"; done
    for i in "${!names[@]}"; do
        if [ "${names[$i]}" = httpd ]; then
            local deadline=$((SECONDS + 10))
            while group_alive "${pids[$i]}" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
        fi
    done
    for i in "${!names[@]}"; do [ "${names[$i]}" != httpd ] && stop_one "$i"; done
    wait_stopped
    rm -f "$pids_file"
    local p
    for p in $HTTPD_PORT $PROVIDER_PORT $MEMCACHED_PORT $BACKEND_PORT; do
        port_open "$p" && say "WARNING: something still listens on 127.0.0.1:$p"
    done
    say "all stopped"
}

on_signal() {
    echo
    say "got SIG$1"
    stop_all
    exit 0
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP
trap 'stop_all' EXIT

# --- prepare run/ -------------------------------------------------------------------
mkdir -p "$run_dir" "$log_dir" || die "cannot create $run_dir"
chmod 0755 "$run_dir" "$log_dir"
reap_stale

busy=0
for p in $MEMCACHED_PORT:memcached $PROVIDER_PORT:provider $BACKEND_PORT:backend $HTTPD_PORT:httpd; do
    port=${p%%:*}
    if port_open "$port"; then
        owner=$(port_owner "$port")
        printf 'tools/run-demo.sh: port 127.0.0.1:%s (for the %s) is already in use%s\n' \
            "$port" "${p#*:}" "${owner:+ by $owner}" >&2
        busy=1
    fi
done
[ "$busy" = 0 ] || die "free the port(s) above and try again (nothing was started)"

# A fresh store and key at each start (see the header).
rm -rf "$run_dir/store" "$run_dir/store.key"
(umask 077 && head -c 32 /dev/urandom >"$run_dir/store.key") || die "cannot write $run_dir/store.key"
chmod 0600 "$run_dir/store.key"

types=/etc/mime.types
[ -r "$types" ] || types=/dev/null
sed_escape() { printf '%s' "$1" | sed 's/[\\|&]/\\&/g'; }
sed -e "s|@RUN_DIR@|$(sed_escape "$run_dir")|g" \
    -e "s|@LOG_DIR@|$(sed_escape "$log_dir")|g" \
    -e "s|@MODULES_DIR@|$(sed_escape "$modules_dir")|g" \
    -e "s|@MODULE@|$(sed_escape "$module")|g" \
    -e "s|@TYPES_CONFIG@|$(sed_escape "$types")|g" \
    "$template" >"$conf.tmp" || die "cannot write $conf.tmp"
mv -f "$conf.tmp" "$conf" || die "cannot write $conf"

httpd_args=(-d "$run_dir" -f "$conf")
[ "$as_root" = 1 ] && httpd_args+=(-DAO2_DEMO_AS_ROOT)
if ! out=$("$httpd_bin" "${httpd_args[@]}" -t 2>&1); then
    printf '%s\n' "$out" >&2
    die "$conf does not pass 'apache2 -t' (template: $template)"
fi

# --- start ----------------------------------------------------------------------------
start_watcher
: >"$log_dir/error_log"
: >"$log_dir/access_log"
mc_user=()
[ "$as_root" = 1 ] && mc_user=(-u nobody)
t0=$SECONDS
spawn memcached "$MEMCACHED_PORT" "-p $MEMCACHED_PORT" \
    memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 64 -c 1024 "${mc_user[@]}"
spawn provider "$PROVIDER_PORT" "t/provider/server.mjs --port $PROVIDER_PORT" \
    node "$top/t/provider/server.mjs" --port "$PROVIDER_PORT"
spawn backend "$BACKEND_PORT" "t/backend/echo.mjs --port $BACKEND_PORT" \
    node "$top/t/backend/echo.mjs" --port "$BACKEND_PORT"
for i in 0 1 2; do
    wait_port "$i" || { stop_all; exit 1; }
done
# httpd last: its module connects to memcached, and the first requests may
# go to the provider and the backend.
spawn httpd "$HTTPD_PORT" "$conf" "$httpd_bin" "${httpd_args[@]}" -DFOREGROUND
wait_port 3 || { stop_all; exit 1; }

say "up in $((SECONDS - t0))s: memcached :$MEMCACHED_PORT (pid ${pids[0]}), provider :$PROVIDER_PORT (pid ${pids[1]}), Odoo stand-in :$BACKEND_PORT (pid ${pids[2]}), httpd :$HTTPD_PORT (pid ${pids[3]})"

cat <<EOF

=== mod_api_oauth2 demo: http://127.0.0.1:$HTTPD_PORT/jsonapiext -> Odoo stand-in on :$BACKEND_PORT ===
OAuth2 client api-client / api-secret at the demo provider http://127.0.0.1:$PROVIDER_PORT.

1. Start an authorization for the API user "demo-user". HTTP Basic takes
   the client id and secret form-encoded (RFC 6749 §2.3.1); the demo's
   need no encoding, jq does it for any other:

   urlenc() { jq -rn --arg v "\$1" '\$v | @uri'; }
   BASIC="\$(urlenc api-client):\$(urlenc api-secret)"

   curl -s -u "\$BASIC" -H 'Content-Type: application/json' \\
        -d '{"client_user_identity":"demo-user"}' \\
        $base/oauth2/provider/authorize

   Open its "authorization_url" in a browser on this machine. The demo
   provider (oidc-provider's devInteractions pages) accepts any login and
   password (e.g. alice / x): sign in, then press Continue on the consent page.
   The browser lands on $base/oauth2/callback
   and shows the token information (JSON): access_token, refresh_token,
   expires_in, db, login (alice@example.com for login alice), ...

   Set it for the next steps:   ACCESS_TOKEN='<access_token from that page>'

2. Call Odoo (here an echo of what it receives: see Remote-User, X-Odoo-Login,
   X-Odoo-Db, X-OAuth2-Scope in "headers"):

   curl -s -H "Authorization: Bearer \$ACCESS_TOKEN" $base/res.partner

   Without a token, or with a bad one, it is a 401 before the backend:
   curl -si $base/res.partner

3. Refresh (refresh-token grant at the provider; new token information):

   curl -s -u "\$BASIC" -H 'Content-Type: application/json' \\
        -d '{"client_user_identity":"demo-user"}' $base/oauth2/token

4. Revoke (at the provider, and the stored record is deleted):

   curl -s -u "\$BASIC" -H 'Content-Type: application/json' \\
        -d '{"client_user_identity":"demo-user"}' $base/oauth2/revoke

   The access token from step 2 or 3 now gets a 401.

The same steps as a client program (docs/clients.md; it opens the browser
with \$BROWSER or xdg-open, or prints the URL, and waits for the login):

   CLIENT_SECRET=api-secret docs/clients/curl.sh $base api-client demo-user-2
   CLIENT_SECRET=api-secret docs/clients/python_requests.py $base api-client demo-user-3

Remote machine? Forward both ports first:  ssh -L 8080:127.0.0.1:8080 -L 9031:127.0.0.1:9031 <host>
Logs: $log_dir/error_log (httpd, module at debug), $log_dir/access_log,
      $log_dir/httpd.log (httpd's stderr), $log_dir/provider.log,
      $log_dir/backend.log, $log_dir/memcached.log
Config: $conf (from conf/demo.conf.in).  Ctrl-C stops everything.

EOF

# --- run until a signal, or until a service dies -------------------------------------------
while :; do
    dead=
    wait -n -p dead "${pids[@]}"
    rc=$?
    [ -n "$dead" ] || continue    # interrupted by a signal (its trap exits)
    for i in "${!pids[@]}"; do
        if [ "${pids[$i]}" = "$dead" ]; then
            printf '\ntools/run-demo.sh: %s (pid %s) exited with status %s; last lines of %s:\n' \
                "${names[$i]}" "$dead" "$rc" "${logs[$i]}" >&2
            tail_log "${logs[$i]}"
            [ "${names[$i]}" = httpd ] && tail_log "$log_dir/error_log"
            break
        fi
    done
    stop_all
    exit 1
done
