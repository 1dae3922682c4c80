"""Crash test: real Celery workers SIGKILLed at random moments, then a broker down for a minute.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/emergency_crash \\
        .venv/bin/python scripts/crash_test.py --broker redis --tasks 600 --kills 24

Drops and re-creates the given database (its name must end in 'crash') and migrates it. Then:

1. Crash run (tests/worker/crash_harness.CrashRun) on the given broker: two prefork workers
   (concurrency 2) consuming production's queues (dispatch, ingest, reports: prefixed with the
   run's id) and a beat running the outbox relay; `--tasks` split into notifications (three in
   four; two e-mails each) and uploads (100–2,000 rows each, into three datasets whose people
   overlap, so loads link), committed through the services in `--kills + 1` waves; after each wave
   but the last, a worker's whole process group or one of its pool processes is SIGKILLed (half
   each, in random order, 0.5–3 s apart) and a killed worker is started again. Once drained, the
   fleet stops and every effect is counted: e-mails recorded once (inside their delivery's
   transaction), loads all-or-nothing with exactly their rows, every load linked and its
   department told, nothing left in the outbox, the redelivery counts or the broker.
2. Broker-down run (OutageRun) on a private broker of the same kind (a free port, a temporary
   directory): workers up and warm, the broker SIGKILLed, dispatches and notifications committed
   through the services while it is down for `--outage` seconds, the broker started again
   (Redis without persistence, so empty), every e-mail recorded once. `--outage 0` skips it.

Each prints a summary (tasks, kills, duplicates, missing, stuck, elapsed, ...); the exit status
is 1 when either found a problem. Figures go to docs/decisions/0013-dead-letters.md with the
command; tests never assert on them (the bounded versions run in tests/worker).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/emergency_crash")

import django  # noqa: E402

DEFAULT_URLS = {"redis": "redis://127.0.0.1:6379/0", "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//"}


def ensure_database() -> None:
    import psycopg2
    from django.conf import settings
    from psycopg2 import sql

    cfg = settings.DATABASES["default"]
    if not cfg["NAME"].endswith("crash"):
        raise SystemExit(f"refusing to drop {cfg['NAME']!r}: the crash database's name must end in 'crash'")
    conn = psycopg2.connect(
        host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], password=cfg["PASSWORD"], dbname="postgres"
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(cfg["NAME"])))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg["NAME"])))
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", choices=sorted(DEFAULT_URLS), required=True)
    parser.add_argument("--broker-url", help="default: CELERY_BROKER_URL (redis), CELERY_TEST_AMQP_URL, localhost")
    parser.add_argument("--tasks", type=int, default=600, help="notifications and uploads together (default 600)")
    parser.add_argument("--kills", type=int, default=24, help="SIGKILLs, half whole workers, half pool processes")
    parser.add_argument("--max-rows", type=int, default=2000, help="largest upload, in rows (smallest: 100)")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the private broker is down (0: skip)")
    parser.add_argument("--seed", type=int, help="repeat a run's random choices")
    parser.add_argument("--workdir", help="keep logs here (default: a temporary directory, removed)")
    args = parser.parse_args()

    env_redis = os.environ.get("CELERY_BROKER_URL", "")
    from_env = {
        "redis": env_redis if env_redis.startswith(("redis://", "rediss://")) else "",
        "rabbitmq": os.environ.get("CELERY_TEST_AMQP_URL", ""),
    }
    url = args.broker_url or from_env[args.broker] or DEFAULT_URLS[args.broker]

    django.setup()
    ensure_database()
    from django.core.management import call_command

    from tests.worker.crash_harness import CrashRun, OutageRun
    from tests.worker.private_broker import private_broker

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    print(f"database migrated in {time.monotonic() - started:.1f} s", flush=True)

    def say(line: str) -> None:
        print(f"  {line}", flush=True)

    with tempfile.TemporaryDirectory(prefix="crash-test-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        loads = args.tasks // 4
        print(f"\n== crash run: {args.tasks} tasks, {args.kills} kills on {args.broker} ==", flush=True)
        crash = CrashRun(
            broker_url=url,
            workdir=workdir / "crash",
            notifications=args.tasks - loads,
            loads=loads,
            kills=args.kills,
            rows=(100, args.max_rows),
            gap=(0.5, 3.0),
            drain_timeout=900,
            # A full run's backlog on two cores outlasts short recovery delays: the recovery jobs would
            # publish most open work again and again (harmless duplicates that never drain).
            stale=300,
            seed=args.seed,
            say=say,
        )
        summary = crash.run()
        print("\n".join(summary.lines()), flush=True)
        ok = summary.ok

        if args.outage > 0:
            print(f"\n== broker down for {args.outage:.0f} s: a private {args.broker} ==", flush=True)
            outage = OutageRun(
                broker=private_broker(args.broker, workdir / "outage" / "broker"),
                workdir=workdir / "outage" / "run",
                outage=args.outage,
                dispatches=30,
                notifications=100,
                drain_timeout=600,
                say=say,
            )
            down = outage.run()
            print("\n".join(down.lines()), flush=True)
            ok = ok and down.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
