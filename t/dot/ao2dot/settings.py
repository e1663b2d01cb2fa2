# Django settings of the second test provider: django-oauth-toolkit's
# OpenID Connect provider as Debian ships it (python3-django-oauth-toolkit),
# configured the way its documentation says, nothing patched. t/dot/server.py
# sets the environment read here before Django starts.
import os

_DIR = os.environ["AO2_DOT_DIR"]          # the run's t/logs/dot
_PORT = os.environ["AO2_DOT_PORT"]

SECRET_KEY = os.environ["AO2_DOT_SECRET"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "ao2dot.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
]
# Django's defaults from startproject: CommonMiddleware answers a path
# without its trailing slash with a 301 to the one with it (APPEND_SLASH),
# which is how DOT's discovery document is reached at the issuer's
# /.well-known/openid-configuration.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
    ]},
}]
DATABASES = {"default": {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.path.join(_DIR, "db.sqlite3"),
}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# Test users have the password "x": a fast hasher, not a safe one.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/accounts/login/"
STATIC_URL = "/static/"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"oauth2_provider": {"handlers": ["console"], "level": "INFO"}},
}

with open(os.path.join(_DIR, "oidc.key")) as f:
    _KEY = f.read()

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _KEY,
    # The exact issuer, instead of one built from each request's Host.
    "OIDC_ISS_ENDPOINT": "http://127.0.0.1:%s/o" % _PORT,
    "PKCE_REQUIRED": True,
    "SCOPES": {
        "openid": "OpenID Connect",
        "email": "Your e-mail address",
        "read": "Read",
    },
    "DEFAULT_SCOPES": ["openid"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "ID_TOKEN_EXPIRE_SECONDS": 3600,
    "ROTATE_REFRESH_TOKEN": True,
    "OAUTH2_VALIDATOR_CLASS": "ao2dot.claims.Validator",
}
