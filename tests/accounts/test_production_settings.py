"""Production's authentication settings, read from the real settings module in a subprocess
(it refuses to import without its secrets). `check --deploy` itself: tests/test_settings.py."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json
from django.conf import settings as s
print(json.dumps({
    "secure": [s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.LANGUAGE_COOKIE_SECURE],
    "httponly": s.SESSION_COOKIE_HTTPONLY,
    "samesite": [s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SAMESITE],
    "hsts": s.SECURE_HSTS_SECONDS,
    "csp": s.CONTENT_SECURITY_POLICY,
    "middleware": s.MIDDLEWARE,
    "backends": s.AUTHENTICATION_BACKENDS,
    "idle": s.AUTH_SESSION_IDLE_SECONDS,
    "max": s.AUTH_SESSION_MAX_SECONDS,
}))
"""


def test_production_sends_secure_cookies_hsts_and_the_strict_policy(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_", "LEDGER_"))}
    env |= {
        "PLATFORM_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "LEDGER_SIGNING_KEY": "dGVzdC1vbmx5LWxlZGdlci1zaWduaW5nLWtleS0zMmI=",
        "DATAPOOL_ENCRYPTION_KEYS": "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    }
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout.strip().splitlines()[-1])
    assert s["secure"] == [True, True, True] and s["httponly"] is True
    assert s["samesite"] == ["Lax", "Strict"]
    assert s["hsts"] >= 31536000
    directives = s["csp"]["DIRECTIVES"]
    assert directives["default-src"] == directives["script-src"] == ["'self'"]
    assert not any("unsafe" in v for values in directives.values() for v in values)
    assert "csp.middleware.CSPMiddleware" in s["middleware"]
    assert s["middleware"][-1] == "axes.middleware.AxesMiddleware"
    assert s["backends"][0] == "axes.backends.AxesStandaloneBackend"
    assert (s["idle"], s["max"]) == (1800, 43200)
