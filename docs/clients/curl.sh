#!/bin/bash
# An API client of mod_api_oauth2 with curl and jq (docs/clients.md).
#
#   CLIENT_SECRET=... curl.sh API_URL CLIENT_ID CLIENT_USER_IDENTITY [API_PATH]
#
# The same steps as python_requests.py: ask for the authorization URL, open
# it in the end user's browser ("${BROWSER:-xdg-open}" URL, or print it),
# learn the token information from /oauth2/token once the login has stored
# it (404 not_found until then), call the API, refresh, revoke. Each step
# prints "STEP: STATUS JSON"; the answers hold live tokens, which a real
# client keeps to itself. The client secret comes from $CLIENT_SECRET and
# reaches curl on its standard input, never on a command line (ps shows
# those to every local user).
set -euo pipefail

poll_every=2    # seconds between two looks for the finished login

die() { echo "curl.sh: $*" >&2; exit 1; }

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    die "usage: CLIENT_SECRET=... curl.sh API_URL CLIENT_ID CLIENT_USER_IDENTITY [API_PATH]"
fi
api=${1%/} client_id=$2 identity=$3 path=${4:-res.partner}
[ -n "${CLIENT_SECRET:-}" ] || die "set CLIENT_SECRET to the client's secret"

# RFC 6749 §2.3.1: id and secret are form-encoded, then HTTP Basic; after
# encoding neither holds a quote or a backslash, so they fit curl's config
# syntax as they are.
uri() { jq -rn --arg v "$1" '$v | @uri'; }
basic="user = \"$(uri "$client_id"):$(uri "$CLIENT_SECRET")\""
body=$(jq -cn --arg u "$identity" '{client_user_identity: $u}')

# request STEP CURL-ARGS...: sets status, challenge (WWW-Authenticate) and
# answer; prints the step unless quiet=1. (%header: curl 7.84 or later.)
request() {
    local step=$1 out
    shift
    out=$(curl -sS --max-time 30 -w '\n%header{www-authenticate}\n%{http_code}' "$@") ||
        die "$step: curl failed"
    status=${out##*$'\n'}
    out=${out%$'\n'*}
    challenge=${out##*$'\n'}
    answer=${out%$'\n'*}
    [ "${quiet:-0}" = 1 ] || show "$step"
}
# show STEP: the last answer, as "STEP: STATUS JSON", and a refusal's
# challenge (RFC 6750 §3) as "STEP: WWW-Authenticate: ...".
show() {
    printf '%s: %s %s\n' "$1" "$status" "$(jq -cS . <<<"$answer" 2>/dev/null || printf '%s' "$answer")"
    [ -z "$challenge" ] || printf '%s: WWW-Authenticate: %s\n' "$1" "$challenge"
}
# expect STATUS: the last request answered that, or stop here.
expect() { [ "$status" = "$1" ] || die "expected $1, got $status"; }

# endpoint STEP NAME: POST {"client_user_identity": ...} to /oauth2/NAME.
endpoint() {
    request "$1" -K - -H 'Content-Type: application/json' -d "$body" "$api/oauth2/$2" <<<"$basic"
}
# call_api STEP ACCESS_TOKEN: the API with the token in the Authorization header.
call_api() {
    request "$1" -K - "$api/${path#/}" <<<"header = \"Authorization: Bearer $2\""
}

# 1. The provider's authorization URL for this end user.
endpoint authorize provider/authorize
expect 200
url=$(jq -r .authorization_url <<<"$answer")
lifetime=$(jq -r .expires_in <<<"$answer")

# 2. The end user logs in there, in a browser.
browser=${BROWSER:-xdg-open}
if ! command -v "${browser%% *}" >/dev/null || ! $browser "$url"; then
    printf 'open this URL in a browser and log in:\n%s\n' "$url" >&2
fi

# 3. The token information, once the callback has stored it: within the
#    state's lifetime, or never.
deadline=$((SECONDS + lifetime))
while :; do
    quiet=1 endpoint "token information" token
    if [ "$status" != 404 ] || [ "$SECONDS" -ge "$deadline" ]; then
        break
    fi
    sleep "$poll_every"
done
show "token information"
expect 200
access_token=$(jq -r .access_token <<<"$answer")

# 4. The API, with the access token (the backend sees the login).
call_api api "$access_token"
expect 200

# 5. Refresh, as when the access token has expired or is refused: new
#    tokens, the old access token no longer counting; within the refresh
#    window of the last refresh (step 3's, here) the tokens in use.
endpoint refresh token
expect 200
access_token=$(jq -r .access_token <<<"$answer")
call_api "api after refresh" "$access_token"
expect 200

# 6. Revoke: at the provider and here; the access token is dead at once.
endpoint revoke revoke
expect 200
call_api "api after revoke" "$access_token"
expect 401
