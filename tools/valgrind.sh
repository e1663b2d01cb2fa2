#!/usr/bin/env bash
# Runs the unit tests and the Apache::Test suite under valgrind (memcheck).
# httpd runs through a wrapper: its children are forked, so valgrind follows
# them. Fails when a report names the module's code, when the suite fails
# under valgrind (httpd that did not start included) and when no httpd ever
# ran under valgrind: only a passing suite with valgrind logs reads as clean.
# The dynamic loader's own reports (strncmp in dl-load.c on Debian 12) are not
# the module's.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1

valgrind --quiet --error-exitcode=1 --leak-check=full t/unit/run >/dev/null ||
    { echo "tools/valgrind.sh: t/unit/run has valgrind errors" >&2; exit 1; }
echo "tools/valgrind.sh: t/unit/run clean"

logs=$top/t/var/valgrind
rm -rf "$logs"
mkdir -p "$logs"
chmod 1777 "$logs"
wrapper=$top/t/var/apache2-valgrind
cat >"$wrapper" <<WRAP
#!/bin/sh
exec valgrind --quiet --leak-check=no --log-file=$logs/vg.%p.log /usr/sbin/apache2 "\$@"
WRAP
chmod 755 "$wrapper"
AO2_HTTPD=$wrapper APACHE_TEST_STARTUP_TIMEOUT=120 tools/test.sh "$@"
rc=$?
shopt -s nullglob
vglogs=("$logs"/vg.*.log)
if [ "${#vglogs[@]}" -eq 0 ]; then
    echo "tools/valgrind.sh: FAILED: no valgrind log in $logs, httpd never ran under valgrind" >&2
    exit 1
fi
reports=$(grep -l -E 'ao2_|mod_api_oauth2' "${vglogs[@]}")
if [ -n "$reports" ]; then
    echo "tools/valgrind.sh: FAILED: valgrind reports in the module's code:" >&2
    echo "$reports" >&2
    exit 1
fi
if [ "$rc" -ne 0 ]; then
    echo "tools/valgrind.sh: FAILED: the suite failed under valgrind (exit $rc), see above" >&2
    exit "$rc"
fi
echo "tools/valgrind.sh: suite passed; no valgrind report in the module's code (${#vglogs[@]} processes)"
exit 0
