"""Restore drill: a database backup and the ledger-checkpoint backup restore into a verified ledger.

Run it on a scratch host (or any host with the PostgreSQL client tools of the server's major
version), with the production environment loaded, at least once a quarter and after every change
to the backup set-up (docs/deploy.md, "Restore drill"):

    python scripts/restore_drill.py --dump /backup/db/emergency-20261124.dump \\
        --checkpoints /backup/ledger/checkpoints.jsonl \\
        --scratch-url postgres://postgres@scratch.internal:5432/emergency_drill

    # or take the dump now, from the live primary (a logical backup, as the nightly job does):
    python scripts/restore_drill.py --from-url "$DATABASE_URL" --checkpoints ... --scratch-url ...

1. `--from-url`: `pg_dump --format=custom` of that database into the work directory.
2. The scratch database (its name must end in `_drill`) is dropped, created again, and the dump
   restored into it with `pg_restore --exit-on-error --no-owner --no-privileges`.
3. `manage.py migrate --check` against it: the restored schema is the one this code expects.
4. `manage.py verify_ledger --checkpoints COPY` against it: the chain replays from the genesis hash
   and matches every signed checkpoint up to the restored head. Checkpoints beyond the head (the
   checkpoint file is newer than the dump, as it always is in a drill) name the events the restore
   lost; the chain is verified against the others, and the lost range is printed.
5. The scratch database is dropped (`--keep` keeps it for a look).

Prints each step with its duration and a summary (events, head, checkpoints verified and beyond
the head). Exit status 0 when the restored ledger verifies, 1 otherwise. Touches nothing but the
scratch database and the work directory; DATABASE_REPLICA_URL is ignored.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess  # noqa: S404 - runs the PostgreSQL client tools and manage.py with fixed arguments
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def step(title: str):
    print(f"==> {title}", flush=True)
    return time.monotonic()


def done(started: float) -> None:
    print(f"    ({time.monotonic() - started:.1f} s)", flush=True)


def run(cmd: list[str], *, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # noqa: S603


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def maintenance_url(url: str) -> str:
    """The same server's `postgres` database, to drop and create the scratch one from."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


def recreate(scratch_url: str) -> None:
    import psycopg2
    from psycopg2 import sql

    name = database_name(scratch_url)
    conn = psycopg2.connect(maintenance_url(scratch_url))
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()


def drop(scratch_url: str) -> None:
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(maintenance_url(scratch_url))
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database_name(scratch_url)))
        )
    conn.close()


def ledger_head(scratch_url: str) -> tuple[int, int]:
    """(head seq, number of events) of the restored ledger."""
    import psycopg2

    conn = psycopg2.connect(scratch_url)
    with conn.cursor() as cursor:
        cursor.execute("SELECT coalesce((SELECT seq FROM ledger_ledgerhead WHERE id = 1), 0)")
        head = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM ledger_auditevent")
        events = cursor.fetchone()[0]
    conn.close()
    return head, events


def split_checkpoints(source: Path, head: int, target: Path) -> tuple[int, list[int]]:
    """Copy the checkpoints at or below `head` to `target`; return (copied, seqs beyond the head)."""
    kept, beyond = [], []
    for line in source.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        seq = json.loads(line)["seq"]
        (kept if seq <= head else beyond).append((seq, line))
    target.write_text("".join(line + "\n" for _seq, line in kept), encoding="utf-8")
    return len(kept), [seq for seq, _line in beyond]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dump", type=Path, help="a pg_dump --format=custom file to restore")
    source.add_argument("--from-url", help="take the dump now from this database")
    parser.add_argument("--checkpoints", type=Path, required=True, help="the backed-up checkpoints.jsonl")
    parser.add_argument("--scratch-url", required=True, help="postgres://…/<name ending in _drill>")
    parser.add_argument("--workdir", type=Path, help="keep the dump and the checkpoint copy here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    args = parser.parse_args()

    if not database_name(args.scratch_url).endswith("_drill"):
        raise SystemExit("refusing: the scratch database's name must end in '_drill' (it is dropped)")
    if args.from_url and database_name(args.from_url) == database_name(args.scratch_url):
        raise SystemExit("refusing: the scratch database is the source database")
    if not args.checkpoints.is_file():
        raise SystemExit(f"no checkpoint file at {args.checkpoints}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="restore-drill-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_REPLICA_URL"} | {"DATABASE_URL": args.scratch_url}
    ok = False
    try:
        dump = args.dump
        if args.from_url:
            started = step(f"pg_dump {database_name(args.from_url)}")
            dump = workdir / "database.dump"
            out = run(["pg_dump", "--format=custom", "--file", str(dump), "--dbname", args.from_url])
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                return 1
            done(started)
            print(f"    {dump} ({dump.stat().st_size:,} bytes)")

        started = step(f"restore into {database_name(args.scratch_url)}")
        recreate(args.scratch_url)
        out = run(["pg_restore", "--exit-on-error", "--no-owner", "--no-privileges", "--dbname", args.scratch_url,
                   str(dump)])  # fmt: skip
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return 1
        done(started)

        started = step("manage.py migrate --check (the restored schema is this code's)")
        out = run([sys.executable, "manage.py", "migrate", "--check"], env=env)
        if out.returncode:
            print(out.stdout + out.stderr, file=sys.stderr)
            print("    unapplied migrations: this release's code does not match the backup")
            return 1
        done(started)

        head, events = ledger_head(args.scratch_url)
        copy = workdir / "checkpoints-to-head.jsonl"
        kept, beyond = split_checkpoints(args.checkpoints, head, copy)
        started = step(f"manage.py verify_ledger (head #{head}, {kept} checkpoints at or below it)")
        out = run([sys.executable, "manage.py", "verify_ledger", "--checkpoints", str(copy)], env=env)
        print("    " + (out.stdout + out.stderr).strip().replace("\n", "\n    "))
        done(started)
        ok = out.returncode == 0

        print("\nsummary")
        print(f"  events restored        {events:,}")
        print(f"  ledger head            #{head}")
        print(f"  checkpoints verified   {kept}")
        if beyond:
            print(f"  checkpoints beyond it  {len(beyond)} (#{min(beyond)}..#{max(beyond)}): events #{head + 1}.."
                  f"#{max(beyond)} existed and are not in this backup")  # fmt: skip
        else:
            print("  checkpoints beyond it  0 (the backup holds every checkpointed event)")
        print(f"  result                 {'OK' if ok else 'BROKEN'}")
        return 0 if ok else 1
    finally:
        if not args.keep:
            drop(args.scratch_url)
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
