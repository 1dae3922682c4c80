"""The deployment files (deploy/) agree with the settings and with docs/deploy.md.

No Docker daemon or systemd runs here: the compose file is read as data and checked against the
queues the settings route to; the systemd units go through `systemd-analyze verify` (pointed at
this checkout's virtualenv, since /opt/emergency does not exist here); gunicorn loads its config
file and the production application.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from config.settings import base

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
QUEUES = sorted(q.name for q in base.CELERY_TASK_QUEUES)


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def app_services(doc: dict) -> dict:
    return {name: s for name, s in doc["services"].items() if s.get("image") == "emergency:latest"}


def test_compose_runs_one_worker_service_per_queue_and_exactly_one_beat():
    services = app_services(compose())
    commands = {name: " ".join(s.get("command", [])) for name, s in services.items()}
    workers = {name: cmd for name, cmd in commands.items() if " worker " in f" {cmd} "}
    consumed = sorted(re.search(r"--queues=(\S+)", cmd).group(1) for cmd in workers.values())
    assert consumed == QUEUES  # every queue has its pool, and no pool consumes a queue nothing routes to
    beats = [name for name, cmd in commands.items() if "celery -A config beat" in cmd]
    assert beats == ["beat"]
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "django_celery_beat.schedulers:DatabaseScheduler" in commands["beat"]


def test_compose_app_services_share_one_production_environment_and_the_web_keeps_no_state():
    doc = compose()
    services = app_services(doc)
    assert {"web", "worker-dispatch", "worker-ingest", "worker-reports", "beat", "migrate"} <= set(services)
    for service in services.values():
        env = service["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert env["STORAGE_BACKEND"] == "s3"  # files in object storage, seen by every container
        assert env["DATABASE_REPLICA_URL"].startswith("postgres://") and "@db-replica:" in env["DATABASE_REPLICA_URL"]
    assert "volumes" not in services["web"] and services["web"]["deploy"]["replicas"] >= 2
    # the signed checkpoints are written by the dispatch pool (ledger_checkpoint_task) to a volume of their own
    assert "ledger-checkpoints:/var/lib/emergency-ledger" in services["worker-dispatch"]["volumes"]
    assert services["worker-dispatch"]["environment"]["LEDGER_CHECKPOINT_DIR"] == "/var/lib/emergency-ledger"
    # the replica is a streaming standby cloned from the primary
    replica = (DEPLOY / "postgres" / "replica-entrypoint.sh").read_text(encoding="utf-8")
    assert "pg_basebackup -h db-primary" in replica and " -R " in replica and "hot_standby=on" in replica
    assert "wal_level=replica" in doc["services"]["db-primary"]["command"]


def test_the_systemd_units_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is needed to verify deploy/systemd", pytrace=False)
    units = []
    for path in sorted((DEPLOY / "systemd").iterdir()):
        text = path.read_text(encoding="utf-8")
        # the running virtualenv (CI's lives outside the checkout), then the checkout itself
        text = text.replace("/opt/emergency/.venv", sys.prefix).replace("/opt/emergency", str(ROOT))
        if path.name == "emergency-worker@.service":
            for queue in QUEUES:  # the template, once per queue
                (tmp_path / f"emergency-worker@{queue}.service").write_text(text, encoding="utf-8")
                units.append(tmp_path / f"emergency-worker@{queue}.service")
        else:
            (tmp_path / path.name).write_text(text, encoding="utf-8")
            units.append(tmp_path / path.name)
    out = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr
    worker = (DEPLOY / "systemd" / "emergency-worker@.service").read_text(encoding="utf-8")
    assert "--queues=%i --hostname=%i@%%h" in worker


def test_gunicorn_loads_its_config_and_the_production_application(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "LEDGER_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "LEDGER_SIGNING_KEY": "dGVzdC1vbmx5LWxlZGdlci1zaWduaW5nLWtleS0zMmI=",
        "DATAPOOL_ENCRYPTION_KEYS": "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "PLATFORM_VAR_DIR": str(tmp_path),
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    out = subprocess.run(
        [str(gunicorn), "--config", "deploy/gunicorn.conf.py", "--check-config", "config.wsgi:application"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_variable_of_the_example_environment_is_documented():
    documented = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    names = re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (DEPLOY / "env.example").read_text(encoding="utf-8"), re.M)
    assert len(names) >= 20
    assert [n for n in names if f"`{n}`" not in documented] == []
