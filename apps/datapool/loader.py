"""The bulk loader: validated rows into `Record`, rejected rows into `RejectedRow`, in the caller's
transaction (all or nothing).

On PostgreSQL the rows stream through `COPY ... FROM STDIN` (psycopg2 `copy_expert`) from a
file-like object whose `read()` validates and formats the next chunk of rows: this process
formats while the server parses and stores the chunk before, so the two cores work at once
without a thread or a pipe in between. Other databases (the embedded SQLite default) fall back
to batched `bulk_create`. Rejected rows are kept (spilled to a temporary file past a few
thousand, so a file of bad rows never sits in memory) and stored after the records.

Progress (rows read, accepted, rejected) is written through a separate autocommit connection so
that pollers see it while the load's own transaction is still open; it skips the write rather
than wait when the job row is locked, so it can never block the load.

Any failure inside the load (a value the database refuses, a lost connection, a bug) becomes a
`LoadError`: the caller rolls the transaction back and marks the job failed.
"""

from __future__ import annotations

import gc
import logging
import tempfile
import time
from dataclasses import dataclass, field

import orjson
from django.db import DatabaseError, connection, connections
from django.utils import timezone

from .errors import LoadError
from .models import IngestionJob, Record, RejectedRow
from .standards import CompiledStandard, RowError

log = logging.getLogger(__name__)

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
COPY_CHUNK_BYTES = 1 << 18  # one read() of COPY: about 450 records of 12 fields
REJECTS_IN_MEMORY = 5000  # rejected rows kept in memory before spilling to a temporary file
RAW_TEXT_LIMIT = 2000  # characters of each value kept in a rejected row
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


def _clean_raw(value):
    """A rejected row's value made storable as JSONB: no NUL, no lone surrogate, bounded length."""
    if isinstance(value, str):
        value = value[:RAW_TEXT_LIMIT].replace("\x00", "\ufffd")
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {str(_clean_raw(k)): _clean_raw(v) for k, v in list(value.items())[:200]}
    if isinstance(value, (list, tuple)):
        return [_clean_raw(v) for v in value[:200]]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1 << 63:
        return str(value)
    return value


def raw_json(raw) -> bytes:
    """`raw` (the row as read) as JSON bytes PostgreSQL accepts into a jsonb column."""
    if not isinstance(raw, dict):
        raw = {"value": str(raw)}
    try:
        body = orjson.dumps(raw, default=str)
    except TypeError:  # a lone surrogate or an integer beyond 64 bits
        return orjson.dumps(_clean_raw(raw), default=str)
    if b"\\u0000" in body or len(body) > 16 * RAW_TEXT_LIMIT:
        return orjson.dumps(_clean_raw(raw), default=str)
    return body


class Progress:
    """Writes the job's counters every half second through its own autocommit connection, and
    with the first write what the reader found (format, encoding, columns, expected rows)."""

    # SKIP LOCKED: when the load's transaction holds the job row, skip this write instead of
    # waiting for a commit that waits for us.
    TABLE = IngestionJob._meta.db_table
    WHERE = f"WHERE id = (SELECT id FROM {TABLE} WHERE id=%s FOR NO KEY UPDATE SKIP LOCKED)"  # noqa: S608
    META = ("source_format", "encoding", "columns", "options")

    def __init__(self, job_id: int, meta: dict | None = None):
        self.job_id = job_id
        self.meta = meta
        self.last = 0.0
        self.conn = None
        if connection.vendor == "postgresql" and job_id:
            try:
                self.conn = connections.create_connection("default")
                self.conn.set_autocommit(True)
                with self.conn.cursor() as cur:
                    cur.execute("SET lock_timeout = '1s'")
            except Exception:  # progress is a courtesy; the load goes on without it
                log.warning("no progress connection for ingestion job %s", job_id, exc_info=True)
                self.close()

    def update(self, result: LoadResult, force: bool = False) -> None:
        now = time.monotonic()
        if self.conn is None or (not force and now - self.last < PROGRESS_EVERY_SECONDS):
            return
        if not force:  # a forced write (start, end) leaves the first chunk's write due at once
            self.last = now
        sets = "rows_read=%s, rows_accepted=%s, rows_rejected=%s"
        params = [result.rows_read, result.rows_accepted, result.rows_rejected]
        if self.meta:
            sets += ", source_format=%s, encoding=%s, columns=%s, options=%s"
            params += [
                self.meta["source_format"] or "",
                self.meta["encoding"] or "",
                orjson.dumps(self.meta["columns"] or {}).decode(),
                orjson.dumps(self.meta["options"] or {}).decode(),
            ]
        try:
            with self.conn.cursor() as cur:
                cur.execute(f"UPDATE {self.TABLE} SET {sets} {self.WHERE}", [*params, self.job_id])  # noqa: S608
                if cur.rowcount:
                    self.meta = None
        except DatabaseError:
            log.warning("progress of ingestion job %s not written", self.job_id, exc_info=True)
            self.close()

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


class _Rejects:
    """Rejected rows as (line, field, reason, raw JSON bytes), spilled to disk past a few thousand."""

    def __init__(self):
        self.rows: list[tuple] = []
        self.spill = None
        self.count = 0

    def add(self, line: int, field_name: str, reason: str, raw) -> None:
        self.count += 1
        self.rows.append((line, field_name[:64], reason, raw_json(raw)))
        if len(self.rows) >= REJECTS_IN_MEMORY:
            if self.spill is None:
                self.spill = tempfile.TemporaryFile(prefix="rejects-")  # noqa: SIM115 - closed in close()
            self.spill.write(b"".join(orjson.dumps([ln, f, r, raw.decode()]) + b"\n" for ln, f, r, raw in self.rows))
            self.rows = []

    def __iter__(self):
        if self.spill is not None:
            self.spill.seek(0)
            for text in self.spill:
                line, field_name, reason, raw = orjson.loads(text)
                yield line, field_name, reason, raw.encode()
        yield from self.rows

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()
            self.spill = None


def _failure_detail(exc: BaseException) -> str:
    """What failed, for the job and the ledger: the exception's kind and SQLSTATE, never its text
    (PostgreSQL quotes the offending COPY line, i.e. personal data; the server log has it all)."""
    code = getattr(exc, "pgcode", None) or getattr(getattr(exc, "__cause__", None), "pgcode", None)
    return f"{type(exc).__name__} ({code})" if code else type(exc).__name__


class _CopySource:
    """A file for `copy_expert`: each read() returns the next formatted chunk of records. An
    exception raised here is kept (psycopg2 replaces it with QueryCanceled) and re-raised."""

    def __init__(self, chunks):
        self.chunks = chunks
        self.error: BaseException | None = None

    def read(self, size=-1) -> bytes:
        try:
            return next(self.chunks, b"")
        except BaseException as exc:
            self.error = exc
            raise


class Loader:
    """Loads `rows` ((line, {field: raw value} | None, raw row) tuples, already mapped to the
    standard's field names) into `job.dataset`."""

    def __init__(self, job: IngestionJob, compiled: CompiledStandard, region_ids: dict[str, int]):
        self.job = job
        self.compiled = compiled
        self.region_ids = region_ids
        self.result = LoadResult()
        self.rejects = _Rejects()
        self.now = timezone.now()

    # -- one row --

    def _reject(self, line: int, field_name: str, reason: str, raw) -> None:
        self.result.rows_rejected += 1
        self.rejects.add(line, field_name, reason, raw)

    def _bad_row(self, line, raw) -> None:
        reason = getattr(raw, "reason", None) or ("columns" if raw and "line" not in raw else "json")
        self._reject(line, "", reason, raw)

    def _process(self, line, row, raw):
        self.result.rows_read += 1
        if row is None:
            self._bad_row(line, raw)
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
        job = self.job
        meta = {name: getattr(job, name, None) for name in Progress.META} if job.source_format else None
        progress = Progress(job.pk, meta)
        progress.update(self.result, force=True)  # pollers see the format and encoding at once
        gc_was_enabled = gc.isenabled()
        gc.disable()  # millions of short-lived objects: the cyclic collector only costs time here
        try:
            if connection.vendor == "postgresql":
                self._load_copy(rows, progress)
            else:
                self._load_batches(rows, progress)
            self._store_rejects()
        except LoadError:
            raise
        except Exception as exc:  # the caller rolls back and marks the job failed
            log.exception("ingestion job %s failed after %s rows", self.job.pk, self.result.rows_read)
            raise LoadError("crashed", detail=_failure_detail(exc)) from exc
        finally:
            self.rejects.close()
            if gc_was_enabled:
                gc.enable()
            progress.update(self.result, force=True)
            progress.close()
        return self.result

    def _prepare_copy(self) -> None:
        self._prefix = f"{self.job.dataset_id}\t{self.job.pk}\t".encode()
        self._suffix = f"\t{self.now.isoformat()}\n".encode()
        self._regions = {code: str(pk) for code, pk in self.region_ids.items()}

    def _record_line(self, line: int, p) -> bytes:
        """One COPY text line. Key columns need no escaping: the normalisers keep digits, letters
        and "X" only (addresses lose spaces and punctuation), and times are ISO 8601."""
        body = p.body or orjson.dumps(p.payload)
        self.result.payload_bytes += len(body)
        keys = p.keys
        middle = "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t" % (  # noqa: UP031 - the fastest formatting here
            p.record_key,
            p.content_hash,
            p.near_hash,
            keys.get("id_key") or "\\N",
            keys.get("phone_key") or "\\N",
            keys.get("address_key") or "\\N",
            keys.get("place_key") or "\\N",
            p.observed_at or "\\N",
            self._regions.get(p.region_code) or "\\N",
        )
        return b"".join(
            (
                self._prefix,
                b"%d\t" % line,
                body.replace(b"\\", b"\\\\") if b"\\" in body else body,
                middle.encode(),
                orjson.dumps(p.tags) if p.tags else b"[]",
                self._suffix,
            )
        )

    def _copy_chunks(self, rows, tick):
        """COPY text of the accepted rows, about COPY_CHUNK_BYTES at a time; `tick()` after each."""
        batch: list[bytes] = []
        size = 0
        process, record_line = self._process, self._record_line
        for line, row, raw in rows:
            p = process(line, row, raw)
            if p is not None:
                text = record_line(line, p)
                batch.append(text)
                size += len(text)
                if size >= COPY_CHUNK_BYTES:
                    yield b"".join(batch)
                    batch, size = [], 0
                    tick()
        if batch:
            yield b"".join(batch)

    def _load_copy(self, rows, progress: Progress) -> None:
        self._prepare_copy()
        connection.ensure_connection()
        source = _CopySource(self._copy_chunks(rows, lambda: progress.update(self.result)))
        sql = f"COPY {Record._meta.db_table} ({', '.join(RECORD_COLUMNS)}) FROM STDIN"
        with connection.connection.cursor() as cursor:
            try:
                cursor.copy_expert(sql, source, size=COPY_CHUNK_BYTES)
            except Exception:
                if source.error is not None:
                    raise source.error from None
                raise

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
        if not self.rejects.count:
            return
        job_id = self.job.pk
        if connection.vendor == "postgresql":
            job_b = str(job_id).encode()

            def chunks():
                batch = []
                for line, field_name, reason, raw in self.rejects:
                    batch.append(
                        b"\t".join(
                            (
                                job_b,
                                str(line).encode(),
                                _copy_text(field_name),
                                reason.encode(),
                                raw.replace(b"\\", b"\\\\"),
                            )
                        )
                        + b"\n"
                    )
                    if len(batch) >= 2000:
                        yield b"".join(batch)
                        batch = []
                if batch:
                    yield b"".join(batch)

            source = _CopySource(chunks())
            sql = f"COPY {RejectedRow._meta.db_table} ({', '.join(REJECT_COLUMNS)}) FROM STDIN"
            with connection.connection.cursor() as cursor:
                cursor.copy_expert(sql, source, size=COPY_CHUNK_BYTES)
            return
        RejectedRow.objects.bulk_create(
            (
                RejectedRow(job_id=job_id, line=line, field=f, reason=reason, raw=orjson.loads(raw))
                for line, f, reason, raw in self.rejects
            ),
            batch_size=5000,
        )
