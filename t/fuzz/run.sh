#!/bin/sh
# Builds the libFuzzer harnesses and runs each for SECONDS (default 60).
#   t/fuzz/run.sh [SECONDS]
# Binaries, new corpus entries and crash inputs go to $AO2_FUZZ_OUT (default:
# a fresh temporary directory), so a run never writes into the tree; the
# seeds in t/fuzz/corpus/ are only read. Needs clang and libclang-rt-14-dev.
set -eu

seconds=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${AO2_FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/ao2-fuzz.XXXXXX")}
cc=${CLANG:-clang}
mkdir -p "$out"

# The same warnings as the module build: a harness is code we keep.
cflags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=undefined -Wall -Wextra -Werror -Wshadow
        -Wmissing-prototypes -Wno-unused-parameter
        $(apr-1-config --cflags --cppflags --includes)
        $(apu-1-config --includes) -I$top/src"
libs="$(apr-1-config --link-ld --libs) -ljansson -lcrypto"
srcs="$top/src/ao2_err.c $top/src/ao2_crypto.c $top/src/ao2_json.c
      $top/src/ao2_params.c $top/src/ao2_oauth2.c $top/src/ao2_record.c
      $top/src/ao2_verdict.c"

# harness:max_len:dictionary. Form and JSON inputs go past the 8 KiB value
# bound and the 64-field bound, or those paths are never reached. Verdicts
# go past AO2_VERDICT_MAX, which only the caller enforces.
harnesses="form:40000:form.dict json:40000:json.dict b64url:4096: unseal:4096:
           token_response:16384:oauth2.dict introspection:16384:oauth2.dict
           id_token:16384: verdict:2048: store:8192:store.dict"

for h in $harnesses; do
    name=${h%%:*}
    # shellcheck disable=SC2086 # the flag lists are meant to split
    $cc $cflags -o "$out/fuzz_$name" "$top/t/fuzz/fuzz_$name.c" $srcs $libs
done

status=0
for h in $harnesses; do
    name=${h%%:*}
    rest=${h#*:}
    max_len=${rest%%:*}
    dict=${rest#*:}
    mkdir -p "$out/corpus_$name"
    echo "== fuzz_$name for ${seconds}s (output in $out)"
    "$out/fuzz_$name" -max_total_time="$seconds" -max_len="$max_len" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/$name-" \
        ${dict:+-dict="$top/t/fuzz/$dict"} \
        "$out/corpus_$name" "$top/t/fuzz/corpus/$name" \
        >"$out/fuzz_$name.log" 2>&1 || {
        status=1
        echo "fuzz_$name FAILED: see $out/fuzz_$name.log"
        tail -n 30 "$out/fuzz_$name.log"
    }
    grep -E '^stat::number_of_executed_units' "$out/fuzz_$name.log" || true
done
exit $status
