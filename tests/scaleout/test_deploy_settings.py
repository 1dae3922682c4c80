"""The scale-out settings as production reads them from the environment (docs/deploy.md): the read
replica, object storage, a shared cache, the proxy headers, the queues; and that `check --deploy`
still passes with all of them on. Each case starts a fresh interpreter, as a server would."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
    "LEDGER_SIGNING_KEY": "dGVzdC1vbmx5LWxlZGdlci1zaWduaW5nLWtleS0zMmI=",
    "DATAPOOL_ENCRYPTION_KEYS": "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "DATABASE_URL": "postgres://emergency@db-primary.internal:5432/emergency",
}
S3 = {
    "STORAGE_BACKEND": "s3",
    "AWS_STORAGE_BUCKET_NAME": "emergency-media",
    "AWS_S3_ENDPOINT_URL": "https://minio.internal:9000",
    "AWS_S3_ACCESS_KEY_ID": "platform",
    "AWS_S3_SECRET_ACCESS_KEY": "not-a-real-secret",
}
REPLICA = {"DATABASE_REPLICA_URL": "postgres://emergency_ro@db-replica.internal:5432/emergency"}

PROBE = """
import json
from django.conf import settings as s
from django.core.files.storage import storages
from django.db import router
from apps.core.db import replica_reads
from apps.incidents.models import Incident
with replica_reads():
    read_in_scope = router.db_for_read(Incident)
storage = storages["default"]
print(json.dumps({
    "databases": {alias: {k: v for k, v in d.items() if k in ("HOST", "NAME", "OPTIONS", "CONN_MAX_AGE")}
                  for alias, d in s.DATABASES.items()},
    "routers": s.DATABASE_ROUTERS,
    "read_in_scope": read_in_scope,
    "storage": type(storage).__module__ + "." + type(storage).__name__,
    "bucket": getattr(storage, "bucket_name", None),
    "endpoint": getattr(storage, "endpoint_url", None),
    "addressing": getattr(storage, "addressing_style", None),
    "overwrite": getattr(storage, "file_overwrite", None),
    "acl": getattr(storage, "default_acl", "n/a"),
    "cache": s.CACHES["default"]["BACKEND"],
    "cache_location": s.CACHES["default"].get("LOCATION"),
    "session_engine": s.SESSION_ENGINE,
    "proxy_ssl": list(s.SECURE_PROXY_SSL_HEADER),
    "forwarded_host": s.USE_X_FORWARDED_HOST,
    "proxy_count": s.AUTH_TRUSTED_PROXY_COUNT,
    "whitenoise": "whitenoise.middleware.WhiteNoiseMiddleware" in s.MIDDLEWARE,
    "queues": sorted(q.name for q in s.CELERY_TASK_QUEUES),
    "default_queue": s.CELERY_TASK_DEFAULT_QUEUE,
    "ingest_route": s.CELERY_TASK_ROUTES["apps.datapool.tasks.*"],
}))
"""


def _run(args, env_extra, tmp_path):
    keep = ("DJANGO_", "DATABASE_", "CELERY_", "LEDGER_", "STORAGE_", "AWS_", "CACHE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(keep)}
    env |= {"PLATFORM_VAR_DIR": str(tmp_path)} | env_extra
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def probe(env_extra, tmp_path) -> dict:
    out = _run(["manage.py", "shell", "-c", PROBE], PRODUCTION | env_extra, tmp_path)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_without_the_scale_out_settings_production_is_one_database_disk_files_and_a_local_cache(tmp_path):
    got = probe({}, tmp_path)
    assert set(got["databases"]) == {"default"}
    assert got["routers"] == ["apps.core.db.ReplicaRouter"] and got["read_in_scope"] == "default"
    assert got["storage"] == "django.core.files.storage.filesystem.FileSystemStorage"
    assert got["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    # stateless web processes behind a proxy
    assert got["session_engine"] == "django.contrib.sessions.backends.db"
    assert got["proxy_ssl"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert got["forwarded_host"] is False and got["proxy_count"] == 0
    assert got["whitenoise"] is True
    # the queues are production's, not the test settings' (which switch routing off)
    assert got["queues"] == ["dispatch", "ingest", "reports"] and got["default_queue"] == "dispatch"
    assert got["ingest_route"] == {"queue": "ingest"}


def test_with_them_the_replica_object_storage_and_a_shared_cache_are_configured(tmp_path):
    env = (
        REPLICA
        | S3
        | {
            "CACHE_URL": "redis://cache.internal:6379/1",
            "DJANGO_TRUSTED_PROXY_COUNT": "1",
            "DJANGO_USE_X_FORWARDED_HOST": "true",
        }
    )
    got = probe(env, tmp_path)

    replica = got["databases"]["replica"]
    assert (replica["HOST"], replica["NAME"]) == ("db-replica.internal", "emergency")
    assert replica["OPTIONS"]["options"] == "-c default_transaction_read_only=on -c max_parallel_workers_per_gather=0"
    assert replica["CONN_MAX_AGE"] == got["databases"]["default"]["CONN_MAX_AGE"] == 60
    assert got["read_in_scope"] == "replica"

    assert got["storage"] == "storages.backends.s3.S3Storage"
    assert (got["bucket"], got["endpoint"], got["addressing"]) == (
        "emergency-media",
        "https://minio.internal:9000",
        "path",
    )
    assert got["overwrite"] is False and got["acl"] is None

    assert got["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert got["cache_location"] == "redis://cache.internal:6379/1"
    assert got["forwarded_host"] is True and got["proxy_count"] == 1


def test_parallel_query_is_off_for_web_processes_and_chosen_per_process_by_the_environment(tmp_path):
    # decision 0015: a page query never waits for parallel workers; batch workers may opt in
    web = probe(REPLICA, tmp_path)["databases"]
    assert web["default"]["OPTIONS"]["options"] == "-c max_parallel_workers_per_gather=0"
    assert web["replica"]["OPTIONS"]["options"].endswith("-c max_parallel_workers_per_gather=0")
    batch = probe({"DATABASE_PARALLEL_WORKERS": "2"}, tmp_path)["databases"]
    assert batch["default"]["OPTIONS"]["options"] == "-c max_parallel_workers_per_gather=2"
    server = probe({"DATABASE_PARALLEL_WORKERS": ""}, tmp_path)["databases"]
    assert "max_parallel_workers_per_gather" not in server["default"].get("OPTIONS", {}).get("options", "")


def test_object_storage_without_a_bucket_or_an_unknown_backend_refuses_to_start(tmp_path):
    no_bucket = {k: v for k, v in S3.items() if k != "AWS_STORAGE_BUCKET_NAME"}
    out = _run(["manage.py", "check"], PRODUCTION | no_bucket, tmp_path)
    assert out.returncode != 0 and "AWS_STORAGE_BUCKET_NAME" in out.stderr
    out = _run(["manage.py", "check"], PRODUCTION | {"STORAGE_BACKEND": "ftp"}, tmp_path)
    assert out.returncode != 0 and "STORAGE_BACKEND must be 'filesystem' or 's3'" in out.stderr


def test_production_with_every_scale_out_setting_passes_check_deploy_with_no_warning(tmp_path):
    env = (
        PRODUCTION
        | REPLICA
        | S3
        | {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "DATABASE_REPLICA_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "CACHE_URL": "redis://127.0.0.1:6379/10",
        }
    )
    out = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout
