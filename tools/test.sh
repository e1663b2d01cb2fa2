#!/usr/bin/env bash
# Runs the Apache::Test suite (t/*.t) against the built module.
#
#   tools/test.sh                 # everything
#   tools/test.sh -v t/02_refresh.t   # arguments go to t/TEST
#   AO2_ASAN=1 tools/test.sh      # the asan flavour (make asan-build:
#                                 # build/asan/), -fsanitize=address,undefined;
#                                 # libasan is preloaded into apache2 only; any
#                                 # sanitizer report fails the run
#
# Needs: make (the module, t/unit/run), tools/deps.sh (packages, npm ci).
# Exits non-zero on any failure, also when httpd did not start or the harness
# did not report every test as passed; the harness summary is always printed.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1
umask 022

die() { echo "tools/test.sh: $*" >&2; exit 1; }

# --- the test provider's node modules -----------------------------------------
prov=t/provider
if [ ! -d "$prov/node_modules" ] || [ "$prov/package-lock.json" -nt "$prov/node_modules/.package-lock.json" ]; then
    echo "tools/test.sh: npm ci in $prov"
    (cd "$prov" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in $prov"
fi

# --- the flavour under test ----------------------------------------------------
# The run copy always loads .libs/mod_api_oauth2.so and runs t/unit/run; for
# the asan flavour those are replaced by build/asan's below. A module of the
# wrong flavour would not even load (ASan's symbols) or would check nothing.
# grep -c reads all of nm's output (grep -q would stop early: SIGPIPE).
sanitized() { nm -D "$1" 2>/dev/null | grep -c ' U __asan_' >/dev/null; }
if [ "${AO2_ASAN:-0}" = 1 ]; then
    module=build/asan/.libs/mod_api_oauth2.so unit=build/asan/unit-run
    [ -f "$module" ] && [ -x "$unit" ] || die "$module or $unit is missing: run make asan-build"
    sanitized "$module" || die "$module is not built with ASan"
else
    module=.libs/mod_api_oauth2.so unit=t/unit/run
    [ -f "$module" ] || die "$module is missing: run make first"
    if sanitized "$module"; then
        die "$module is built with ASan (an old make asan?): run make clean-module all"
    fi
fi

# --- a run directory the httpd children can reach ----------------------------
# The children run as an unprivileged user (nobody), and a checkout may sit
# where that user cannot even search (a 0700 home such as /root/src). So the
# suite never runs in the checkout: it runs in a fresh copy under /tmp, 0755,
# made for this run. t/logs in the checkout becomes a link to the copy's logs;
# the previous run's copy is removed when the next run starts.
run_parent=${AO2_RUN_PARENT:-/tmp}
if [ -L t/logs ]; then
    old=$(readlink t/logs)
    case $old in
    "$run_parent"/ao2-test.*/t/logs) rm -rf "${old%/t/logs}" ;;
    esac
    rm -f t/logs
fi
rm -rf t/logs
run=$(mktemp -d "$run_parent/ao2-test.XXXXXX") || die "cannot make a run directory in $run_parent"
chmod 0755 "$run"
tar -C "$top" --exclude=./.git --exclude=./t/provider/node_modules \
    --exclude=./bench/results --exclude=./t/logs --exclude=./t/var --exclude=./run \
    --exclude=./build -cf - . | tar -C "$run" -xf - || die "cannot copy the checkout to $run"
if [ "$module" != .libs/mod_api_oauth2.so ]; then
    mkdir -p "$run/.libs"
    cp "$module" "$run/.libs/mod_api_oauth2.so" && cp "$unit" "$run/t/unit/run" ||
        die "cannot copy $module and $unit to $run"
fi
chmod -R a+rX "$run"
ln -s "$top/t/provider/node_modules" "$run/t/provider/node_modules"
mkdir -p "$run/t/logs"
ln -s "$run/t/logs" t/logs
echo "tools/test.sh: running in $run (logs: t/logs -> $run/t/logs)"
# Paths given as arguments may name the checkout's files: the copy's instead.
args=()
for a in "$@"; do
    args+=("${a/#$top\//$run/}")
done
set -- ${args[@]+"${args[@]}"}
cd "$run" || exit 1
top=$run

# --- Apache::Test environment ----------------------------------------------------
export APACHE_TEST_ULIMIT_SET=1
export APACHE_TEST_HTTPD=${AO2_HTTPD:-/usr/sbin/apache2}
export APACHE_TEST_APXS=/usr/bin/apxs
# t/TEST.PL derives every port from AO2_PORT_BASE (default 8529).
export APACHE_TEST_STARTUP_TIMEOUT=${APACHE_TEST_STARTUP_TIMEOUT:-60}
export APACHE_TEST_NO_COLOR=1
export APACHE_TEST_COLOR=0

asan_dir=
if [ "${AO2_ASAN:-0}" = 1 ]; then
    # The runtimes of the compiler that built the module (apxs uses gcc).
    preload=
    for lib in libasan.so libubsan.so; do
        path=$(gcc -print-file-name=$lib)
        [ -e "$path" ] && [ "$path" != "$lib" ] || die "$lib not found (gcc -print-file-name=$lib)"
        preload=${preload:+$preload:}$(readlink -f "$path")
    done
    mkdir -p t/var
    asan_dir=$top/t/var/asan
    rm -rf "$asan_dir"
    mkdir -p "$asan_dir"
    chmod 1777 "$asan_dir"    # the httpd children run as nobody
    # Sanitizer options for every process: httpd (parent and children) and
    # t/unit/run; node, perl and memcached are not instrumented and ignore them.
    export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:disable_coredump=1:log_path=$asan_dir/asan"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$asan_dir/ubsan"
    # httpd itself is not instrumented: the ASan runtime must come first in its
    # library list, so preload it into apache2 only, through a wrapper. UBSan's
    # runtime too: apxs/libtool link the .so without -fsanitize, so nothing else
    # would bring the __ubsan_* (or __asan_*) symbols the module calls.
    wrapper=$top/t/var/apache2-asan
    cat >"$wrapper" <<EOF
#!/bin/sh
# Generated by tools/test.sh (AO2_ASAN=1): apache2 with the ASan runtime preloaded.
LD_PRELOAD="$preload\${LD_PRELOAD:+:\$LD_PRELOAD}" exec /usr/sbin/apache2 "\$@"
EOF
    chmod 0755 "$wrapper"
    export APACHE_TEST_HTTPD=$wrapper
    echo "tools/test.sh: ASan/UBSan on (apache2 via $wrapper; reports in $asan_dir)"
fi

# --- generate t/TEST and a fresh configuration, then run ----------------------------
clean_log=$(mktemp)
perl t/TEST.PL -clean >"$clean_log" 2>&1 || { cat "$clean_log"; rm -f "$clean_log"; die "perl t/TEST.PL -clean failed"; }
rm -f "$clean_log"

# The harness's exit status alone is not enough: when httpd does not start,
# Apache::Test may stop before any test ran. Only its own "All tests
# successful" line counts as a pass.
out=$top/t/logs/harness.out
t/TEST "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 0 ] && ! grep -q '^All tests successful' "$out"; then
    echo "tools/test.sh: the harness did not report all tests successful" >&2
    rc=1
fi
if grep -qE 'server failed to start|failed to start server|server has died|Cannot load .*mod_api_oauth2' "$out" t/logs/error_log 2>/dev/null; then
    echo "tools/test.sh: httpd did not start (see t/logs/error_log)" >&2
    [ "$rc" -ne 0 ] || rc=1
fi

if [ -n "$asan_dir" ]; then
    reports=$(find "$asan_dir" -type f -size +0 2>/dev/null | sort)
    if [ -n "$reports" ]; then
        echo "tools/test.sh: sanitizer reports:" >&2
        for f in $reports; do
            echo "==== $f" >&2
            head -n 60 "$f" >&2
        done
        [ "$rc" -ne 0 ] || rc=1
    else
        echo "tools/test.sh: no sanitizer reports"
    fi
fi

if [ "$rc" -ne 0 ]; then
    echo "tools/test.sh: FAILED (exit $rc); logs in t/logs/ (error_log, provider.log, backend.log, memcached.log)" >&2
    exit "$rc"
fi
exit 0
