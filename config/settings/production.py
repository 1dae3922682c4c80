"""Production: refuses to start without its secrets; passes `manage.py check --deploy`."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CONTENT_SECURITY_POLICY_STRICT, DATABASE_SESSION_SETTINGS, env, with_session_settings
from .base import DATABASES as BASE_DATABASES

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set (at least 50 characters) in production.")
LEDGER_SIGNING_KEY = env("LEDGER_SIGNING_KEY", default="")
if not LEDGER_SIGNING_KEY:
    raise ImproperlyConfigured("LEDGER_SIGNING_KEY must be set in production (base64 Ed25519 seed).")
DATAPOOL_ENCRYPTION_KEYS = env.list("DATAPOOL_ENCRYPTION_KEYS", default=[])
if not DATAPOOL_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "DATAPOOL_ENCRYPTION_KEYS must be set in production (Fernet keys, comma-separated; the first encrypts)."
    )
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"] = with_session_settings(DATABASES["default"], **DATABASE_SESSION_SETTINGS)
if "replica" in BASE_DATABASES:  # DATABASE_REPLICA_URL (base.py, decision 0014)
    DATABASES["replica"] = BASE_DATABASES["replica"] | {"CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"]}

SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Behind nginx, which passes the client's Host header on (docs/deploy.md): X-Forwarded-Host is not
# trusted unless a proxy in front rewrites Host and says so.
USE_X_FORWARDED_HOST = env.bool("DJANGO_USE_X_FORWARDED_HOST", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_SAMESITE = "Strict"
LANGUAGE_COOKIE_SECURE = True
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only the platform's own scripts, styles, fonts and images (docs/decisions/0012, docs/deploy.md).
CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY_STRICT
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
SECURE_REFERRER_POLICY = "same-origin"
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
