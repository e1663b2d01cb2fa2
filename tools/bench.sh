#!/usr/bin/env bash
# make bench: throughput and latency of mod_api_oauth2's Bearer check against
# an unprotected location on the same server, and against the peer modules
# mod_auth_openidc and mod_oauth2 (Debian packages) doing the same job.
#
#   tools/bench.sh                  # everything (about 10 minutes)
#   BENCH_ROUNDS=5 BENCH_SECONDS=10 tools/bench.sh
#   BENCH_SKIP_RSS=1 tools/bench.sh # without the 1,000,000-request RSS run
#   BENCH_VARIANTS=plain,ao2-shm-hit BENCH_SKIP_RSS=1 BENCH_SKIP_CHECKS=1 tools/bench.sh
#
# Settings (environment):
#   BENCH_ROUNDS (3)         rounds; every variant runs once per round, interleaved
#   BENCH_SECONDS (5)        wrk duration per variant per round
#   BENCH_WARMUP_SECONDS (1) one unrecorded run of every variant before the rounds
#   BENCH_CONNECTIONS (32)   wrk connections (always one wrk thread)
#   BENCH_FIRST_TOKENS (1000) tokens of each first-seen variant: issued through
#                            the module (ao2-first), JWTs (ao2-jwt-first), opaque
#                            ones of the provider (ao2-intro-first)
#   BENCH_BAD_TOKENS (1000)  distinct bad tokens of the rotation variant
#   BENCH_RSS_FIRST (100000), BENCH_RSS_TOTAL (1000000)  RSS checkpoints
#   BENCH_SKIP_RSS=1, BENCH_SKIP_RSS_CONTROL=1 (no RSS run on the plain
#   location), BENCH_SKIP_CHECKS=1, BENCH_SKIP_PEERS=1
#   BENCH_VARIANTS           comma list: only these variants (plain is always kept)
#   BENCH_HTTPD_CPU (0), BENCH_LOAD_CPU (1)   cores for httpd / everything else
#   BENCH_FLOOD_RATE (10000) distinct random tokens a second in the flood row;
#   BENCH_FLOOD_SHARE (15)   the second flood row's rate, in percent of the
#                            unprotected location's req/s
#   BENCH_PROFILE=callgrind  instead of the rounds: instructions per request of
#                            each selected variant above its base, and the
#                            functions they go to, from httpd -X under callgrind
#                            (bench/results/profile-<date>.txt; see profile_all)
#   BENCH_PROFILE=perf       the same in time: perf record (cpu-clock) on the
#                            instance's children under wrk, microseconds per
#                            request by symbol, variant minus base (profile_perf)
#   BENCH_PROFILE_REQUESTS (1000)  requests each profile is taken over
#
# What runs (all on 127.0.0.1, everything under bench/results/run/, which is
# wiped at start; all of it is stopped on exit, however the script ends):
#   provider      node t/provider/server.mjs :28531 (the test suite's OP), core 1
#   https proxy   node bench/https-proxy.mjs :28534 -> provider (for the peers), core 1
#   memcached     :28533, core 1
#   backend       httpd :28532 serving the same 2-byte file (behind ProxyPass), core 1
#   ao2-shm       httpd :28540 with this module, ApiOAuth2Cache shm          } core 0
#   ao2-mc        httpd :28541, ApiOAuth2Cache memcache:127.0.0.1:28533      } (taskset)
#   ao2-first     httpd :28542, ApiOAuth2Cache shm:64 (store lookups, JWT    }
#                 checks, introspections)                                    }
#   ao2-nom       httpd :28544, ApiOAuth2Cache shm, ApiOAuth2Metrics off     }
#   oidc-shm/-mc  httpd :28550/:28551 with mod_auth_openidc (AuthType oauth20)
#   oauth2-shm/-mc httpd :28552/:28553 with mod_oauth2 (OAuth2TokenVerify introspect)
# Every httpd: mpm_event, 2 children x 32 threads, keep-alive without limit,
# no access log, the same 2-byte response "ok" for every variant. The peer
# modules are loaded only into their own instances.
#
# Output: a table on stdout, also written to bench/results/bench-<date>.md and
# bench/results/latest.md; raw data and logs in bench/results/run/.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
umask 022

ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECONDS:-5}
WARMUP=${BENCH_WARMUP_SECONDS:-1}
CONNS=${BENCH_CONNECTIONS:-32}
FIRST_TOKENS=${BENCH_FIRST_TOKENS:-1000}
BAD_TOKENS=${BENCH_BAD_TOKENS:-1000}
RSS_FIRST=${BENCH_RSS_FIRST:-100000}
RSS_TOTAL=${BENCH_RSS_TOTAL:-1000000}
SKIP_RSS=${BENCH_SKIP_RSS:-0}
SKIP_RSS_CONTROL=${BENCH_SKIP_RSS_CONTROL:-0}
SKIP_CHECKS=${BENCH_SKIP_CHECKS:-0}
SKIP_PEERS=${BENCH_SKIP_PEERS:-0}
ONLY=${BENCH_VARIANTS:-}
PROFILE=${BENCH_PROFILE:-}
PROFILE_REQUESTS=${BENCH_PROFILE_REQUESTS:-1000}
HTTPD_CPU=${BENCH_HTTPD_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
NEG_TTL=10      # ApiOAuth2CacheNegativeTTL of the ao2 instances
CACHE_TTL=300   # ApiOAuth2CacheTTL
CONCURRENT_TOKENS=3   # fresh foreign tokens for the concurrent-first-request check
INTRO_FIRST_CONNS=8   # ao2-intro-first's connections: AO2_DEFAULT_PROVIDER_CALLS, the
                      # provider calls a process makes at once (beyond them: 503 at once)
FLOOD_RATE=${BENCH_FLOOD_RATE:-10000}   # distinct random tokens a second in the flood check
FLOOD_SHARE=${BENCH_FLOOD_SHARE:-15}  # percent of the unprotected rate for the second flood row
FLOOD_CONNS=512       # its connections: enough free ones for the rate while some wait (flood.lua paces all of them on one clock)

case $PROFILE in '' | callgrind | perf) ;; *) echo "tools/bench.sh: BENCH_PROFILE is callgrind, perf or nothing" >&2; exit 2 ;; esac
for v in PROFILE_REQUESTS ROUNDS SECS WARMUP CONNS FIRST_TOKENS BAD_TOKENS RSS_FIRST RSS_TOTAL HTTPD_CPU LOAD_CPU; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "tools/bench.sh: $v must be a number" >&2; exit 2; }
done
((ROUNDS >= 1 && SECS >= 1 && WARMUP >= 1 && CONNS >= 1 && FIRST_TOKENS >= 1 && BAD_TOKENS >= 1)) ||
    { echo "tools/bench.sh: rounds, seconds, connections and token counts must be >= 1" >&2; exit 2; }
((RSS_TOTAL > RSS_FIRST)) || { echo "tools/bench.sh: BENCH_RSS_TOTAL must exceed BENCH_RSS_FIRST" >&2; exit 2; }

P_PROVIDER=28531 P_BACKEND=28532 P_MEMCACHED=28533 P_TLS=28534 P_DEAD=28539
declare -A PORT=(
    [ao2-shm]=28540 [ao2-mc]=28541 [ao2-first]=28542 [ao2-mcl]=28543 [ao2-nom]=28544
    [oidc-shm]=28550 [oidc-mc]=28551 [oauth2-shm]=28552 [oauth2-mc]=28553
    [backend]=$P_BACKEND
)
PROVIDER_URL=http://127.0.0.1:$P_PROVIDER
BASIC_ANON=YW5vbnltb3VzOmJlbmNo # base64 of anonymous:bench (ctl-basic-anon)
MODULE=$top/.libs/mod_api_oauth2.so
# The provider's redirect URIs and bench/tokens.pl's follow the suite's
# default ports without these (a test run's settings in the environment).
unset AO2_PORT_BASE AO2_HTTPD_PORT AO2_SERVER_PORTS
APACHE=/usr/sbin/apache2
MODDIR=/usr/lib/apache2/modules

results=$top/bench/results
run=$results/run
logs=$run/logs
lua=$top/bench/wrk

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Packages (idempotent; one apt-get update, only when something is missing)
# ---------------------------------------------------------------------------
install_packages() {
    local pkgs=(apache2 wrk memcached openssl curl iproute2 procps libapache2-mod-auth-openidc libapache2-mod-oauth2)
    local missing=() p st sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    for p in "${pkgs[@]}"; do
        st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        [ "$st" = installed ] || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing ${missing[*]}"
    $sudo apt-get update -qq >/dev/null
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}" >/dev/null
    # The packages enable their module in Debian's own apache2 configuration;
    # the benchmark loads them into its own instances only.
    if command -v a2dismod >/dev/null 2>&1; then
        for p in "${missing[@]}"; do
            case $p in
                libapache2-mod-auth-openidc) $sudo a2dismod -q auth_openidc >/dev/null 2>&1 || true ;;
                libapache2-mod-oauth2) $sudo a2dismod -q oauth2 >/dev/null 2>&1 || true ;;
            esac
        done
    fi
    # Debian starts the services it installs: the benchmark runs its own.
    for p in memcached apache2; do
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
            $sudo systemctl stop "$p" >/dev/null 2>&1 || true
        elif [ -x "/etc/init.d/$p" ]; then
            $sudo "/etc/init.d/$p" stop >/dev/null 2>&1 || true
        fi
    done
}

# ---------------------------------------------------------------------------
# Processes: everything started is recorded and stopped on exit
# ---------------------------------------------------------------------------
svc_pids=()      # background services (node, memcached)
wrk_pid=         # the wrk running now (wrk_run, wrk_count)
wrk_line=        # the BENCH line of its report
httpd_names=()   # httpd instances started (their pid files are in $logs)

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT WHAT [PID]: until something listens; fails after 30 s or
# when PID (the process that should listen) is gone.
wait_port() {
    local port=$1 what=$2 pid=${3:-} i
    for ((i = 0; i < 600; i++)); do
        port_open "$port" && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            log "$what exited before listening on $port"
            return 1
        fi
        sleep 0.05
    done
    log "$what not listening on 127.0.0.1:$port after 30 s"
    return 1
}

# wait_gone PID [SECONDS]: until the process is gone; 1 if it is still there.
wait_gone() {
    local pid=$1 n=$((${2:-10} * 20)) i
    for ((i = 0; i < n; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    return 1
}

record_pid() { echo "$1 $2" >>"$run/pids"; }

# start_service NAME PORT CMD...: on core LOAD_CPU, output to $logs/NAME.log.
start_service() {
    local name=$1 port=$2
    shift 2
    port_open "$port" && die "port 127.0.0.1:$port ($name) is already in use"
    taskset -c "$LOAD_CPU" "$@" </dev/null >"$logs/$name.log" 2>&1 &
    local pid=$!
    svc_pids+=("$pid")
    record_pid "$pid" "$port"
    wait_port "$port" "$name" "$pid" || { tail -n 20 "$logs/$name.log" >&2; die "$name did not start"; }
}

httpd_pid() {
    local f="$logs/$1.pid"
    if [ -s "$f" ]; then head -n1 "$f"; fi
}

# start_httpd NAME CPU: configtest, start pinned, wait for the port. Returns 1
# (with the reason in $logs/NAME.start) when it does not come up.
start_httpd() {
    local name=$1 cpu=$2 conf=$run/conf/$1.conf port=${PORT[$1]}
    port_open "$port" && die "port 127.0.0.1:$port ($name) is already in use"
    if ! "$APACHE" -t -f "$conf" >"$logs/$name.start" 2>&1; then
        return 1
    fi
    httpd_names+=("$name")
    if ! taskset -c "$cpu" "$APACHE" -f "$conf" -k start >>"$logs/$name.start" 2>&1; then
        return 1
    fi
    local i pid=
    for ((i = 0; i < 200; i++)); do
        pid=$(httpd_pid "$name")
        [ -n "$pid" ] && break
        sleep 0.05
    done
    [ -n "$pid" ] || { echo "no pid file" >>"$logs/$name.start"; return 1; }
    record_pid "$pid" "$conf"
    wait_port "$port" "httpd $name" "$pid" >>"$logs/$name.start" 2>&1 || {
        tail -n 5 "$logs/$name.error_log" >>"$logs/$name.start" 2>/dev/null || true
        return 1
    }
}

children_of() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true; }

stop_httpd() {
    local name=$1 pid kids
    pid=$(httpd_pid "$name")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kids=$(children_of "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 10; then
        log "httpd $name (pid $pid) ignores SIGTERM, killing it"
        # shellcheck disable=SC2086 # a list of pids
        kill -KILL "$pid" $kids 2>/dev/null || true
    fi
    for k in $kids; do wait_gone "$k" 5 || kill -KILL "$k" 2>/dev/null || true; done
    rm -f "$logs/$name.pid"
}

cleanup() {
    local rc=$? name pid
    trap - EXIT INT TERM
    set +e
    [ -n "$wrk_pid" ] && kill -INT "$wrk_pid" 2>/dev/null
    # everything at once, then wait for each (and kill what does not go)
    local all=() p
    for name in "${httpd_names[@]}"; do
        p=$(httpd_pid "$name")
        [ -n "$p" ] || continue
        # shellcheck disable=SC2207 # pids
        all+=("$p" $(children_of "$p"))
        kill -TERM "$p" 2>/dev/null
    done
    for pid in "${svc_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; all+=("$pid"); done
    for pid in "${all[@]}"; do wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null; done
    rm -f "$run/pids" "$logs"/*.pid
    [ "$rc" -eq 0 ] || log "stopped (exit $rc); logs in $logs"
    exit "$rc"
}

# Leftovers of a run that was killed without cleaning up: stop them when they
# are still what we started (the recorded port or config is on their command
# line), by pid.
reap_stale() {
    [ -f "$run/pids" ] || return 0
    local pid mark
    while read -r pid mark; do
        [[ $pid =~ ^[0-9]+$ ]] || continue
        [ -r "/proc/$pid/cmdline" ] || continue
        if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$mark"; then
            log "stopping leftover process $pid ($mark) of an earlier run"
            kill -TERM "$pid" 2>/dev/null || true
            wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
        fi
    done <"$run/pids"
    rm -f "$run/pids"
}

# ---------------------------------------------------------------------------
# httpd configurations
# ---------------------------------------------------------------------------
conf_common() { # NAME
    local name=$1
    cat <<EOF
# Generated by tools/bench.sh: instance $name.
ServerRoot "$run"
ServerName 127.0.0.1
Listen 127.0.0.1:${PORT[$name]}
PidFile "$logs/$name.pid"
DefaultRuntimeDir "$run/rt/$name"
ErrorLog "$logs/$name.error_log"
LogLevel warn
User nobody
Group nogroup
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule authn_core_module $MODDIR/mod_authn_core.so
LoadModule authz_user_module $MODDIR/mod_authz_user.so
LoadModule alias_module $MODDIR/mod_alias.so
LoadModule mime_module $MODDIR/mod_mime.so
TypesConfig /etc/mime.types
StartServers 2
ServerLimit 2
ThreadsPerChild 32
MinSpareThreads 32
MaxSpareThreads 64
MaxRequestWorkers 64
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
Timeout 30
HostnameLookups Off
DocumentRoot "$run/htdocs"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "$run/htdocs">
    Require all granted
</Directory>
# No access log; only responses other than 200 and 401 are logged, to count them.
LogFormat "%>s %U" odd
CustomLog "$logs/$name.odd_log" odd "expr=%{REQUEST_STATUS} !~ /^(200|401)\$/"
Alias /plain "$run/htdocs/r"
EOF
}

conf_ao2() { # NAME CACHE [EXTRA-DIRECTIVE]
    local name=$1 cache=$2 extra=${3:-} p=$PROVIDER_URL
    conf_common "$name"
    cat <<EOF
LoadModule proxy_module $MODDIR/mod_proxy.so
LoadModule proxy_http_module $MODDIR/mod_proxy_http.so
LoadModule api_oauth2_module $MODULE
ApiOAuth2TokenStore dbm:$run/var/$name/tokens
ApiOAuth2StoreKey file:$run/var/store.key
ApiOAuth2ProviderTimeout 2 5
ApiOAuth2Cache $cache
ApiOAuth2CacheTTL $CACHE_TTL
ApiOAuth2CacheNegativeTTL $NEG_TTL
$extra
ApiOAuth2Provider testop issuer=$p authorize=$p/auth token=$p/token revoke=$p/token/revocation userinfo=$p/me introspect=$p/token/introspection introspect_token_type=required
Alias /api/r "$run/htdocs/r"
Alias /jwtapi/r "$run/htdocs/r"
Alias /ctl/r "$run/htdocs/r"
LoadModule auth_basic_module $MODDIR/mod_auth_basic.so
LoadModule authn_anon_module $MODDIR/mod_authn_anon.so
<Location /ctl>
    # The flood control sends Bearer tokens here: refused without a line
    # in the error log each (this module's refusals log nothing either).
    LogLevel auth_basic:crit
    AuthType Basic
    AuthName ctl
    AuthBasicProvider anon
    Anonymous anonymous
    Anonymous_MustGiveEmail off
    Require valid-user
</Location>
<Location /api>
    ApiOAuth2API on
    ApiOAuth2Client testop api-client api-secret "scope=openid email"
    ApiOAuth2LoginClaim email
    ApiOAuth2OdooDatabase benchdb
    AuthType api-oauth2
    AuthName bench
    Require valid-user
</Location>
# jwt-client's access tokens are RFC 9068 JWTs, checked locally with the
# provider's JWKS (discovered from issuer=); they carry no email.
<Location /jwtapi>
    ApiOAuth2API on
    ApiOAuth2Client testop jwt-client jwt-secret "scope=openid email"
    ApiOAuth2LoginClaim sub
    AuthType api-oauth2
    AuthName bench
    Require valid-user
</Location>
<Location /api/proxy>
    ProxyPass http://127.0.0.1:$P_BACKEND/r
</Location>
<Location /proxy-plain>
    ProxyPass http://127.0.0.1:$P_BACKEND/r
</Location>
EOF
}

conf_oidc() { # NAME shm|memcache
    local name=$1 cache=$2
    conf_common "$name"
    cat <<EOF
LoadModule auth_openidc_module $MODDIR/mod_auth_openidc.so
OIDCOAuthIntrospectionEndpoint https://127.0.0.1:$P_TLS/token/introspection
OIDCOAuthIntrospectionEndpointAuth client_secret_basic
OIDCOAuthClientID rs-client
OIDCOAuthClientSecret rs-secret
OIDCOAuthSSLValidateServer Off
OIDCCryptoPassphrase bench-$(cat "$run/var/passphrase")
OIDCCacheType $cache
EOF
    [ "$cache" = memcache ] && echo "OIDCMemCacheServers \"127.0.0.1:$P_MEMCACHED\""
    cat <<EOF
Alias /r "$run/htdocs/r"
<Location /r>
    AuthType oauth20
    Require valid-user
</Location>
EOF
}

conf_oauth2() { # NAME shm|memcache
    local name=$1 cache=$2 url=https://127.0.0.1:$P_TLS/token/introspection
    local opts="introspect.auth=client_secret_basic&client_id=rs-client&client_secret=rs-secret&introspect.ssl_verify=false&verify.cache=tok"
    conf_common "$name"
    echo "LoadModule oauth2_module $MODDIR/mod_oauth2.so"
    # A fixed passphrase: otherwise each child makes its own and cannot read
    # what another child encrypted into the shared cache.
    echo "OAuth2CryptoPassphrase bench-$(cat "$run/var/passphrase")"
    if [ "$cache" = memcache ]; then
        echo "OAuth2Cache memcache name=tok&config_string=--SERVER=127.0.0.1:$P_MEMCACHED"
    else
        echo "OAuth2Cache shm name=tok"
    fi
    cat <<EOF
Alias /r "$run/htdocs/r"
<Location /r>
    AuthType oauth2
    OAuth2TokenVerify introspect $url $opts
    Require valid-user
</Location>
EOF
}

conf_backend() {
    conf_common backend
    echo "Alias /r \"$run/htdocs/r\""
}

# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------
prov_reset() { curl -sf -m 10 -X POST "$PROVIDER_URL/__stats/reset" >/dev/null; }
prov_raw() { curl -sf -m 10 "$PROVIDER_URL/__stats"; }
# -> "introspection total", once the counters stop moving: requests the
# server still had queued when wrk stopped reach the provider after it.
prov_stats() {
    local a b i
    local same=0
    a=$(prov_raw) || return 1
    b=$a
    for ((i = 0; i < 100 && same < 2; i++)); do
        sleep 0.1
        b=$(prov_raw) || return 1
        if [ "$a" = "$b" ]; then same=$((same + 1)); else same=0; fi
        a=$b
    done
    perl -MJSON::PP -e '
        my $s = decode_json($ARGV[0]); my $t = 0; $t += $_ for values %$s;
        print(($s->{introspection} // 0), " $t\n")' "$b"
}

# wait_idle PORT: until no client connection to 127.0.0.1:PORT is left (the
# requests in flight when wrk stopped are done, so the next run starts
# clean and this one's provider calls are all counted); at most 15 s.
wait_idle() {
    local i
    for ((i = 0; i < 150; i++)); do
        [ -z "$(ss -Htn state established state close-wait state syn-recv "( sport = :$1 )" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    log "127.0.0.1:$1 still has client connections after 15 s"
}

fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }
since() { tail -c +"$(($2 + 1))" "$1" 2>/dev/null || true; } # FILE OFFSET

# rss_children NAME -> "sum_kB pids"
# cpu_ticks NAME: CPU time (user + system, clock ticks) its children used so
# far. Per request, it depends less than req/s on what else the machine runs.
cpu_ticks() {
    local pid k sum=0 t
    pid=$(httpd_pid "$1")
    for k in $(children_of "$pid"); do
        t=$(awk '{print $14 + $15}' "/proc/$k/stat" 2>/dev/null || echo 0)
        sum=$((sum + ${t:-0}))
    done
    echo "$sum"
}

rss_children() {
    local pid kids k sum=0 r
    pid=$(httpd_pid "$1")
    kids=$(children_of "$pid" | sort -n | tr '\n' ' ')
    for k in $kids; do
        r=$(awk '/^VmRSS:/ {print $2}' "/proc/$k/status" 2>/dev/null || echo 0)
        sum=$((sum + ${r:-0}))
    done
    echo "$sum ${kids% }"
}

# wrk_run OUT DURATION URL SCRIPT [VAR=value...]: one wrk run (WRK_CONNS
# connections, CONNS by default); the BENCH line of its report is left in
# $wrk_line. wrk runs in the background and we wait for it: a signal to
# this script is handled at once, and cleanup stops wrk ($wrk_pid; timeout
# passes the signal on). Not to be called in a subshell.
wrk_run() {
    local out=$1 dur=$2 url=$3 script=$4
    shift 4
    env BENCH_LUA_DIR="$lua" "$@" timeout $((dur + 60)) taskset -c "$LOAD_CPU" \
        wrk -t1 -c"${WRK_CONNS:-$CONNS}" -d"${dur}s" --latency --timeout 5s -s "$lua/$script" "$url" \
        >"$out" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || true
    wrk_pid=
    wrk_line=$(grep -m1 '^BENCH ' "$out" || echo "BENCH failed=1")
}

# wrk_count OUT URL COUNT TOKEN: exactly COUNT requests (count.lua marks the
# end with a file; wrk then gets SIGINT and reports); the BENCH line is left
# in $wrk_line. Not to be called in a subshell either.
wrk_count() {
    local out=$1 url=$2 count=$3 tok=$4 mark=$run/var/count.done
    rm -f "$mark"
    env BENCH_LUA_DIR="$lua" BENCH_TOKEN="$tok" BENCH_COUNT="$count" BENCH_DONE_FILE="$mark" \
        taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d3600s --latency --timeout 5s \
        -s "$lua/count.lua" "$url" >"$out" 2>&1 &
    wrk_pid=$!
    # ends with wrk at the latest (its -d bounds it)
    while kill -0 "$wrk_pid" 2>/dev/null && [ ! -e "$mark" ]; do sleep 0.1; done
    kill -INT "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" || true
    wrk_pid=
    wrk_line=$(grep -m1 '^BENCH ' "$out" || echo "BENCH failed=1")
}

# Variants: instance, path, wrk script, token source, expected status, base.
declare -A V_INST V_PATH V_SCRIPT V_TOKEN V_EXPECT V_BASE V_DESC V_CONNS
ALL_VARIANTS=()
variant() { # NAME INSTANCE PATH SCRIPT TOKEN EXPECT BASE DESCRIPTION
    ALL_VARIANTS+=("$1")
    V_INST[$1]=$2 V_PATH[$1]=$3 V_SCRIPT[$1]=$4 V_TOKEN[$1]=$5 V_EXPECT[$1]=$6
    V_BASE[$1]=$7 V_DESC[$1]=$8
}
variant plain         ao2-shm    /plain       fixed.lua  none          200 plain       "unprotected location, same file (the limit)"
variant ao2-shm-hit   ao2-shm    /api/r       fixed.lua  mod:ao2-shm   200 plain       "this module, cache hit, ApiOAuth2Cache shm"
# Its base is ao2-shm-hit: every run sits between two runs of the same
# check with metrics on (B v B), so the ratio is the cost of recording.
# A control, not this module: httpd's own authentication with a provider
# that does nothing (AuthType Basic, mod_authn_anon) on the same server: what
# any authentication module pays in httpd (its hooks, Require valid-user,
# the Authorization header) before its own work.
variant ctl-basic-anon ao2-shm   /ctl/r       fixed.lua  basic-anon    200 plain       "control: AuthType Basic with mod_authn_anon (any password), Require valid-user: httpd's own cost of an authenticated location"
variant ao2-shm-nometrics ao2-nom /api/r    fixed.lua  mod:ao2-nom   200 ao2-shm-hit "this module, cache hit, ApiOAuth2Cache shm, ApiOAuth2Metrics off"
variant ao2-mc-hit    ao2-mc     /api/r       fixed.lua  mod:ao2-mc    200 plain       "this module, cache hit, ApiOAuth2Cache memcache"
variant ao2-mcl-hit   ao2-mcl    /api/r       fixed.lua  mod:ao2-mcl   200 plain       "this module, cache hit, memcache + ApiOAuth2CacheLocalTTL 1 (a revoke elsewhere counts within 1 s)"
variant ao2-first     ao2-first  /api/r       rotate.lua file:first    200 plain       "this module, first-seen tokens: $FIRST_TOKENS issued tokens in rotation, shm:64 cache (store lookups)"
variant ao2-jwt-hit   ao2-shm    /jwtapi/r    fixed.lua  jwt           200 plain       "this module, a JWT access token (RFC 9068, RS256) of the provider, cache hit, ApiOAuth2Cache shm"
variant ao2-jwt-first ao2-first  /jwtapi/r    rotate.lua file:jwt-first 200 plain      "this module, first-seen JWT access tokens: $FIRST_TOKENS of them in rotation, shm:64 cache: each request verifies a signature locally (no provider call)"
variant ao2-intro-hit ao2-shm    /api/r       fixed.lua  foreign       200 plain       "this module, an opaque token of the provider (introspected once), cache hit, ApiOAuth2Cache shm"
variant ao2-intro-first ao2-first /api/r      rotate.lua file:intro-first 200 plain    "this module, first-seen opaque tokens of the provider: $FIRST_TOKENS in rotation, shm:64 cache: each request introspects (and asks userinfo for the email); wrk -c$INTRO_FIRST_CONNS, the provider calls a process makes at once"
V_CONNS[ao2-intro-first]=$INTRO_FIRST_CONNS
variant ao2-bad-1     ao2-shm    /api/r       fixed.lua  bad1          401 plain       "this module, invalid-token flood: one bad token repeated"
variant ao2-bad-rot   ao2-shm    /api/r       rotate.lua badrot        401 plain       "this module, invalid-token flood: $BAD_TOKENS distinct bad tokens in rotation"
variant proxy-plain   ao2-shm    /proxy-plain fixed.lua  none          200 proxy-plain "unprotected ProxyPass to the backend httpd"
variant ao2-proxy     ao2-shm    /api/proxy   fixed.lua  mod:ao2-shm   200 proxy-plain "this module (shm, cache hit) in front of the same ProxyPass"
variant oidc-shm      oidc-shm   /r           fixed.lua  foreign       200 plain       "mod_auth_openidc, introspection, OIDCCacheType shm"
variant oidc-mc       oidc-mc    /r           fixed.lua  foreign       200 plain       "mod_auth_openidc, introspection, OIDCCacheType memcache"
variant oauth2-shm    oauth2-shm /r           fixed.lua  foreign       200 plain       "mod_oauth2, introspect, OAuth2Cache shm"
variant oauth2-mc     oauth2-mc  /r           fixed.lua  foreign       200 plain       "mod_oauth2, introspect, OAuth2Cache memcache"
variant oidc-bad-1    oidc-shm   /r           fixed.lua  bad1          401 plain       "mod_auth_openidc, one bad token repeated"
variant oauth2-bad-1  oauth2-shm /r           fixed.lua  bad1          401 plain       "mod_oauth2, one bad token repeated"

declare -A BROKEN   # variant or instance -> why it is not measured
declare -A TOKEN    # token source -> token
VARIANTS=()

select_variants() {
    local v
    for v in "${ALL_VARIANTS[@]}"; do
        if [ -n "$ONLY" ] && [ "$v" != plain ] && [[ ",$ONLY," != *",$v,"* ]]; then
            continue
        fi
        if [ "$SKIP_PEERS" = 1 ] && [[ $v == oidc-* || $v == oauth2-* ]]; then
            continue
        fi
        VARIANTS+=("$v")
    done
    # a base must run when anything that refers to it does; keep the list's order
    local want=" ${VARIANTS[*]} "
    for v in "${VARIANTS[@]}"; do want+="${V_BASE[$v]} "; done
    VARIANTS=()
    for v in "${ALL_VARIANTS[@]}"; do
        [[ $want == *" $v "* ]] && VARIANTS+=("$v")
    done
    return 0
}

needed_instances() {
    local v
    for v in "${VARIANTS[@]}"; do echo "${V_INST[$v]}"; done | sort -u
}

random_token() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

# token_args VARIANT ROUND -> VAR=value words for wrk_run
token_args() {
    local v=$1 r=$2 src=${V_TOKEN[$1]}
    case $src in
        none) echo "BENCH_TOKEN=" ;;
        file:*) echo "BENCH_TOKEN_FILE=$run/var/${src#file:}.tokens" ;;
        badrot) echo "BENCH_TOKEN_FILE=$run/var/bad-rot-$r.tokens" ;;
        bad1) echo "BENCH_TOKEN=$(cat "$run/var/bad1-$v-$r.token")" ;;
        basic-anon) echo "BENCH_BASIC=$BASIC_ANON" ;;
        *) echo "BENCH_TOKEN=${TOKEN[$src]}" ;;
    esac
}

# probe URL TOKEN -> "status body"
probe() {
    local url=$1 tok=$2 out
    if [[ $tok == "Basic "* ]]; then
        out=$(curl -s -m 15 -H "Authorization: $tok" -w ' %{http_code}' "$url" || echo " 000")
    elif [ -n "$tok" ]; then
        out=$(curl -s -m 15 -H "Authorization: Bearer $tok" -w ' %{http_code}' "$url" || echo " 000")
    else
        out=$(curl -s -m 15 -w ' %{http_code}' "$url" || echo " 000")
    fi
    echo "${out##* } ${out% *}"
}

# One request per variant before the rounds: the answer must be the expected
# status (and the file for 200). It also puts the valid tokens in the caches.
smoke_variants() {
    local v inst url tok want got body
    for v in "${VARIANTS[@]}"; do
        inst=${V_INST[$v]}
        if [ -n "${BROKEN[$inst]:-}" ]; then
            BROKEN[$v]="instance $inst: ${BROKEN[$inst]}"
            continue
        fi
        url="http://127.0.0.1:${PORT[$inst]}${V_PATH[$v]}"
        case ${V_TOKEN[$v]} in
            none) tok= ;;
            file:*) tok=$(head -n1 "$run/var/${V_TOKEN[$v]#file:}.tokens" 2>/dev/null || true) ;;
            bad1 | badrot) tok=$(random_token) ;;
            basic-anon) tok="Basic $BASIC_ANON" ;;
            *) tok=${TOKEN[${V_TOKEN[$v]}]:-} ;;
        esac
        want=${V_EXPECT[$v]}
        if [ "${V_TOKEN[$v]}" != none ] && [ -z "$tok" ]; then
            BROKEN[$v]="no token for it"
            log "variant $v: ${BROKEN[$v]}; not measured"
            continue
        fi
        read -r got body < <(probe "$url" "$tok")
        if [ "$got" != "$want" ] || { [ "$want" = 200 ] && [ "$body" != ok ]; }; then
            BROKEN[$v]="probe answered $got (want $want)"
            log "variant $v: ${BROKEN[$v]}; not measured"
        fi
    done
}

measure() { # VARIANT ROUND SEQ RUNS_IN_ROUND
    local v=$1 r=$2 seq=$3 nseq=$4 inst=${V_INST[$1]} url line elog olog e0 o0 calls allcalls k c0 cpu_us
    local -A m=()
    url="http://127.0.0.1:${PORT[$inst]}${V_PATH[$v]}"
    elog=$logs/$inst.error_log olog=$logs/$inst.odd_log
    prov_stats >/dev/null || true # the previous run's stragglers
    e0=$(fsize "$elog") o0=$(fsize "$olog")
    prov_reset
    c0=$(cpu_ticks "$inst")
    # shellcheck disable=SC2046
    WRK_CONNS=${V_CONNS[$v]:-$CONNS} wrk_run "$logs/wrk-$v-$r.txt" "$SECS" "$url" "${V_SCRIPT[$v]}" $(token_args "$v" "$r")
    line=$wrk_line
    wait_idle "${PORT[$inst]}"
    read -r calls allcalls < <(prov_stats || echo "-1 -1")
    for k in $line; do [[ $k == *=* ]] && m[${k%%=*}]=${k#*=}; done
    local new crashes errlines odd sockerr unexpected
    new=$(since "$elog" "$e0")
    crashes=$(grep -cE 'exit signal|Segmentation fault|double free|stack smashing' <<<"$new" || true)
    errlines=$(grep -cE '\[[a-z_0-9]*:(error|crit|alert|emerg)\]' <<<"$new" || true)
    if [ -n "$new" ]; then
        { echo "== $v round $r"; grep -E '\[[a-z_0-9]*:(warn|error|crit|alert|emerg)\]|exit signal' <<<"$new" | head -n 20; } >>"$logs/variant-errors.txt" || true
    fi
    odd=$(since "$olog" "$o0" | wc -l)
    if [ -n "${m[failed]:-}" ]; then
        log "round $r $v: wrk failed (see $logs/wrk-$v-$r.txt)"
        printf '%s\t%s\t%s\t%s\tFAILED\n' "$r" "$seq" "$v" "$inst" >>"$run/results.tsv"
        return 0
    fi
    sockerr=$((m[connect] + m[read] + m[write] + m[timeout]))
    cpu_us=$(awk -v t="$(($(cpu_ticks "$inst") - c0))" -v hz="$(getconf CLK_TCK)" -v n="${m[requests]}" \
        'BEGIN { printf "%.2f", (n > 0 ? t * 1000000 / hz / n : 0) }')
    if [ "${V_EXPECT[$v]}" = 200 ]; then
        unexpected=${m[status]}
    else
        # every answer should be 401: 2xx/3xx answers and other statuses are unexpected
        unexpected=$((m[requests] - m[status] + odd))
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$r" "$seq" "$v" "$inst" "${m[rps]}" "${m[p50_us]}" "${m[p99_us]}" "${m[requests]}" \
        "$sockerr" "$unexpected" "$odd" "$crashes" "$errlines" "$calls" "$cpu_us" "$allcalls" >>"$run/results.tsv"
    log "$(printf 'round %d/%d run %2d/%d %-12s %9.0f req/s  %6.1f us CPU/req  p99 %6.2f ms  provider calls %s  socket errors %s  unexpected %s%s' \
        "$r" "$ROUNDS" $((seq + 1)) "$nseq" "$v" "${m[rps]}" "$cpu_us" "$(awk "BEGIN{print ${m[p99_us]}/1000}")" "$calls" \
        "$sockerr" "$unexpected" "$(if ((crashes + errlines > 0)); then echo "  CRASHES $crashes, error lines $errlines"; fi)")"
}

check() { printf '%s\t%s\n' "$1" "$2" >>"$run/checks.tsv"; } # KEY VALUE

# profile_variant VARIANT REQUESTS OUT: httpd -X of the variant's instance
# under callgrind, REQUESTS requests of the variant one after the other
# (bench/profile-client.pl), then stopped; callgrind writes OUT as it exits.
profile_variant() {
    local v=$1 count=$2 out=$3 inst=${V_INST[$1]} src tok=
    local conf=$run/conf/$inst.conf port=${PORT[$inst]} pid
    src=$(token_args "$v" 1)
    case $src in
        BENCH_TOKEN_FILE=*) tok=@${src#BENCH_TOKEN_FILE=} ;;
        BENCH_TOKEN=*) tok=${src#BENCH_TOKEN=} ;;
        BENCH_BASIC=*) tok="=Basic ${src#BENCH_BASIC=}" ;;
    esac
    stop_httpd "$inst"
    # callgrind opens OUT as root at start and again as User nobody at exit.
    : >"$out"
    chmod 666 "$out"
    [ "$(id -u)" -ne 0 ] || chown nobody "$out"
    taskset -c "$HTTPD_CPU" valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$APACHE" -X -f "$conf" >"$logs/$inst.callgrind.log" 2>&1 &
    pid=$!
    wait_port "$port" "httpd -X $inst under callgrind" "$pid" >&2 || { tail -n 20 "$logs/$inst.callgrind.log" >&2; return 1; }
    # The first requests fill the caches: both the short and the long run
    # make them, so they drop out of the difference.
    perl "$top/bench/profile-client.pl" "$port" "${V_PATH[$v]}" "$count" "$tok" || { kill -TERM "$pid"; wait "$pid"; return 1; }
    kill -TERM "$pid"
    wait "$pid" || true
    [ -s "$out" ] || { log "callgrind wrote no $out"; return 1; }
}

# perf_variant VARIANT OUT: wrk on the variant for SECS seconds while perf
# samples the instance's children (cpu-clock, 10 kHz: hardware counters are
# not there on every VM); prints the requests wrk made.
perf_variant() {
    local v=$1 out=$2 inst=${V_INST[$1]} kids ppid
    kids=$(children_of "$(httpd_pid "$inst")" | paste -sd, -)
    [ -n "$kids" ] || die "no children of $inst"
    perf record -q -e cpu-clock -F 10000 -p "$kids" -o "$out" >/dev/null 2>&1 &
    ppid=$!
    sleep 0.5
    # shellcheck disable=SC2046
    WRK_CONNS=${V_CONNS[$v]:-$CONNS} wrk_run "$logs/wrk-perf-$v.txt" "$SECS" \
        "http://127.0.0.1:${PORT[$inst]}${V_PATH[$v]}" "${V_SCRIPT[$v]}" $(token_args "$v" 1)
    kill -INT "$ppid" 2>/dev/null || true
    wait "$ppid" || true
    local k
    for k in $wrk_line; do
        if [[ $k == requests=* ]]; then echo "${k#requests=}"; fi
    done
}

# BENCH_PROFILE=perf: where a request's time goes natively, kernel
# included, for each selected variant against its base: microseconds per
# request by shared object and symbol (perf report's samples / 10 kHz /
# requests), variant minus base.
profile_perf() {
    local dir v b nb nv stamp report
    command -v perf >/dev/null || die "perf is missing (linux-perf)"
    dir=$(mktemp -d /tmp/ao2-perf.XXXXXX)
    stamp=$(date '+%Y%m%d-%H%M%S')
    report=$results/profile-perf-$stamp.txt
    printf '# make bench perf profile, %s, commit %s; cpu-clock samples at 10 kHz on the children, %s s of wrk each\n' \
        "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" "$SECS" >"$report"
    for v in "${todo[@]}"; do
        b=${V_BASE[$v]}
        [ "$v" != "$b" ] || continue
        log "perf: $b"
        nb=$(perf_variant "$b" "$dir/$b.data")
        log "perf: $v"
        nv=$(perf_variant "$v" "$dir/$v.data")
        { printf '\n## %s (base %s, %s and %s requests): %s\n' "$v" "$b" "$nv" "$nb" "${V_DESC[$v]}"
          perl "$top/bench/perf-diff.pl" "$nb" "$dir/$b.data" "$nv" "$dir/$v.data"
        } >>"$report"
    done
    cp "$report" "$results/profile-perf-latest.txt"
    cat "$report"
    log "written to $report; perf data in $dir"
}

# BENCH_PROFILE=callgrind: for each selected variant and its base, profiles
# after 200 and after 200 + PROFILE_REQUESTS requests; bench/callgrind-diff.pl
# turns the four outputs into instructions per request above the base and the
# functions they are spent in. Instruction counts do not depend on what else
# the machine does, so a before/after comparison needs no quiet machine.
profile_all() {
    local dir v b n1=200 n2=$((200 + PROFILE_REQUESTS)) stamp report
    command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null || die "valgrind is missing"
    # httpd -X drops to User nobody before callgrind writes its file.
    dir=$(mktemp -d /tmp/ao2-profile.XXXXXX)
    chmod 1777 "$dir"
    stamp=$(date '+%Y%m%d-%H%M%S')
    report=$results/profile-$stamp.txt
    {
        printf '# make bench profile, %s, commit %s%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
            "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
            "$(if git status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then echo ' (+ uncommitted changes)'; fi)"
        printf '# httpd -X under callgrind; each figure: (instructions after %d requests - after %d) / %d\n' "$n2" "$n1" "$PROFILE_REQUESTS"
    } >"$report"
    for v in "${todo[@]}"; do
        b=${V_BASE[$v]}
        [ "$v" != "$b" ] || continue
        for n in "$n1" "$n2"; do
            [ -s "$dir/$b.$n" ] || profile_variant "$b" "$n" "$dir/$b.$n" || die "no profile of $b"
            log "profile: $v after $n requests"
            profile_variant "$v" "$n" "$dir/$v.$n" || die "no profile of $v"
        done
        { printf '\n## %s (base %s): %s\n' "$v" "$b" "${V_DESC[$v]}"
          perl "$top/bench/callgrind-diff.pl" "$n1" "$n2" "$dir/$b.$n1" "$dir/$b.$n2" "$dir/$v.$n1" "$dir/$v.$n2"
        } >>"$report"
    done
    cp "$report" "$results/profile-latest.txt"
    cat "$report"
    log "written to $report; callgrind outputs in $dir"
}

# rss_series LABEL PATH TOKEN: a fresh ao2-shm, then RSS_TOTAL requests to
# PATH with TOKEN in 4 legs (RSS_FIRST, then three equal ones); the sum of
# the children's VmRSS before and after each leg goes to checks.tsv as
# rss:LABEL "requests:kB ...". The plain location is the control: what httpd
# itself does over as many requests, without this module's work.
rss_series() {
    local label=$1 path=$2 tok=$3 url kb pids pids0 done_n=0 leg legs=() i s0=$SECONDS series lines=
    url="http://127.0.0.1:${PORT[ao2-shm]}$path"
    log "RSS ($label): fresh ao2-shm, then $RSS_TOTAL requests to $path"
    stop_httpd ao2-shm
    start_httpd ao2-shm "$HTTPD_CPU" || die "ao2-shm does not restart: $(cat "$logs/ao2-shm.start")"
    wait_idle "${PORT[ao2-shm]}"
    read -r _ _ < <(probe "$url" "$tok")
    read -r kb pids0 < <(rss_children ao2-shm)
    series="0:$kb"
    legs=("$RSS_FIRST")
    for i in 1 2 3; do
        legs+=($(((RSS_TOTAL - RSS_FIRST) * i / 3 - (RSS_TOTAL - RSS_FIRST) * (i - 1) / 3)))
    done
    for leg in "${legs[@]}"; do
        wrk_count "$logs/wrk-rss-$label-$done_n.txt" "$url" "$leg" "$tok"
        lines+="${lines:+ | }${wrk_line#BENCH }"
        done_n=$((done_n + leg))
        wait_idle "${PORT[ao2-shm]}"
        read -r kb pids < <(rss_children ao2-shm)
        series+=" $done_n:$kb"
    done
    check "rss:$label" "$series"
    check "rss_pids:$label" "${pids0// /,} ${pids// /,}"
    check "rss_wrk:$label" "$lines"
    log "RSS of ao2-shm's children ($label), requests:kB: $series ($((SECONDS - s0)) s)"
}

# 32 concurrent first requests with one new foreign token, on an instance.
concurrent_first() { # INSTANCE PATH TOKENS...
    local inst=$1 path=$2 tok calls out=() line k
    shift 2
    local -A m
    for tok in "$@"; do
        prov_stats >/dev/null || true
        prov_reset
        wrk_run "$logs/wrk-concurrent-$inst.txt" 1 "http://127.0.0.1:${PORT[$inst]}$path" fixed.lua BENCH_TOKEN="$tok"
        line=$wrk_line
        wait_idle "${PORT[$inst]}"
        read -r calls _ < <(prov_stats || echo "-1 -1")
        m=()
        for k in $line; do [[ $k == *=* ]] && m[${k%%=*}]=${k#*=}; done
        out+=("$calls/${m[requests]:-?}/${m[status]:-?}")
    done
    check "concurrent:$inst" "${out[*]}"
    log "concurrent first requests on $inst (introspections/requests/non-2xx per token): ${out[*]}"
}

# flood_check RATE KEY [SHARE] [FLOOD-PATH]: valid-token throughput on ao2-shm
# while a second wrk sends RATE distinct random tokens a second and the provider
# hangs (its introspection answers after 60 s, past ApiOAuth2ProviderTimeout):
# the run sits between two runs without the flood, and the ratio is to their
# mean. Also: what the flood got (non-2xx of its requests), provider calls.
# FLOOD-PATH (default /api/r, this module) sends the flood elsewhere on the
# same server: /ctl/r is the control, where mod_auth_basic refuses the Bearer
# header with 401 before this module looks at it.
flood_check() { # RATE CHECK-KEY [SHARE-PERCENT] [FLOOD-PATH]
    local rate=$1 key=$2 site="http://127.0.0.1:${PORT[ao2-shm]}" tok=${TOKEN[mod:ao2-shm]} b0 b1 f line k fpid calls
    local url=$site/api/r furl=$site${4:-/api/r}
    local -A m=() fl=()
    log "flood: valid token on ao2-shm, with and without $rate distinct random tokens/s, provider hanging"
    wrk_run "$logs/wrk-flood-base0.txt" "$SECS" "$url" fixed.lua BENCH_TOKEN="$tok"
    for k in $wrk_line; do [[ $k == *=* ]] && m[${k%%=*}]=${k#*=}; done
    b0=${m[rps]:-0}
    wait_idle "${PORT[ao2-shm]}"
    prov_stats >/dev/null || true
    prov_reset
    curl -sf -m 10 -X POST "$PROVIDER_URL/__delay?endpoint=introspection&ms=60000" >/dev/null
    env BENCH_LUA_DIR="$lua" BENCH_RATE="$rate" BENCH_CONNS="$FLOOD_CONNS" timeout $((SECS + 70)) \
        taskset -c "$LOAD_CPU" wrk -t1 -c"$FLOOD_CONNS" -d"$((SECS + 2))s" --timeout 10s -s "$lua/flood.lua" "$furl" \
        >"$logs/wrk-flood.txt" 2>&1 &
    fpid=$!
    wrk_run "$logs/wrk-flood-valid.txt" "$SECS" "$url" fixed.lua BENCH_TOKEN="$tok"
    m=()
    for k in $wrk_line; do [[ $k == *=* ]] && m[${k%%=*}]=${k#*=}; done
    f=${m[rps]:-0}
    line="valid_status=${m[status]:-?} valid_sockerr=$((m[connect] + m[read] + m[write] + m[timeout]))"
    wait "$fpid" || true
    for k in $(grep -m1 '^BENCH ' "$logs/wrk-flood.txt" || echo failed=1); do [[ $k == *=* ]] && fl[${k%%=*}]=${k#*=}; done
    curl -sf -m 10 -X POST "$PROVIDER_URL/__delay?endpoint=introspection&ms=0" >/dev/null
    read -r calls _ < <(prov_stats || echo "-1 -1")
    wait_idle "${PORT[ao2-shm]}"
    wrk_run "$logs/wrk-flood-base1.txt" "$SECS" "$url" fixed.lua BENCH_TOKEN="$tok"
    m=()
    for k in $wrk_line; do [[ $k == *=* ]] && m[${k%%=*}]=${k#*=}; done
    b1=${m[rps]:-0}
    check "$key" "base0=$b0 flood=$f base1=$b1 $line flood_rps=${fl[rps]:-0} flood_requests=${fl[requests]:-0} flood_non2xx=${fl[status]:-0} provider_calls=$calls rate=$rate${3:+ share=$3}${4:+ path=$4}"
    log "flood: valid $f req/s under the flood, $b0 / $b1 without; flood ${fl[rps]:-0} req/s (${fl[requests]:-0} requests, ${fl[status]:-0} non-2xx), provider calls $calls"
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
main() {
    command -v apt-get >/dev/null 2>&1 && install_packages
    for c in wrk memcached curl openssl node perl taskset ss "$APACHE"; do
        command -v "$c" >/dev/null 2>&1 || die "$c is missing"
    done
    [ -d t/provider/node_modules/oidc-provider ] || die "t/provider/node_modules/oidc-provider is missing: run make deps"
    [ -f "$MODULE" ] || die "$MODULE is missing: run make"
    local ncpu
    ncpu=$(nproc)
    ((HTTPD_CPU < ncpu && LOAD_CPU < ncpu)) || die "needs cores $HTTPD_CPU and $LOAD_CPU (this machine has $ncpu)"

    mkdir -p "$results"
    reap_stale
    local name
    for f in "$run"/logs/*.pid; do
        [ -f "$f" ] || continue
        name=$(basename "$f" .pid)
        pid=$(head -n1 "$f")
        if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$run/conf/$name.conf"; then
            log "stopping leftover httpd $name (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$run"
    mkdir -p "$run/conf" "$logs" "$run/htdocs" "$run/var" "$run/tls"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    select_variants
    local insts
    insts=$(needed_instances | tr '\n' ' ')
    log "variants: ${VARIANTS[*]}"
    log "rounds $ROUNDS x ${SECS}s, wrk -t1 -c$CONNS; httpd on core $HTTPD_CPU, wrk and services on core $LOAD_CPU"

    # --- files ----------------------------------------------------------------
    printf ok >"$run/htdocs/r"
    head -c 32 /dev/urandom >"$run/var/store.key"
    chmod 600 "$run/var/store.key"
    head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$run/var/passphrase"
    for name in ao2-shm ao2-mc ao2-first ao2-mcl ao2-nom; do
        mkdir -p "$run/var/$name" "$run/rt/$name"
        chown nobody:nogroup "$run/var/$name"
        chmod 700 "$run/var/$name"
    done
    for name in oidc-shm oidc-mc oauth2-shm oauth2-mc backend; do mkdir -p "$run/rt/$name"; done
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
        -keyout "$run/tls/key.pem" -out "$run/tls/cert.pem" >/dev/null 2>&1 ||
        die "openssl could not make a certificate"

    conf_ao2 ao2-shm shm >"$run/conf/ao2-shm.conf"
    conf_ao2 ao2-mc "memcache:127.0.0.1:$P_MEMCACHED" >"$run/conf/ao2-mc.conf"
    conf_ao2 ao2-mcl "memcache:127.0.0.1:$P_MEMCACHED" "ApiOAuth2CacheLocalTTL 1" >"$run/conf/ao2-mcl.conf"
    conf_ao2 ao2-nom shm "ApiOAuth2Metrics off" >"$run/conf/ao2-nom.conf"
    conf_ao2 ao2-first shm:64 >"$run/conf/ao2-first.conf"
    if ! "$APACHE" -t -f "$run/conf/ao2-first.conf" >"$logs/ao2-first.configtest" 2>&1 &&
        grep -q 'ApiOAuth2Cache.*shm:64' "$logs/ao2-first.configtest"; then
        # ApiOAuth2Cache does not take a size: with nothing listening at the
        # memcache address, every request misses the cache and reads the store.
        port_open "$P_DEAD" && die "port 127.0.0.1:$P_DEAD must be free (ao2-first's dead memcache)"
        log "ApiOAuth2Cache shm:64 is refused; ao2-first uses memcache:127.0.0.1:$P_DEAD (nothing there) instead"
        V_DESC[ao2-first]="this module, first-seen tokens: $FIRST_TOKENS issued tokens in rotation; ApiOAuth2Cache shm:64 refused, so memcache with no memcached (every request reads the store)"
        conf_ao2 ao2-first "memcache:127.0.0.1:$P_DEAD" >"$run/conf/ao2-first.conf"
    fi
    conf_oidc oidc-shm shm >"$run/conf/oidc-shm.conf"
    conf_oidc oidc-mc memcache >"$run/conf/oidc-mc.conf"
    conf_oauth2 oauth2-shm shm >"$run/conf/oauth2-shm.conf"
    conf_oauth2 oauth2-mc memcache >"$run/conf/oauth2-mc.conf"
    conf_backend >"$run/conf/backend.conf"

    # --- services -------------------------------------------------------------
    local redirects=
    for name in ao2-shm ao2-mc ao2-first ao2-mcl ao2-nom; do
        redirects+="${redirects:+,}http://127.0.0.1:${PORT[$name]}/api/oauth2/callback"
    done
    local memuser=()
    [ "$(id -u)" -eq 0 ] && memuser=(-u nobody)
    start_service memcached "$P_MEMCACHED" memcached -l 127.0.0.1 -p "$P_MEMCACHED" -U 0 "${memuser[@]}" -m 64 -c 4096
    start_service provider "$P_PROVIDER" env AO2_EXTRA_REDIRECTS="$redirects" \
        node "$top/t/provider/server.mjs" --port "$P_PROVIDER"
    start_service https-proxy "$P_TLS" node "$top/bench/https-proxy.mjs" --port "$P_TLS" \
        --target "$PROVIDER_URL" --cert "$run/tls/cert.pem" --key "$run/tls/key.pem"
    start_httpd backend "$LOAD_CPU" || { cat "$logs/backend.start" >&2; die "backend httpd did not start"; }
    for name in $insts; do
        if ! start_httpd "$name" "$HTTPD_CPU"; then
            BROKEN[$name]="does not start: $(grep -v '^\s*$' "$logs/$name.start" | tail -n 3 | tr '\n' ' ')"
            log "httpd $name ${BROKEN[$name]}"
        fi
    done
    log "services and httpd instances up"

    # --- tokens -------------------------------------------------------------------
    export AO2_PROVIDER_URL=$PROVIDER_URL
    local t0=$SECONDS
    for name in ao2-shm ao2-mc ao2-mcl ao2-nom; do
        if [[ " $insts " != *" $name "* ]] || [ -n "${BROKEN[$name]:-}" ]; then continue; fi
        if TOKEN[mod:$name]=$(perl bench/tokens.pl module "http://127.0.0.1:${PORT[$name]}" /api 1 "$name" 2>"$logs/tokens-$name.log"); then
            :
        else
            BROKEN[$name]="no token through the module's flow: $(tail -n 2 "$logs/tokens-$name.log" | tr '\n' ' ')"
            log "$name: ${BROKEN[$name]}"
        fi
    done
    if [[ " $insts " == *" ao2-first "* ]] && [ -z "${BROKEN[ao2-first]:-}" ]; then
        log "issuing $FIRST_TOKENS tokens through ao2-first's flow"
        if ! perl bench/tokens.pl module "http://127.0.0.1:${PORT[ao2-first]}" /api "$FIRST_TOKENS" first \
            >"$run/var/first.tokens" 2>"$logs/tokens-ao2-first.log"; then
            BROKEN[ao2-first]="no tokens through the module's flow: $(tail -n 2 "$logs/tokens-ao2-first.log" | tr '\n' ' ')"
            log "ao2-first: ${BROKEN[ao2-first]}"
        fi
    fi
    # The first-seen variants' tokens, straight from the provider.
    local spec fv mode file
    for spec in ao2-jwt-first:jwt:jwt-first ao2-intro-first:foreign:intro-first; do
        IFS=: read -r fv mode file <<<"$spec"
        [[ " ${VARIANTS[*]} " == *" $fv "* ]] || continue
        log "getting $FIRST_TOKENS $mode tokens from the provider for $fv"
        perl bench/tokens.pl "$mode" "$FIRST_TOKENS" "$file" >"$run/var/$file.tokens" 2>"$logs/tokens-$file.log" ||
            die "no $mode tokens from the provider: $(tail -n 3 "$logs/tokens-$file.log")"
    done
    TOKEN[foreign]=$(perl bench/tokens.pl foreign 1 peer 2>"$logs/tokens-foreign.log") ||
        die "no token from the provider: $(tail -n 3 "$logs/tokens-foreign.log")"
    if [[ " ${VARIANTS[*]} " == *" ao2-jwt-hit "* ]]; then
        TOKEN[jwt]=$(perl bench/tokens.pl jwt 1 jwthit 2>"$logs/tokens-jwt.log") ||
            die "no JWT access token from the provider: $(tail -n 3 "$logs/tokens-jwt.log")"
    fi
    local r v
    for ((r = 0; r <= ROUNDS; r++)); do # round 0: the warm-up
        perl bench/tokens.pl bad "$BAD_TOKENS" >"$run/var/bad-rot-$r.tokens"
        for v in "${VARIANTS[@]}"; do
            [ "${V_TOKEN[$v]}" = bad1 ] && random_token >"$run/var/bad1-$v-$r.token"
        done
    done
    log "tokens ready in $((SECONDS - t0)) s"

    smoke_variants
    local todo=()
    for v in "${VARIANTS[@]}"; do [ -z "${BROKEN[$v]:-}" ] && todo+=("$v"); done
    [[ " ${todo[*]} " == *" plain "* ]] || die "the unprotected baseline does not answer: ${BROKEN[plain]:-?}"
    if [ "$PROFILE" = callgrind ]; then
        profile_all
        return 0
    elif [ "$PROFILE" = perf ]; then
        profile_perf
        return 0
    fi

    # --- meta -------------------------------------------------------------------------
    {
        printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
        printf 'commit\t%s%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
            "$(if git status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then echo ' (+ uncommitted changes)'; fi)"
        printf 'module\t%s\n' "$(stat -c '%y' "$MODULE" | cut -d. -f1)"
        printf 'cpu\t%s\n' "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) ($(nproc) cores)"
        printf 'versions\tapache2 %s, wrk %s, mod_auth_openidc %s, mod_oauth2 %s (liboauth2 %s), memcached %s\n' \
            "$(dpkg-query -W -f='${Version}' apache2)" "$(dpkg-query -W -f='${Version}' wrk)" \
            "$(dpkg-query -W -f='${Version}' libapache2-mod-auth-openidc 2>/dev/null)" \
            "$(dpkg-query -W -f='${Version}' libapache2-mod-oauth2 2>/dev/null)" \
            "$(dpkg-query -W -f='${Version}' liboauth2-0 2>/dev/null)" \
            "$(dpkg-query -W -f='${Version}' memcached)"
        printf 'settings\t%s rounds x %s s, wrk -t1 -c%s --latency, httpd on core %s, wrk and services on core %s; mpm_event 2 x 32 threads; ApiOAuth2CacheTTL %s, ApiOAuth2CacheNegativeTTL %s\n' \
            "$ROUNDS" "$SECS" "$CONNS" "$HTTPD_CPU" "$LOAD_CPU" "$CACHE_TTL" "$NEG_TTL"
        printf 'seconds\t%s\nneg_ttl\t%s\nbad_tokens\t%s\nrounds\t%s\n' "$SECS" "$NEG_TTL" "$BAD_TOKENS" "$ROUNDS"
        for v in "${ALL_VARIANTS[@]}"; do
            printf 'desc:%s\t%s\n' "$v" "${V_DESC[$v]}"
            printf 'base:%s\t%s\n' "$v" "${V_BASE[$v]}"
            printf 'expect:%s\t%s\n' "$v" "${V_EXPECT[$v]}"
        done
        for v in "${VARIANTS[@]}"; do
            [ -n "${BROKEN[$v]:-}" ] && printf 'broken:%s\t%s\n' "$v" "${BROKEN[$v]}"
        done
        printf 'variants\t%s\n' "${VARIANTS[*]}"
    } >"$run/meta.tsv"
    : >"$run/checks.tsv"
    : >"$run/results.tsv"

    # --- warm-up: every variant once, not recorded ------------------------------------
    log "warm-up: ${WARMUP}s per variant"
    for v in "${todo[@]}"; do
        # shellcheck disable=SC2046
        WRK_CONNS=${V_CONNS[$v]:-$CONNS} wrk_run "$logs/wrk-$v-0.txt" "$WARMUP" "http://127.0.0.1:${PORT[${V_INST[$v]}]}${V_PATH[$v]}" \
            "${V_SCRIPT[$v]}" $(token_args "$v" 0)
        wait_idle "${PORT[${V_INST[$v]}]}"
    done

    # --- rounds -----------------------------------------------------------------------
    # Every variant runs between two runs of its base (plain, or proxy-plain
    # for ao2-proxy): B v1 B v2 B ... The machine is shared and its speed
    # drifts within seconds; the report divides each run by the mean of the
    # base runs on either side of it. Each round starts elsewhere in the list.
    if [ -n "${BROKEN[proxy-plain]:-}" ] && [ -z "${BROKEN[ao2-proxy]:-}" ]; then
        BROKEN[ao2-proxy]="its base proxy-plain is not measured"
        printf 'broken:%s\t%s\n' ao2-proxy "${BROKEN[ao2-proxy]}" >>"$run/meta.tsv"
    fi
    local others=() sched=() n i off last b seq
    for v in "${todo[@]}"; do
        [ "${V_BASE[$v]}" = "$v" ] || [ -n "${BROKEN[$v]:-}" ] || others+=("$v")
    done
    n=${#others[@]}
    for ((r = 1; r <= ROUNDS; r++)); do
        sched=() last=
        off=$(((r - 1) * n / ROUNDS))
        for ((i = 0; i < n; i++)); do
            v=${others[$(((i + off) % n))]}
            b=${V_BASE[$v]}
            [ "$last" = "$b" ] || sched+=("$b")
            sched+=("$v" "$b")
            last=$b
        done
        [ "$n" -gt 0 ] || sched=(plain)
        for ((seq = 0; seq < ${#sched[@]}; seq++)); do
            measure "${sched[$seq]}" "$r" "$seq" "${#sched[@]}"
        done
    done

    # --- special checks ---------------------------------------------------------------
    if [ "$SKIP_CHECKS" != 1 ]; then
        local toks=()
        mapfile -t toks < <(perl bench/tokens.pl foreign $((CONCURRENT_TOKENS * 4)) conc 2>>"$logs/tokens-foreign.log") ||
            die "no tokens from the provider for the concurrency check"
        local k=0
        for name in ao2-shm ao2-mc oidc-shm oauth2-shm; do
            if [[ " $insts " != *" $name "* ]] || [ -n "${BROKEN[$name]:-}" ]; then continue; fi
            case $name in ao2-*) path=/api/r ;; *) path=/r ;; esac
            concurrent_first "$name" "$path" "${toks[@]:k:CONCURRENT_TOKENS}"
            k=$((k + CONCURRENT_TOKENS))
        done
    fi

    if [ "$SKIP_CHECKS" != 1 ] && [[ " $insts " == *" ao2-shm "* ]] && [ -z "${BROKEN[ao2-shm]:-}" ]; then
        flood_check "$FLOOD_RATE" flood
        # The same at a rate this machine's httpd core can carry beside the
        # valid traffic (BENCH_FLOOD_SHARE of the unprotected rate of round
        # 1): whether what one flood request costs stays bounded.
        local plain_rps
        plain_rps=$(awk -F'\t' '$1 == 1 && $3 == "plain" && $5 > 0 { print int($5); exit }' "$run/results.tsv")
        if [ -n "$plain_rps" ]; then
            flood_check "$(awk -v r="$plain_rps" -v s="$FLOOD_SHARE" 'BEGIN { print int(r * s / 100) }')" flood-share "$FLOOD_SHARE"
        fi
        # The control: the same flood refused by httpd alone (mod_auth_basic,
        # wrong scheme), what any refused request costs on this machine.
        flood_check "$FLOOD_RATE" flood-ctl "" /ctl/r
    fi

    if [ "$SKIP_RSS" != 1 ] && [[ " ${todo[*]} " == *" ao2-shm-hit "* ]]; then
        rss_series module /api/r "${TOKEN[mod:ao2-shm]}"
        [ "$SKIP_RSS_CONTROL" = 1 ] || rss_series plain /plain ""
    fi

    # Whole-run error_log summary per instance: crashed children, error lines.
    for name in $insts; do
        check "log:$name" "$(grep -cE 'exit signal' "$logs/$name.error_log" 2>/dev/null || true) $(grep -cE '\[[a-z_0-9]*:(error|crit|alert|emerg)\]' "$logs/$name.error_log" 2>/dev/null || true)"
    done

    # --- report --------------------------------------------------------------------------
    local stamp report
    stamp=$(date '+%Y%m%d-%H%M%S')
    report=$results/bench-$stamp.md
    perl bench/report.pl "$run" >"$report"
    cp "$report" "$results/latest.md"
    cat "$report"
    log "written to $report and $results/latest.md"
}

main "$@"
