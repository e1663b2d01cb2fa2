#!/usr/bin/env bash
# The build flavours do not leak into each other: after the asan flavour is
# built, a plain `make` leaves (or rebuilds) a plain .libs/mod_api_oauth2.so
# that carries no sanitizer symbol and that httpd loads. Run by .ci/run.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
# grep -c reads all of nm's output (grep -q would stop early: SIGPIPE, and
# pipefail would call it a failure).
sanitized() { nm -D "$1" 2>/dev/null | grep -c ' U __\(asan\|ubsan\)_' >/dev/null; }
fail() { echo "tools/flavourcheck.sh: FAILED: $*" >&2; exit 1; }

make -s asan-build >/dev/null
make -s all t/unit/run >/dev/null
for f in .libs/mod_api_oauth2.so t/unit/run; do
    if sanitized "$f"; then
        fail "$f carries sanitizer symbols after make asan-build; make"
    fi
done
sanitized build/asan/.libs/mod_api_oauth2.so ||
    fail "build/asan/.libs/mod_api_oauth2.so is not the asan flavour"
out=$(tools/loadcheck.sh .libs/mod_api_oauth2.so 2>&1) || fail "httpd does not load the plain module: $out"
t/unit/run >/dev/null || fail "the plain t/unit/run fails"
echo "tools/flavourcheck.sh: plain and asan builds are apart; the plain module loads"
