"""The bulk loader: validated rows into `Record`, rejected rows into `RejectedRow`, in the caller's
transaction (all or nothing).

On PostgreSQL the rows stream through `COPY ... FROM STDIN` (psycopg2 `copy_expert`) fed by a
pipe: this thread validates and formats rows while the server parses and stores the previous
ones, so the two cores work at once. Other databases (the embedded SQLite default) fall back to
batched `bulk_create`. Progress (rows read, accepted, rejected) is written through a separate
autocommit connection so that pollers see it while the load's own transaction is still open.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from dataclasses import dataclass, field

import orjson
from django.db import connection, connections
from django.utils import timezone

from .models import IngestionJob, Record, RejectedRow
from .standards import CompiledStandard, RowError

RECORD_COLUMNS = (
    "dataset_id",
    "job_id",
    "line",
    "payload",
    "record_key",
    "content_hash",
    "near_hash",
    "id_key",
    "phone_key",
    "address_key",
    "place_key",
    "observed_at",
    "region_id",
    "tags",
    "loaded_at",
)
REJECT_COLUMNS = ("job_id", "line", "field", "reason", "raw")
PROGRESS_EVERY_SECONDS = 0.5
SQLITE_BATCH = 2000
_NULL = b"\\N"


@dataclass
class LoadResult:
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    payload_bytes: int = 0
    rule_failures: dict = field(default_factory=dict)  # index into compiled.scoring -> rows failing
    record_keys: int = 0


def _copy_text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r").encode()


class Progress:
    """Writes the job's counters every half second through its own autocommit connection."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.last = 0.0
        self.conn = None
        if connection.vendor == "postgresql":
            try:
                self.conn = connections.create_connection("default")
                self.conn.set_autocommit(True)
            except Exception:  # progress is a courtesy; the load goes on without it
                self.conn = None

    def update(self, result: LoadResult, force: bool = False) -> None:
        now = time.monotonic()
        if self.conn is None or (not force and now - self.last < PROGRESS_EVERY_SECONDS):
            return
        self.last = now
        with self.conn.cursor() as cur:
            cur.execute(
                f"UPDATE {IngestionJob._meta.db_table} SET rows_read=%s, rows_accepted=%s, "  # noqa: S608 - table name
                "rows_rejected=%s WHERE id=%s",
                [result.rows_read, result.rows_accepted, result.rows_rejected, self.job_id],
            )

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class Loader:
    """Loads `rows` ((line, {field: raw value} | None, raw row) tuples, already mapped to the
    standard's field names) into `job.dataset`."""

    def __init__(self, job: IngestionJob, compiled: CompiledStandard, region_ids: dict[str, int]):
        self.job = job
        self.compiled = compiled
        self.region_ids = region_ids
        self.result = LoadResult()
        self.rejects: list[tuple] = []
        self.now = timezone.now()

    # -- one row --

    def _reject(self, line: int, field_name: str, reason: str, raw) -> None:
        self.result.rows_rejected += 1
        self.rejects.append((line, field_name, reason, raw if isinstance(raw, dict) else {"value": str(raw)}))

    def _process(self, line, row, raw):
        self.result.rows_read += 1
        if row is None:
            self._reject(line, "", "columns" if raw and "line" not in raw else "json", raw)
            return None
        try:
            processed = self.compiled.process(row)
        except RowError as exc:
            self._reject(line, exc.field, exc.reason, raw if raw is not None else row)
            return None
        self.result.rows_accepted += 1
        for index in processed.failed_rules:
            self.result.rule_failures[index] = self.result.rule_failures.get(index, 0) + 1
        return processed

    # -- the load --

    def load(self, rows) -> LoadResult:
        progress = Progress(self.job.pk)
        gc_was_enabled = gc.isenabled()
        gc.disable()  # millions of short-lived objects: the cyclic collector only costs time here
        try:
            if connection.vendor == "postgresql":
                self._load_copy(rows, progress)
            else:
                self._load_batches(rows, progress)
            self._store_rejects()
        finally:
            if gc_was_enabled:
                gc.enable()
            progress.update(self.result, force=True)
            progress.close()
        return self.result

    def _record_line(self, line: int, p) -> bytes:
        payload = orjson.dumps(p.payload)
        self.result.payload_bytes += len(payload)
        keys = p.keys
        region_id = self.region_ids.get(p.region_code) if p.region_code else None
        return (
            b"\t".join(
                (
                    self._dataset_b,
                    self._job_b,
                    str(line).encode(),
                    payload.replace(b"\\", b"\\\\"),
                    p.record_key.encode(),
                    p.content_hash.encode(),
                    p.near_hash.encode(),
                    _copy_text(keys.get("id_key")),
                    _copy_text(keys.get("phone_key")),
                    _copy_text(keys.get("address_key")),
                    _copy_text(keys.get("place_key")),
                    _copy_text(p.observed_at),
                    str(region_id).encode() if region_id else _NULL,
                    orjson.dumps(p.tags),
                    self._now_b,
                )
            )
            + b"\n"
        )

    def _load_copy(self, rows, progress: Progress) -> None:
        self._dataset_b = str(self.job.dataset_id).encode()
        self._job_b = str(self.job.pk).encode()
        self._now_b = self.now.isoformat().encode()
        connection.ensure_connection()
        raw_cursor = connection.connection.cursor()
        read_fd, write_fd = os.pipe()
        reader = os.fdopen(read_fd, "rb", buffering=1 << 20)
        writer = os.fdopen(write_fd, "wb", buffering=1 << 20)
        failure: list[BaseException] = []
        sql = f"COPY {Record._meta.db_table} ({', '.join(RECORD_COLUMNS)}) FROM STDIN"

        def consume():
            try:
                raw_cursor.copy_expert(sql, reader, size=1 << 18)
            except BaseException as exc:  # noqa: BLE001 - handed to the producing thread
                failure.append(exc)
            finally:
                reader.close()

        thread = threading.Thread(target=consume, name=f"copy-job-{self.job.pk}", daemon=True)
        thread.start()
        try:
            batch: list[bytes] = []
            for line, row, raw in rows:
                p = self._process(line, row, raw)
                if p is not None:
                    batch.append(self._record_line(line, p))
                    if len(batch) >= 1000:
                        writer.write(b"".join(batch))
                        batch = []
                        progress.update(self.result)
            if batch:
                writer.write(b"".join(batch))
            writer.close()
        except BrokenPipeError:
            pass  # the server side failed; its error is raised below
        except BaseException:
            _abandon(writer)
            thread.join()
            raise
        thread.join()
        if failure:
            raise failure[0]
        raw_cursor.close()

    def _load_batches(self, rows, progress: Progress) -> None:
        batch: list[Record] = []
        job = self.job
        for line, row, raw in rows:
            p = self._process(line, row, raw)
            if p is None:
                continue
            payload = p.payload
            self.result.payload_bytes += len(orjson.dumps(payload))
            batch.append(
                Record(
                    dataset_id=job.dataset_id,
                    job_id=job.pk,
                    line=line,
                    payload=payload,
                    record_key=p.record_key,
                    content_hash=p.content_hash,
                    near_hash=p.near_hash,
                    observed_at=p.observed_at,
                    region_id=self.region_ids.get(p.region_code) if p.region_code else None,
                    tags=p.tags,
                    loaded_at=self.now,
                    **p.keys,
                )
            )
            if len(batch) >= SQLITE_BATCH:
                Record.objects.bulk_create(batch)
                batch = []
                progress.update(self.result)
        if batch:
            Record.objects.bulk_create(batch)

    def _store_rejects(self) -> None:
        if not self.rejects:
            return
        job_id = self.job.pk
        RejectedRow.objects.bulk_create(
            (
                RejectedRow(job_id=job_id, line=line, field=f[:64], reason=reason, raw=raw)
                for line, f, reason, raw in self.rejects
            ),
            batch_size=5000,
        )


def _abandon(writer) -> None:
    """Close the pipe without flushing a half-written row into COPY (the transaction is rolled
    back anyway; this only lets the consuming thread finish)."""
    try:
        os.close(writer.fileno())
    except OSError:
        pass
    try:
        writer.close()
    except (OSError, ValueError):
        pass
