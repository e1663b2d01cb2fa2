#!/bin/sh
# Builds the libFuzzer harnesses and runs each for SECONDS (default 60).
#   t/fuzz/run.sh [SECONDS]        (make fuzz: 12 s each, as CI runs it)
# Binaries, new corpus entries and crash inputs go to $AO2_FUZZ_OUT (default:
# a fresh temporary directory, removed after a clean run), so a run never
# writes into the tree; the seeds in t/fuzz/corpus/ are only read. Needs
# clang and libclang-rt-14-dev (tools/deps.sh installs them).
#
# Fails on any finding: a harness that exits non-zero (crash, sanitizer
# report, leak, timeout, out-of-memory), that leaves an artifact, or that
# executed no input at all.
set -eu

seconds=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${AO2_FUZZ_OUT:-}" ]; then
    out=$AO2_FUZZ_OUT keep=1
else
    out=$(mktemp -d "${TMPDIR:-/tmp}/ao2-fuzz.XXXXXX") keep=0
fi
cc=${CLANG:-clang}
mkdir -p "$out/obj"
command -v "$cc" >/dev/null 2>&1 || { echo "t/fuzz/run.sh: $cc not found (tools/deps.sh)" >&2; exit 1; }

# The same warnings as the module build: a harness is code we keep. The
# sources under test are compiled once with the fuzzer's coverage
# instrumentation; each harness links them with libFuzzer's main.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-g -O1 -fno-omit-frame-pointer $san
        -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wno-unused-parameter
        $(apr-1-config --cflags --cppflags --includes)
        $(apu-1-config --includes) -I$top/src"
libs="$(apr-1-config --link-ld --libs) -lcjose -ljansson -lcrypto"
srcs="ao2_err ao2_crypto ao2_json ao2_params ao2_oauth2 ao2_record ao2_verdict ao2_jose"

# harness:max_len:dictionary. Form and JSON inputs go past the 8 KiB value
# bound and the 64-field bound, or those paths are never reached. Verdicts
# go past AO2_VERDICT_MAX, which only the caller enforces.
harnesses="form:40000:form.dict json:40000:json.dict json_flat:8192:json.dict
           b64url:4096: unseal:4096:
           token_response:16384:oauth2.dict introspection:16384:oauth2.dict
           id_token:16384: verdict:2048: store:8192:store.dict
           jws:20000:jose.dict"

objs=
for s in $srcs; do
    # shellcheck disable=SC2086 # the flag lists are meant to split
    $cc $cflags -fsanitize=fuzzer-no-link -c -o "$out/obj/$s.o" "$top/src/$s.c"
    objs="$objs $out/obj/$s.o"
done
for h in $harnesses; do
    name=${h%%:*}
    # shellcheck disable=SC2086
    $cc $cflags -fsanitize=fuzzer -o "$out/fuzz_$name" "$top/t/fuzz/fuzz_$name.c" $objs $libs
done

status=0
for h in $harnesses; do
    name=${h%%:*}
    rest=${h#*:}
    max_len=${rest%%:*}
    dict=${rest#*:}
    log=$out/fuzz_$name.log
    mkdir -p "$out/corpus_$name"
    echo "== fuzz_$name for ${seconds}s"
    rc=0
    "$out/fuzz_$name" -max_total_time="$seconds" -max_len="$max_len" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/$name-" \
        ${dict:+-dict="$top/t/fuzz/$dict"} \
        "$out/corpus_$name" "$top/t/fuzz/corpus/$name" \
        >"$log" 2>&1 || rc=$?
    units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    artifacts=$(find "$out" -maxdepth 1 -name "$name-*" -type f)
    if [ "$rc" -ne 0 ] || [ -n "$artifacts" ] || [ "${units:-0}" -eq 0 ]; then
        status=1
        echo "fuzz_$name FAILED (exit $rc, ${units:-no} inputs run${artifacts:+, artifacts: $artifacts}); log: $log"
        tail -n 30 "$log"
    else
        echo "fuzz_$name: $units inputs, no finding"
    fi
done
if [ "$status" -ne 0 ]; then
    echo "t/fuzz/run.sh: FAILED; binaries, logs and crash inputs in $out" >&2
elif [ "$keep" = 0 ]; then
    rm -rf "$out"
fi
exit $status
