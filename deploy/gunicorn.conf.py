"""gunicorn settings for the web processes (deploy/systemd/emergency-web.service, deploy/compose.yaml).

Web processes keep no state of their own (sessions in the database, files in shared storage), so
any number of them, on any number of hosts, can stand behind nginx. Environment overrides:
GUNICORN_BIND, GUNICORN_WORKERS.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# Sync workers: requests are short; long work (loads, reports) runs on Celery workers. An upload is
# buffered by nginx first, so a slow client never holds a worker; 120 s covers writing a 512 MB
# file to object storage.
timeout = 120
graceful_timeout = 30  # a restart lets requests in flight finish
max_requests = 2000  # recycle workers now and then (bounded memory), staggered by the jitter
max_requests_jitter = 200
accesslog = "-"  # stdout: the journal (or `docker logs`)
errorlog = "-"
forwarded_allow_ips = "127.0.0.1"  # nginx on the same host; Django itself reads X-Forwarded-Proto
worker_tmp_dir = "/dev/shm"  # noqa: S108 - gunicorn's heartbeat files, kept off the disk
