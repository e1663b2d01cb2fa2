#!/usr/bin/python3
"""The second test provider: django-oauth-toolkit's OpenID Connect provider.

    /usr/bin/python3 t/dot/server.py --dir DIR --httpd-port P --port Q

Makes DIR (the run's t/logs/dot), a fresh RSA signing key and an SQLite
database there, migrates it, adds the test users and OAuth2 applications
(below), and serves http://127.0.0.1:Q/ (issuer http://127.0.0.1:Q/o) with
Django's threaded development server. It listens only once all that is done,
so a connectable port means ready. Stops on SIGTERM.

Users: alice, bob, carol, dave, erin, frank (password "x",
e-mail <name>@dot.example). Applications (confidential, authorization code,
ID tokens signed RS256):
  dot-client / dot-secret    the module's client (callbacks of /dotapi,
                             /dotfull) and /dotdirect/callback, where a test
                             takes a code itself
  dot-other / other-secret   another client of the same provider
  dot-hs / hs-secret         the callback of /dothsapi; its ID tokens are
                             signed HS256 with the client secret, as DOT
                             offers, which the module refuses
"""
import argparse
import os
import secrets
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

USERS = ["alice", "bob", "carol", "dave", "erin", "frank"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--httpd-port", type=int, required=True)
    a = ap.parse_args()

    os.makedirs(a.dir, exist_ok=True)
    db = os.path.join(a.dir, "db.sqlite3")
    if os.path.exists(db):
        os.unlink(db)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(os.path.join(a.dir, "oidc.key"),
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ["DJANGO_SETTINGS_MODULE"] = "ao2dot.settings"
    os.environ["AO2_DOT_DIR"] = a.dir
    os.environ["AO2_DOT_PORT"] = str(a.port)
    os.environ["AO2_DOT_SECRET"] = secrets.token_urlsafe(32)

    import django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0, interactive=False)

    from django.contrib.auth.models import User
    from oauth2_provider.models import Application
    for name in USERS:
        User.objects.create_user(name, "%s@dot.example" % name, "x")
    web = "http://127.0.0.1:%d" % a.httpd_port
    direct = web + "/dotdirect/callback"
    for cid, secret, redirects, alg in (
        ("dot-client", "dot-secret",
         [web + "/dotapi/oauth2/callback", web + "/dotfull/oauth2/callback", direct],
         Application.RS256_ALGORITHM),
        ("dot-other", "other-secret", [direct], Application.RS256_ALGORITHM),
        ("dot-hs", "hs-secret", [web + "/dothsapi/oauth2/callback"],
         Application.HS256_ALGORITHM),
    ):
        Application.objects.create(
            name=cid, client_id=cid, client_secret=secret,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(redirects), algorithm=alg)

    from django.core.servers.basehttp import run
    from django.core.wsgi import get_wsgi_application
    print("dot: serving http://127.0.0.1:%d/o" % a.port, flush=True)
    run("127.0.0.1", a.port, get_wsgi_application(), ipv6=False, threading=True)


if __name__ == "__main__":
    main()
