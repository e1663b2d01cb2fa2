#!/usr/bin/env bash
# Runs the unit tests and the Apache::Test suite under valgrind (memcheck).
# httpd runs through a wrapper: its children are forked, so valgrind follows
# them. Fails when a report names the module's code. The dynamic loader's own
# reports (strncmp in dl-load.c on Debian 12) are not the module's.
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
if grep -l -E 'ao2_|mod_api_oauth2' "$logs"/vg.*.log >/dev/null 2>&1; then
    echo "tools/valgrind.sh: valgrind reports in the module's code:" >&2
    grep -l -E 'ao2_|mod_api_oauth2' "$logs"/vg.*.log >&2
    exit 1
fi
echo "tools/valgrind.sh: no valgrind report in the module's code"
exit $rc
