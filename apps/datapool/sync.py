"""Database sync (数据库同步): scheduled pulls of new rows from a department's own SQL database.

A `SyncSource` names a table, a column per standard field and a cursor column (an id or a
time that only grows). Each run reads the rows whose cursor is beyond the last one loaded, in
cursor order, streamed through a server-side cursor, and hands them to `ingestion_run`: the same
standard, validation, quality scoring and all-or-nothing commit as an upload. The new cursor is
stored by `ingestion_run`'s `on_success` hook, inside the transaction that commits the rows, so
a crash never skips a row and never loads one twice.

External databases are reached through SQLAlchemy Core. Table and column names come from
reflection (never pasted into SQL), the connection URL is stored encrypted (`crypto.py`) and is
never written to the ledger or to an error message with its password.

Runs of one source are serialised by a PostgreSQL advisory lock held for the whole run: a second
delivery of the task waits for it, then finds the job finished (or the rows already loaded). A
run killed half-way releases the lock with its connection; its job is taken over and started
again by the next run of the source (a redelivered task, the next beat, or "run now").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import importlib.util
import logging
import time

from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from sqlalchemy import MetaData, Table, create_engine, literal, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from apps.core.enqueue import enqueue_on_commit
from apps.core.exceptions import ServiceError
from apps.core.scoping import authorize
from apps.ledger.services import audit_record

from . import crypto
from .choices import Channel, JobStatus, SourceFormat
from .errors import LoadError
from .models import Dataset, IngestionJob, SyncSource
from .services import _clean_columns, ingestion_run

log = logging.getLogger(__name__)

# Database kinds a source may be. Not SQLite: a file path would read files of the platform's own
# servers. A driver must also be installed for the kind (psycopg2 for PostgreSQL is).
ALLOWED_BACKENDS = frozenset({"postgresql", "mysql", "mariadb", "mssql", "oracle"})
CONNECT_TIMEOUT = 10  # seconds
FETCH_ROWS = 5000  # rows per round trip of the server-side cursor
MAX_ROWS_PER_RUN = 500_000  # a bigger backlog is taken over several runs (one transaction each)
MAX_INTERVAL_MINUTES = 7 * 24 * 60
CURSOR_MAX_LENGTH = SyncSource._meta.get_field("cursor_value").max_length
CURSOR_TYPES = (int, decimal.Decimal, dt.datetime, dt.date, str)
LOCK_WAIT_SECONDS = 15  # a second delivery waits this long for a live run of the source
SYNC_LOCK_NAMESPACE = 0x5D70  # first key of the advisory locks of sync runs
SOURCE_FIELDS = ("name", "url", "table", "columns", "cursor_column", "cursor_value", "interval_minutes", "enabled")


# --- talking to the external database ---


def _parse_url(url) -> object:
    text = str(url or "").strip()
    if text.startswith("postgres://"):  # the libpq spelling; SQLAlchemy wants postgresql://
        text = "postgresql://" + text[len("postgres://") :]
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError):
        raise ServiceError(_("This is not a database URL."), field="url") from None
    if parsed.get_backend_name() not in ALLOWED_BACKENDS:
        raise ServiceError(
            _("Databases of this kind cannot be synced: %(kind)s") % {"kind": parsed.get_backend_name()}, field="url"
        )
    if parsed.drivername == "postgresql" and importlib.util.find_spec("psycopg") is None:
        # SQLAlchemy 2.1 defaults to psycopg 3; the platform ships psycopg2
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def masked_url(url) -> str:
    """The URL with its password replaced by ***, for the ledger and the screen."""
    try:
        return make_url(str(url)).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "***"


def _engine(url):
    parsed = _parse_url(url) if isinstance(url, str) else url
    connect_args = {}
    if parsed.get_backend_name() in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    # NullPool: one connection per run, closed after it; hide_parameters keeps values out of errors
    return create_engine(parsed, poolclass=NullPool, connect_args=connect_args, hide_parameters=True)


def _describe(exc: BaseException, url) -> str:
    """A short, password-free account of a database error."""
    if isinstance(exc, NoSuchTableError):
        text = _("the table %(table)s does not exist") % {"table": str(exc)}
    elif isinstance(exc, NoSuchModuleError):
        text = _("no driver for this kind of database is installed")
    elif isinstance(exc, DBAPIError) and exc.orig is not None:
        text = str(exc.orig)
    else:
        text = str(exc)
    text = " ".join(text.strip().splitlines()[:2]) or exc.__class__.__name__
    try:
        password = make_url(str(url)).password
    except (ArgumentError, ValueError):
        password = None
    if password:
        text = text.replace(str(password), "***")
    return text[:300]


def _reflect(conn, table: str) -> Table:
    schema, _dot, name = table.rpartition(".")
    return Table(name, MetaData(), schema=schema or None, autoload_with=conn)


def _cursor_type(column) -> type | None:
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return None
    for kind in CURSOR_TYPES:  # datetime before date: a datetime is a date too
        if issubclass(python_type, kind):
            return kind
    return None


def _cursor_text(value) -> str:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def _cursor_value(text: str, kind: type):
    if kind is dt.datetime:
        return dt.datetime.fromisoformat(text)
    if kind is dt.date:
        return dt.date.fromisoformat(text)
    return kind(text)


def _plain(value):
    """A JSON-safe copy of a source value (rejected rows keep the row as read)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return str(value)


def _check_table(table: Table, columns: dict, cursor_column: str, error) -> type:
    """The cursor's Python type; `error(message)` for a column the table lacks or a cursor that
    cannot be compared."""
    names = set(table.c.keys())
    missing = sorted({c for c in columns.values() if c not in names})
    if missing:
        raise error(_("The table has no column %(columns)s.") % {"columns": ", ".join(missing)})
    if cursor_column not in names:
        raise error(_("The table has no column %(columns)s.") % {"columns": cursor_column})
    kind = _cursor_type(table.c[cursor_column])
    if kind is None:
        raise error(_("The cursor column must hold numbers, dates, times or text."))
    return kind


def _inspect_source(url, table: str, columns: dict, cursor_column: str) -> type:
    """Connect, reflect the table and check the columns; ServiceError saying what is wrong."""

    def refuse(message):
        return ServiceError(message, field="table")

    try:
        engine = _engine(url)
    except ImportError:
        raise ServiceError(_("No driver for this kind of database is installed."), field="url") from None
    except SQLAlchemyError as exc:
        raise ServiceError(_("Cannot connect: %(detail)s") % {"detail": _describe(exc, url)}, field="url") from None
    try:
        with engine.connect() as conn:
            try:
                reflected = _reflect(conn, table)
            except NoSuchTableError:
                raise refuse(_("The database has no table %(table)s.") % {"table": table}) from None
            return _check_table(reflected, columns, cursor_column, refuse)
    except SQLAlchemyError as exc:
        raise ServiceError(_("Cannot connect: %(detail)s") % {"detail": _describe(exc, url)}, field="url") from None
    finally:
        engine.dispose()


# --- managing sources ---


def _clean_source(dataset: Dataset, data: dict) -> dict:
    """Checked and normalised source settings (only the keys present in `data`)."""
    out = {}
    if "name" in data:
        out["name"] = str(data["name"] or "").strip()
        if not out["name"]:
            raise ServiceError(_("Give the source a name."), field="name")
        if len(out["name"]) > SyncSource._meta.get_field("name").max_length:
            raise ServiceError(_("The name is too long."), field="name")
    for key in ("table", "cursor_column"):
        if key in data:
            out[key] = str(data[key] or "").strip()
            if not out[key] or len(out[key]) > 128:
                raise ServiceError(_("Name a table and a cursor column."), field=key)
    if "columns" in data:
        out["columns"] = _clean_columns(dataset.standard, data["columns"])
        required = [f["name"] for f in dataset.standard.fields if f.get("required")]
        missing = [name for name in required if name not in out["columns"]]
        if missing:
            raise ServiceError(
                _("Required fields have no column: %(fields)s") % {"fields": ", ".join(missing)}, field="columns"
            )
    if "interval_minutes" in data:
        try:
            minutes = int(data["interval_minutes"])
        except (TypeError, ValueError):
            minutes = 0
        if not 1 <= minutes <= MAX_INTERVAL_MINUTES:
            raise ServiceError(
                _("Sync every 1 to %(max)d minutes.") % {"max": MAX_INTERVAL_MINUTES}, field="interval_minutes"
            )
        out["interval_minutes"] = minutes
    if "enabled" in data:
        out["enabled"] = bool(data["enabled"])
    if "cursor_value" in data:
        out["cursor_value"] = str(data["cursor_value"] or "").strip()
        if len(out["cursor_value"]) > CURSOR_MAX_LENGTH:
            raise ServiceError(_("The cursor value is too long."), field="cursor_value")
    return out


def _described(source: SyncSource) -> dict:
    """The ledger's picture of a source: everything but the secret."""
    try:
        url = masked_url(crypto.decrypt(source.url_encrypted))
    except ValueError:
        url = "***"
    return {
        "dataset": source.dataset_id,
        "name": source.name,
        "url": url,
        "table": source.table,
        "columns": source.columns,
        "cursor_column": source.cursor_column,
        "cursor_value": source.cursor_value,
        "interval_minutes": source.interval_minutes,
        "enabled": source.enabled,
    }


def sync_source_create(
    *,
    actor,
    dataset: Dataset,
    name: str,
    url: str,
    table: str,
    columns: dict,
    cursor_column: str,
    interval_minutes: int = 60,
) -> SyncSource:
    """Register an external table to pull from. The URL is checked by connecting and reflecting
    the table (its columns and the cursor's type), then stored encrypted."""
    authorize(actor, "manage", dataset)
    dataset = Dataset.objects.select_related("standard").get(pk=dataset.pk)
    data = _clean_source(
        dataset,
        {
            "name": name,
            "table": table,
            "columns": columns,
            "cursor_column": cursor_column,
            "interval_minutes": interval_minutes,
        },
    )
    parsed = _parse_url(url)
    if SyncSource.objects.filter(dataset=dataset, name=data["name"]).exists():
        raise ServiceError(_("This dataset already has a source with that name."), field="name")
    # Outside the transaction: a slow or unreachable database holds no lock of ours.
    _inspect_source(parsed, data["table"], data["columns"], data["cursor_column"])
    with transaction.atomic():
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()  # serialises same-name races
        if SyncSource.objects.filter(dataset=dataset, name=data["name"]).exists():
            raise ServiceError(_("This dataset already has a source with that name."), field="name")
        source = SyncSource.objects.create(
            dataset=dataset,
            url_encrypted=crypto.encrypt(str(url).strip()),
            created_by=actor,
            **data,
        )
        audit_record(actor=actor, action="sync_source.create", target=source, after=_described(source))
    return source


def sync_source_update(*, actor, source: SyncSource, **changes) -> SyncSource:
    """Change a source's settings. A new URL, table, column or cursor column is checked against
    the database again; a new table or cursor column starts over from an empty cursor unless a
    `cursor_value` is given."""
    authorize(actor, "manage", source)
    unknown = set(changes) - set(SOURCE_FIELDS)
    if unknown:
        raise ServiceError(
            _("These fields cannot be changed here: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    current = SyncSource.objects.select_related("dataset__standard").get(pk=source.pk)
    url = changes.pop("url", None)
    data = _clean_source(current.dataset, changes)
    parsed = _parse_url(url) if url is not None else None
    if (
        "name" in data
        and SyncSource.objects.filter(dataset=current.dataset, name=data["name"]).exclude(pk=current.pk).exists()
    ):
        raise ServiceError(_("This dataset already has a source with that name."), field="name")
    moved = any(data.get(k, getattr(current, k)) != getattr(current, k) for k in ("table", "cursor_column"))
    if moved and "cursor_value" not in data:
        data["cursor_value"] = ""
    if parsed is not None or {"table", "columns", "cursor_column", "cursor_value"} & set(data):
        check_url = parsed if parsed is not None else _parse_url(crypto.decrypt(current.url_encrypted))
        kind = _inspect_source(
            check_url,
            data.get("table", current.table),
            data.get("columns", current.columns),
            data.get("cursor_column", current.cursor_column),
        )
        if data.get("cursor_value"):
            try:
                _cursor_value(data["cursor_value"], kind)
            except (ValueError, TypeError, decimal.InvalidOperation):
                raise ServiceError(
                    _("The cursor value does not fit the cursor column."), field="cursor_value"
                ) from None
    with transaction.atomic():
        source = SyncSource.objects.select_for_update().select_related("dataset").get(pk=current.pk)
        before = _described(source)
        for key, value in data.items():
            setattr(source, key, value)
        if parsed is not None:
            source.url_encrypted = crypto.encrypt(str(url).strip())
        source.save()
        after = _described(source)
        changed = sorted(k for k in after if after[k] != before[k])
        if parsed is not None and "url" not in changed:
            changed.append("url")  # a new password looks the same once masked
        audit_record(
            actor=actor,
            action="sync_source.update",
            target=source,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return source


# --- running ---


def _pending_job(source: SyncSource) -> IngestionJob | None:
    return (
        IngestionJob.objects.filter(channel=Channel.SYNC, dataset_id=source.dataset_id, options__sync_source=source.pk)
        .filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        .order_by("id")
        .first()
    )


def _job_create(source: SyncSource, actor, *, record: bool = True) -> IngestionJob:
    """A queued sync job (inside the caller's transaction), with its submission in the ledger
    unless the caller records the request itself (`sync_run_now`: one event per request)."""
    job = IngestionJob.objects.create(
        dataset=source.dataset,
        channel=Channel.SYNC,
        department=source.dataset.owner,
        created_by=actor or source.created_by,
        source_name=f"{source.name}: {source.table}"[:255],
        source_format=SourceFormat.RECORDS,
        columns=dict(source.columns),
        options={"sync_source": source.pk},
    )
    if not record:
        return job
    audit_record(
        actor=actor,
        action="ingestion.submit",
        target=job,
        after={"dataset": source.dataset_id, "channel": Channel.SYNC, "sync_source": source.pk},
    )
    return job


def sync_run_now(*, actor, source: SyncSource) -> IngestionJob:
    """Queue a run of the source now (the portal's button). A run already waiting is returned
    (and queued again: if its message was lost, this takes it over; if it is running, the second
    delivery finds it busy and does nothing)."""
    from .tasks import sync_run_task

    authorize(actor, "manage", source)
    with transaction.atomic():
        source = SyncSource.objects.select_for_update().select_related("dataset__owner").get(pk=source.pk)
        source_id = source.pk
        enqueue_on_commit(sync_run_task, source_id)
        pending = _pending_job(source)
        if pending is not None:
            return pending
        job = _job_create(source, actor, record=False)
        audit_record(
            actor=actor,
            action="sync_source.run",
            target=source,
            after={"job": job.pk, "dataset": source.dataset_id, "channel": Channel.SYNC},
        )
    return job


@contextlib.contextmanager
def exclusive_run(namespace: int, key: int, wait: float | None = None):
    """Yield True while holding a session advisory lock on (namespace, key) on a connection of its
    own (so it outlives the load's transactions and dies with the process), or False when
    another holder keeps it for `wait` seconds. Without PostgreSQL (development) it always yields
    True: one process, one worker."""
    if connection.vendor != "postgresql":
        yield True
        return
    conn = connections.create_connection("default")
    try:
        conn.set_autocommit(True)
        deadline = time.monotonic() + (LOCK_WAIT_SECONDS if wait is None else wait)
        with conn.cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [namespace, key])
                if cursor.fetchone()[0]:
                    break
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.2)
        yield True
    finally:
        conn.close()  # closing the session releases the lock


class _Feed:
    """The rows of one run: opened inside the load's transaction (after the dataset lock, so it
    reads the cursor the previous run committed), streamed from the external database only, and
    committed by `on_success` with the new cursor."""

    def __init__(self, source_id: int):
        self.source_id = source_id
        self.engine = None
        self.conn = None
        self.cursor_from = ""
        self.last = None
        self.capped = False  # stopped at MAX_ROWS_PER_RUN: more rows are waiting

    def open(self, job: IngestionJob, dataset: Dataset):
        # No row lock: runs of a source are serialised by `exclusive_run`, loads of a dataset by
        # its row lock (held now), and a lock here would block "run now" for a whole load.
        source = SyncSource.objects.get(pk=self.source_id)
        self.cursor_from = source.cursor_value
        try:
            url = crypto.decrypt(source.url_encrypted)
        except ValueError:
            raise LoadError("sync", detail=_("the stored connection cannot be decrypted")) from None
        columns = dict(source.columns)
        try:
            self.engine = _engine(url)
        except ServiceError as exc:
            raise LoadError("sync", detail=str(exc.message)) from None
        except ImportError:
            raise LoadError("sync", detail=_("no driver for this kind of database is installed")) from None
        try:
            self.conn = self.engine.connect()
            try:
                table = _reflect(self.conn, source.table)
            except NoSuchTableError:
                raise LoadError(
                    "sync", detail=_("the table %(table)s does not exist") % {"table": source.table}
                ) from None
            kind = _check_table(table, columns, source.cursor_column, lambda m: LoadError("sync", detail=m))
            cursor = table.c[source.cursor_column]
            wanted = list(dict.fromkeys([*columns.values(), source.cursor_column]))
            query = select(*[table.c[c] for c in wanted]).where(cursor.is_not(None)).order_by(cursor)
            if source.cursor_value:
                try:
                    after = _cursor_value(source.cursor_value, kind)
                except (ValueError, TypeError, decimal.InvalidOperation):
                    raise LoadError("sync", detail=_("the last cursor value does not fit the cursor column")) from None
                query = query.where(cursor > after)
            result = self.conn.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(query)
        except SQLAlchemyError as exc:
            self.close()
            raise LoadError("sync", detail=_describe(exc, url)) from None
        except LoadError:
            self.close()
            raise
        return self._rows(result, wanted, columns, source.cursor_column, url)

    def _rows(self, result, wanted, columns, cursor_column, url):
        at = {name: i for i, name in enumerate(wanted)}
        pairs = [(field, at[column]) for field, column in columns.items()]
        cursor_at = at[cursor_column]
        line = 0
        try:
            for row in result:
                value = row[cursor_at]
                # stop at the cap, but never between rows that share a cursor value
                if line >= MAX_ROWS_PER_RUN and value != self.last:
                    self.capped = True
                    break
                line += 1
                self.last = value
                yield line, {field: row[i] for field, i in pairs}, {name: _plain(row[i]) for name, i in at.items()}
        except SQLAlchemyError as exc:
            raise LoadError("sync", detail=_describe(exc, url)) from None
        finally:
            self.close()

    def commit(self, job: IngestionJob) -> None:
        """Inside the load's transaction: the cursor moves with the rows, or not at all."""
        cursor_to = _cursor_text(self.last) if self.last is not None else self.cursor_from
        if len(cursor_to) > CURSOR_MAX_LENGTH:
            raise LoadError(
                "sync", detail=_("the cursor value is longer than %(n)d characters") % {"n": CURSOR_MAX_LENGTH}
            )
        SyncSource.objects.filter(pk=self.source_id).update(cursor_value=cursor_to, last_run_at=timezone.now())
        options = dict(job.options or {}) | {"cursor_from": self.cursor_from, "cursor_to": cursor_to}
        IngestionJob.objects.filter(pk=job.pk).update(options=options)
        job.options = options

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None


def _has_new_rows(source: SyncSource) -> bool:
    """Whether the source has rows beyond the cursor (True when it cannot tell: the load then
    meets the same error and records it on a job)."""
    try:
        url = crypto.decrypt(source.url_encrypted)
        engine = _engine(url)
    except (ValueError, ImportError, ServiceError, SQLAlchemyError):
        return True
    try:
        with engine.connect() as conn:
            table = _reflect(conn, source.table)
            kind = _cursor_type(table.c[source.cursor_column]) if source.cursor_column in table.c else None
            if kind is None:
                return True
            cursor = table.c[source.cursor_column]
            probe = select(literal(1)).select_from(table).where(cursor.is_not(None)).limit(1)
            if source.cursor_value:
                probe = probe.where(cursor > _cursor_value(source.cursor_value, kind))
            return conn.execute(probe).first() is not None
    except (SQLAlchemyError, ValueError, TypeError, decimal.InvalidOperation):
        return True
    finally:
        engine.dispose()


def _finish_empty(job: IngestionJob, source: SyncSource) -> IngestionJob:
    """A requested run found nothing new: the job succeeds with no rows (not an empty-file error)."""
    with transaction.atomic():
        job = IngestionJob.objects.select_for_update().get(pk=job.pk)
        if job.is_finished:
            return job
        now = timezone.now()
        job.status = JobStatus.SUCCEEDED
        job.started_at = job.started_at or now
        job.finished_at = now
        job.rows_read = job.rows_accepted = job.rows_rejected = 0
        job.options = dict(job.options or {}) | {"nothing_new": True, "cursor_from": source.cursor_value}
        job.save(
            update_fields=[
                "status",
                "started_at",
                "finished_at",
                "rows_read",
                "rows_accepted",
                "rows_rejected",
                "options",
            ]
        )
        SyncSource.objects.filter(pk=source.pk).update(last_run_at=now)
        audit_record(
            actor=job.created_by,
            action="ingestion.load",
            target=job,
            after={
                "dataset": job.dataset_id,
                "channel": Channel.SYNC,
                "rows_read": 0,
                "rows_accepted": 0,
                "rows_rejected": 0,
            },
        )
    return job


def sync_run(*, source_id: int) -> IngestionJob | None:
    """One run of a source (the Celery task's body): the job waiting for it (queued by "run now",
    or left running by a worker that died), or a new one when the source has new rows. None when
    there was nothing to do, or another run of the source is still going."""
    from .tasks import sync_run_task

    with exclusive_run(SYNC_LOCK_NAMESPACE, source_id) as mine:
        if not mine:
            log.info("sync source %s: another run is in progress", source_id)
            return None
        source = SyncSource.objects.select_related("dataset__owner").filter(pk=source_id).first()
        if source is None:
            return None
        job = _pending_job(source)
        if job is None and not source.enabled:
            return None
        if not _has_new_rows(source):
            if job is not None:
                return _finish_empty(job, source)
            SyncSource.objects.filter(pk=source.pk).update(last_run_at=timezone.now())
            return None
        if job is None:
            with transaction.atomic():
                job = _job_create(source, actor=None)
        feed = _Feed(source.pk)
        try:
            job = ingestion_run(job.pk, rows=feed.open, on_success=feed.commit)
        finally:
            feed.close()
    if feed.capped and job is not None and job.status == JobStatus.SUCCEEDED:
        sync_run_task.delay(source_id)  # the rest of the backlog, once this run's lock is gone
    return job


def sync_due(*, now=None) -> int:
    """Queue a run of every enabled source whose interval has passed (the beat task's body).

    Due sources are locked with SKIP LOCKED and their `last_run_at` moved to now in the same
    transaction, so two beats (or two schedulers) never queue the same source twice."""
    from .tasks import sync_run_task

    now = now or timezone.now()

    def due(last_run_at, minutes) -> bool:
        return last_run_at is None or last_run_at + dt.timedelta(minutes=minutes) <= now

    candidates = [
        pk
        for pk, last_run_at, minutes in SyncSource.objects.filter(enabled=True).values_list(
            "pk", "last_run_at", "interval_minutes"
        )
        if due(last_run_at, minutes)
    ]
    if not candidates:
        return 0
    with transaction.atomic():
        claimed = [
            s.pk
            for s in SyncSource.objects.select_for_update(skip_locked=True)
            .filter(pk__in=candidates, enabled=True)
            .order_by("pk")
            if due(s.last_run_at, s.interval_minutes)
        ]
        SyncSource.objects.filter(pk__in=claimed).update(last_run_at=now)
        for pk in claimed:
            enqueue_on_commit(sync_run_task, pk)
    return len(claimed)


__all__ = [
    "masked_url",
    "sync_due",
    "sync_run",
    "sync_run_now",
    "sync_source_create",
    "sync_source_update",
]
