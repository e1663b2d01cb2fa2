#!/usr/bin/env bash
# make faults: every fault scenario of t/faults/ at full size (AO2_FAULTS_FULL=1:
# a 10-minute soak, 1,000 identities, longer load phases), all on 127.0.0.1,
# each bounded in time and stopping by itself. Prints one "figure:" line per
# scenario at the end. `make test` runs the same files at a small size.
#
#   tools/faults.sh                       # all scenarios
#   AO2_SOAK_SECONDS=60 tools/faults.sh   # a shorter soak
#   tools/faults.sh t/faults/graceful.t   # one
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1
export AO2_FAULTS_FULL=1
log=$(mktemp /tmp/ao2-faults.XXXXXX)
if [ "$#" -eq 0 ]; then
    set -- t/faults/*.t
fi
tools/test.sh -v "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
echo
echo "== make faults: figures"
grep -h '^# figure:' "$log" | sed 's/^# figure: /  /'
echo "== make faults: $(grep -c '^ok ' "$log") checks passed, $(grep -c '^not ok ' "$log") failed (full log: $log)"
exit "$rc"
