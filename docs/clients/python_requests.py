#!/usr/bin/python3
"""An API client of mod_api_oauth2 with Python `requests` (docs/clients.md).

    CLIENT_SECRET=... python_requests.py API_URL CLIENT_ID CLIENT_USER_IDENTITY [API_PATH]

    API_URL               the API location, e.g. https://erp.example.com/jsonapiext
    CLIENT_ID             this client's id (ApiOAuth2Client); its secret comes
                          from $CLIENT_SECRET, never from the command line (ps
                          shows arguments to every local user)
    CLIENT_USER_IDENTITY  this client's own name for the end user, e.g. user-42
    API_PATH              what to call with the token (default: res.partner)

What a user of the Odoo module api_auth_oauth2 does, step by step: ask for
the authorization URL, open it in the end user's browser, receive the token
information once the end user has logged in, call the API, refresh, revoke.
Each step prints "STEP: STATUS JSON". The answers hold live tokens: a real
client keeps them in its own storage and never prints them.

The browser is Python's `webbrowser`, which honours $BROWSER (a command the
URL is appended to, or which names it with %s). After the login the
provider sends the browser to the module's callback, which stores the tokens
under CLIENT_USER_IDENTITY and shows the token information to the browser.
This client learns it from the module, not from the browser: it asks
/oauth2/token for the identity until the answer is no longer 404 not_found
(no record yet). So the identity must have no record when the example starts
(a first authorization, or one revoked since); the example revokes at the end.
"""

import json
import os
import sys
import time
import urllib.parse
import webbrowser

import requests

TIMEOUT = 30  # seconds for each HTTP request
POLL_EVERY = 2  # seconds between two looks for the finished login


def show(step, r):
    """Print one step's answer and return its JSON."""
    try:
        body = r.json()
    except ValueError:
        body = r.text
    print(f"{step}: {r.status_code} {json.dumps(body, sort_keys=True)}", flush=True)
    # A refusal of the API says why in its challenge too (RFC 6750 §3).
    if "WWW-Authenticate" in r.headers:
        print(f"{step}: WWW-Authenticate: {r.headers['WWW-Authenticate']}", flush=True)
    return body


def expect(step, r, status=200):
    body = show(step, r)
    if r.status_code != status:
        sys.exit(f"{step}: expected {status}, got {r.status_code}")
    return body


class Client:
    def __init__(self, api, client_id, client_secret, identity):
        self.api = api.rstrip("/")
        self.identity = identity
        self.session = requests.Session()
        # RFC 6749 §2.3.1: id and secret are form-encoded, then HTTP Basic.
        self.session.auth = (
            urllib.parse.quote_plus(client_id),
            urllib.parse.quote_plus(client_secret),
        )

    def endpoint(self, name):
        """POST {"client_user_identity": ...} to /oauth2/NAME, as JSON."""
        return self.session.post(
            f"{self.api}/oauth2/{name}",
            json={"client_user_identity": self.identity},
            timeout=TIMEOUT,
        )

    def call_api(self, path, access_token):
        # Only the Authorization header carries the token: a plain request,
        # not the session (whose Basic credentials would replace it).
        return requests.get(
            f"{self.api}/{path.lstrip('/')}",
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=TIMEOUT,
        )

    def wait_for_login(self, seconds):
        """The token information, once the end user's login has stored it."""
        deadline = time.monotonic() + seconds
        while True:
            r = self.endpoint("token")
            if r.status_code != 404 or time.monotonic() >= deadline:
                return r
            time.sleep(POLL_EVERY)


def main(argv):
    if len(argv) not in (4, 5):
        sys.exit(__doc__.split("\n\n")[1])
    api, client_id, identity = argv[1:4]
    path = argv[4] if len(argv) == 5 else "res.partner"
    secret = os.environ.get("CLIENT_SECRET")
    if not secret:
        sys.exit("set CLIENT_SECRET to the client's secret")
    client = Client(api, client_id, secret, identity)

    # 1. The provider's authorization URL for this end user.
    start = expect("authorize", client.endpoint("provider/authorize"))

    # 2. The end user logs in there, in a browser.
    url = start["authorization_url"]
    if not webbrowser.open(url):
        print(f"open this URL in a browser and log in:\n{url}", file=sys.stderr)

    # 3. The token information, once the callback has stored it: within the
    #    state's lifetime, or never.
    tokens = expect("token information", client.wait_for_login(start["expires_in"]))

    # 4. The API, with the access token (the backend sees the login).
    expect("api", client.call_api(path, tokens["access_token"]))

    # 5. Refresh, as when the access token has expired or is refused: new
    #    tokens, the old access token no longer counting; within the refresh
    #    window of the last refresh (step 3's, here) the tokens in use.
    fresh = expect("refresh", client.endpoint("token"))
    expect("api after refresh", client.call_api(path, fresh["access_token"]))

    # 6. Revoke: at the provider and here; the access token is dead at once.
    expect("revoke", client.endpoint("revoke"))
    expect("api after revoke", client.call_api(path, fresh["access_token"]), 401)


if __name__ == "__main__":
    main(sys.argv)
