"""The settings split: embedded default, production refusing to start without secrets, check --deploy."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER)"


def _run(args, env_extra, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_", "LEDGER_"))}
    env |= {"PLATFORM_VAR_DIR": str(tmp_path)} | env_extra
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_with_no_environment_the_platform_runs_embedded(tmp_path):
    out = _run(["manage.py", "shell", "-c", PROBE], {"DJANGO_SETTINGS_MODULE": "config.settings.local"}, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1].split() == ["django.db.backends.sqlite3", "True"]
    assert (tmp_path / "secret-key").exists() and (tmp_path / "ledger-signing-key").exists()


def test_a_database_url_and_a_broker_switch_to_postgres_and_real_workers(tmp_path):
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
    }
    out = _run(["manage.py", "shell", "-c", PROBE], env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1].split() == ["django.db.backends.postgresql", "False"]


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    out = _run(["manage.py", "check"], {"DJANGO_SETTINGS_MODULE": "config.settings.production"}, tmp_path)
    assert out.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in out.stderr


def test_production_refuses_to_start_without_a_ledger_key(tmp_path):
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.production", "DJANGO_SECRET_KEY": secrets.token_urlsafe(60)}
    out = _run(["manage.py", "check"], env, tmp_path)
    assert out.returncode != 0
    assert "LEDGER_SIGNING_KEY must be set" in out.stderr


def test_production_refuses_to_start_without_a_data_encryption_key(tmp_path):
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "LEDGER_SIGNING_KEY": "dGVzdC1vbmx5LWxlZGdlci1zaWduaW5nLWtleS0zMmI=",
    }
    out = _run(["manage.py", "check"], env, tmp_path)
    assert out.returncode != 0
    assert "DATAPOOL_ENCRYPTION_KEYS must be set" in out.stderr


def test_production_passes_check_deploy_with_no_warning(tmp_path):
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "LEDGER_SIGNING_KEY": "dGVzdC1vbmx5LWxlZGdlci1zaWduaW5nLWtleS0zMmI=",
        "DATAPOOL_ENCRYPTION_KEYS": "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    }
    out = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


ENV_READ = re.compile(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']""")


def test_every_variable_production_reads_is_documented():
    """docs/deploy.md documents every variable production reads (its own and base.py's), and the
    README's table names the ones it refuses to start without."""
    settings_dir = ROOT / "config" / "settings"
    production = (settings_dir / "production.py").read_text(encoding="utf-8")
    read = set(ENV_READ.findall((settings_dir / "base.py").read_text(encoding="utf-8") + production))
    read -= {"DJANGO_DEBUG"}  # production sets DEBUG = False whatever the environment says
    assert {"DJANGO_SECRET_KEY", "DATAPOOL_ENCRYPTION_KEYS", "DATABASE_URL"} <= read
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert sorted(name for name in read if f"`{name}`" not in deploy) == []

    required = set(re.findall(r'"([A-Z][A-Z0-9_]+) must be set', production))
    required |= set(re.findall(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']\s*\)""", production))  # no default
    assert required == {"DJANGO_SECRET_KEY", "LEDGER_SIGNING_KEY", "DATAPOOL_ENCRYPTION_KEYS", "DATABASE_URL"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert sorted(name for name in required if f"| `{name}` |" not in readme) == []
