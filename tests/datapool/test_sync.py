"""Database sync (数据库同步) against a real second PostgreSQL database.

Each test gets a database of its own (created with psycopg2, dropped after) holding a residents
table; the data pool pulls from it through SQLAlchemy with the URL stored encrypted.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from datetime import datetime, timedelta

import psycopg2
import pytest
from django.db import connection, connections, transaction
from django.utils import timezone, translation

from apps.core.exceptions import AccessDenied, ServiceError
from apps.datapool import crypto, sync
from apps.datapool.models import IngestionJob, Record, SyncSource
from apps.datapool.sync import (
    SYNC_LOCK_NAMESPACE,
    sync_due,
    sync_run,
    sync_run_now,
    sync_source_create,
    sync_source_update,
)
from apps.ledger.models import AuditEvent
from tests.datapool.world import pool_world

PASSWORD = "Sync-Secret-7f3a"  # the server trusts local connections; the password must still never leak
COLUMNS = {"id_number": "sfz", "name": "xm", "phone": "dh", "age": "nl", "observed_at": "updated_at"}


@pytest.fixture(autouse=True)
def _english():
    """The assertions read the services' English messages; the platform's default is Chinese."""
    with translation.override("en"):
        yield


def _admin():
    sd = connection.settings_dict
    conn = psycopg2.connect(
        host=sd["HOST"] or "127.0.0.1",
        port=sd["PORT"] or 5432,
        user=sd["USER"],
        password=sd["PASSWORD"] or None,
        dbname="postgres",
    )
    conn.autocommit = True
    return conn


class SourceDb:
    """A scratch PostgreSQL database with a `residents` table, reached with a password in the URL."""

    def __init__(self):
        sd = connection.settings_dict
        self.name = f"dp_sync_src_{uuid.uuid4().hex[:12]}"
        self.host, self.port, self.user = sd["HOST"] or "127.0.0.1", sd["PORT"] or 5432, sd["USER"]
        self.url = f"postgresql://{self.user}:{PASSWORD}@{self.host}:{self.port}/{self.name}"
        self.next_id = 1
        with contextlib.closing(_admin()) as admin, admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.name}"')
        self.conn = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname=self.name)
        self.conn.autocommit = True
        self.execute(
            "CREATE TABLE residents (id serial PRIMARY KEY, sfz text, xm text, dh text, nl integer,"
            " updated_at timestamp, note text)"
        )

    def execute(self, sql, params=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)

    def add(self, n: int, *, start: datetime | None = None, bad: bool = False):
        """`n` residents with increasing ids and times (`bad`: the ID number is malformed)."""
        start = start or datetime(2026, 11, 1, 8, 0)
        for _i in range(n):
            i = self.next_id
            self.next_id += 1
            sfz = "not-an-id" if bad else f"3201061990{i:07d}1"
            self.execute(
                "INSERT INTO residents (sfz, xm, dh, nl, updated_at) VALUES (%s, %s, %s, %s, %s)",
                [sfz, f"居民{i}", f"139{i:08d}", 30 + i % 50, start + timedelta(minutes=i)],
            )

    def drop(self):
        self.conn.close()
        with contextlib.closing(_admin()) as admin, admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture
def source_db(db):
    source = SourceDb()
    yield source
    source.drop()


@pytest.fixture
def w(db):
    return pool_world()


def create(w, source_db, **kwargs):
    options = {
        "actor": w.steward,
        "dataset": w.dataset,
        "name": "户籍库",
        "url": source_db.url,
        "table": "residents",
        "columns": COLUMNS,
        "cursor_column": "id",
        "interval_minutes": 30,
    } | kwargs
    return sync_source_create(**options)


def ids_loaded(dataset) -> list[str]:
    return sorted(Record.objects.filter(dataset=dataset).values_list("payload__id_number", flat=True))


# --- managing sources ---


@pytest.mark.django_db
def test_source_url_is_stored_encrypted_and_never_in_the_ledger(w, source_db):
    source = create(w, source_db)

    with connection.cursor() as cursor:
        cursor.execute("SELECT url_encrypted FROM datapool_syncsource WHERE id = %s", [source.pk])
        [stored] = cursor.fetchone()
    assert PASSWORD not in stored and source_db.name not in stored
    assert crypto.decrypt(stored) == source_db.url
    [event] = AuditEvent.objects.filter(action="sync_source.create")
    assert PASSWORD not in str(event.before) + str(event.after)
    assert event.after["url"] == source_db.url.replace(PASSWORD, "***")
    assert (event.after["table"], event.after["cursor_column"], event.after["columns"]) == ("residents", "id", COLUMNS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"table": "no_such_table"}, "table"),
        ({"columns": COLUMNS | {"address": "dz"}}, "table"),
        ({"cursor_column": "seq"}, "table"),
        ({"columns": {"name": "xm"}}, "columns"),  # the required ID number has no column
        ({"columns": {"id_number": "sfz", "name": "xm", "shoe_size": "nl"}}, "columns"),
        ({"url": "sqlite:////etc/passwd"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"interval_minutes": 0}, "interval_minutes"),
    ],
)
def test_source_settings_are_checked_against_the_database(w, source_db, changes, field):
    with pytest.raises(ServiceError) as refused:
        create(w, source_db, **changes)
    assert refused.value.field == field
    assert not SyncSource.objects.exists()


@pytest.mark.django_db
def test_an_unreachable_database_is_refused_without_showing_the_password(w, source_db):
    url = f"postgresql://{source_db.user}:{PASSWORD}@127.0.0.1:1/{source_db.name}"
    with pytest.raises(ServiceError) as refused:
        create(w, source_db, url=url)
    assert refused.value.field == "url"
    assert PASSWORD not in str(refused.value.message)
    assert "Cannot connect" in str(refused.value.message)


@pytest.mark.django_db
def test_only_the_owners_stewards_manage_sources(w, source_db):
    with pytest.raises(AccessDenied) as staff:
        create(w, source_db, actor=w.staff)
    assert not staff.value.hidden
    with pytest.raises(AccessDenied):
        create(w, source_db, actor=w.outsider)
    source = create(w, source_db)
    with pytest.raises(AccessDenied):
        sync_run_now(actor=w.staff, source=source)
    with pytest.raises(AccessDenied) as outsider:
        sync_source_update(actor=w.outsider, source=source, interval_minutes=5)
    assert outsider.value.hidden


@pytest.mark.django_db
def test_update_checks_again_and_keeps_the_new_password_out_of_the_ledger(w, source_db):
    source = create(w, source_db)
    with pytest.raises(ServiceError):
        sync_source_update(actor=w.steward, source=source, table="nope")

    new_password = "Another-Secret-9d2c"
    new_url = source_db.url.replace(PASSWORD, new_password)
    source = sync_source_update(actor=w.steward, source=source, url=new_url, interval_minutes=5, cursor_value="2")

    assert crypto.decrypt(source.url_encrypted) == new_url and new_password not in source.url_encrypted
    assert (source.interval_minutes, source.cursor_value) == (5, "2")
    [event] = AuditEvent.objects.filter(action="sync_source.update")
    assert new_password not in str(event.before) + str(event.after) and PASSWORD not in str(event.before)
    assert event.before == {"cursor_value": "", "interval_minutes": 30, "url": source_db.url.replace(PASSWORD, "***")}
    with pytest.raises(ServiceError) as bad_cursor:
        sync_source_update(actor=w.steward, source=source, cursor_value="yesterday")
    assert bad_cursor.value.field == "cursor_value"


# --- running ---


@pytest.mark.django_db
def test_sync_loads_only_the_rows_added_since_the_last_run(w, source_db):
    # Given: three rows in the source
    source_db.add(3)
    source = create(w, source_db)

    # When: it syncs, two more rows arrive, and it syncs again
    first = sync_run(source_id=source.pk)
    source.refresh_from_db()
    assert source.cursor_value == "3"
    source_db.add(2)
    second = sync_run(source_id=source.pk)

    # Then: each run loaded only its new rows, through the standard, once
    assert (first.status, first.channel, first.rows_accepted) == ("succeeded", "sync", 3), first.error_message()
    assert (second.status, second.rows_read, second.rows_accepted) == ("succeeded", 2, 2), second.error_message()
    assert (first.options["cursor_from"], first.options["cursor_to"]) == ("", "3")
    assert (second.options["cursor_from"], second.options["cursor_to"]) == ("3", "5")
    assert ids_loaded(w.dataset) == sorted(f"3201061990{i:07d}1" for i in range(1, 6))
    assert Record.objects.filter(job=second).count() == 2
    record = Record.objects.get(job=second, line=1)
    assert record.payload["age"] == 34 and record.observed_at is not None
    source.refresh_from_db()
    assert source.cursor_value == "5" and source.last_run_at is not None
    w.dataset.refresh_from_db()
    assert w.dataset.record_count == 5


@pytest.mark.django_db
def test_bad_rows_are_rejected_like_an_upload_and_the_cursor_passes_them(w, source_db):
    source_db.add(2)
    source_db.add(1, bad=True)
    source = create(w, source_db)

    job = sync_run(source_id=source.pk)

    assert (job.rows_read, job.rows_accepted, job.rows_rejected) == (3, 2, 1)
    [reject] = job.rejects.all()
    assert (reject.field, reject.reason, reject.raw["sfz"], reject.raw["id"]) == (
        "id_number",
        "pattern",
        "not-an-id",
        3,
    )
    source.refresh_from_db()
    assert source.cursor_value == "3"


@pytest.mark.django_db
def test_a_time_cursor_round_trips(w, source_db):
    source_db.add(2)
    source = create(w, source_db, cursor_column="updated_at")
    sync_run(source_id=source.pk)
    source.refresh_from_db()
    assert source.cursor_value == "2026-11-01T08:02:00"
    source_db.add(1)

    job = sync_run(source_id=source.pk)

    assert job.rows_accepted == 1
    assert len(ids_loaded(w.dataset)) == 3


@pytest.mark.django_db
def test_nothing_new_makes_no_job_but_a_requested_run_succeeds_empty(w, source_db):
    source = create(w, source_db)

    assert sync_run(source_id=source.pk) is None
    assert not IngestionJob.objects.exists()
    source.refresh_from_db()
    assert source.last_run_at is not None

    job = sync_run_now(actor=w.steward, source=source)
    assert sync_run_now(actor=w.steward, source=source) == job  # one waiting run at a time
    done = sync_run(source_id=source.pk)
    assert done.pk == job.pk
    assert (done.status, done.rows_read, done.options["nothing_new"]) == ("succeeded", 0, True)
    assert AuditEvent.objects.filter(action="sync_source.run", target_id=str(source.pk)).count() == 1
    # one event per request: the run names its job, which records no submission of its own
    assert not AuditEvent.objects.filter(action="ingestion.submit", target_id=str(job.pk)).exists()


@pytest.mark.django_db
def test_run_now_queues_the_task_after_commit(w, source_db, django_capture_on_commit_callbacks):
    source_db.add(2)
    source = create(w, source_db)

    with django_capture_on_commit_callbacks(execute=True):  # Celery runs eagerly in tests
        job = sync_run_now(actor=w.steward, source=source)

    job.refresh_from_db()
    assert (job.status, job.rows_accepted, job.created_by) == ("succeeded", 2, w.steward)


@pytest.mark.django_db
def test_an_unreachable_source_fails_the_job_with_the_sync_error(w, source_db):
    source_db.add(1)
    source = create(w, source_db)
    gone = f"postgresql://{source_db.user}:{PASSWORD}@127.0.0.1:1/{source_db.name}"
    SyncSource.objects.filter(pk=source.pk).update(url_encrypted=crypto.encrypt(gone))

    job = sync_run(source_id=source.pk)

    assert (job.status, job.error_code) == ("failed", "sync")
    message = job.error_message()
    assert message.startswith("The source database could not be read:")
    assert "127.0.0.1" in message and "port 1" in message
    assert PASSWORD not in message and PASSWORD not in str(job.error_args)
    events = AuditEvent.objects.filter(target_type="datapool.ingestionjob", target_id=str(job.pk))
    assert "ingestion.fail" in set(events.values_list("action", flat=True))
    assert all(PASSWORD not in str(e.after) for e in events)
    source.refresh_from_db()
    assert source.cursor_value == ""


@pytest.mark.django_db
def test_a_dropped_table_fails_the_job_clearly(w, source_db):
    source_db.add(1)
    source = create(w, source_db)
    source_db.execute("DROP TABLE residents")

    job = sync_run(source_id=source.pk)

    assert (job.status, job.error_code) == ("failed", "sync")
    assert "residents" in job.error_message()


@pytest.mark.django_db
def test_a_crash_mid_load_neither_skips_nor_repeats_rows(w, source_db, monkeypatch):
    # Given: five rows, and a load that dies on the fourth (after three were written)
    source_db.add(5)
    source = create(w, source_db)
    real_plain = sync._plain

    def dying(value):
        if value == "3201061990" + "00000041":
            raise RuntimeError("worker lost")
        return real_plain(value)

    monkeypatch.setattr(sync, "_plain", dying)
    with contextlib.suppress(RuntimeError):
        sync_run(source_id=source.pk)
    assert not Record.objects.exists()
    source.refresh_from_db()
    assert source.cursor_value == ""

    # When: the next run comes
    monkeypatch.setattr(sync, "_plain", real_plain)
    job = sync_run(source_id=source.pk)

    # Then: every row exactly once
    assert job.status == "succeeded" and job.rows_accepted == 5
    assert ids_loaded(w.dataset) == sorted(f"3201061990{i:07d}1" for i in range(1, 6))
    source.refresh_from_db()
    assert source.cursor_value == "5"


@pytest.mark.django_db
def test_a_backlog_is_taken_in_capped_runs_without_splitting_a_cursor_value(w, source_db, monkeypatch):
    # Given: four rows whose time cursor has only two values
    same = datetime(2026, 11, 2, 9, 0)
    for _ in range(3):
        source_db.add(1, start=same - timedelta(minutes=source_db.next_id))
    source_db.add(1, start=same)  # a later value
    source = create(w, source_db, cursor_column="updated_at")
    monkeypatch.setattr(sync, "MAX_ROWS_PER_RUN", 2)
    queued = []
    monkeypatch.setattr("apps.datapool.tasks.sync_run_task.apply_async", lambda args, *_, **__: queued.append(args[0]))

    job = sync_run(source_id=source.pk)

    # Then: the run went past the cap to finish the rows sharing a cursor value, and asked for more
    assert job.rows_accepted == 3
    assert queued == [source.pk]
    assert sync_run(source_id=source.pk).rows_accepted == 1
    assert len(ids_loaded(w.dataset)) == 4


@pytest.mark.django_db
def test_a_second_delivery_does_not_run_while_the_source_is_running(w, source_db, monkeypatch):
    source_db.add(1)
    source = create(w, source_db)
    monkeypatch.setattr(sync, "LOCK_WAIT_SECONDS", 0.3)
    other = connections.create_connection("default")
    try:
        other.set_autocommit(True)
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [SYNC_LOCK_NAMESPACE, source.pk])
        assert sync_run(source_id=source.pk) is None
    finally:
        other.close()
    assert not IngestionJob.objects.exists()
    assert sync_run(source_id=source.pk).rows_accepted == 1


# --- the schedule ---


def _source(w, name, **fields):
    return SyncSource.objects.create(
        dataset=w.dataset,
        name=name,
        url_encrypted=crypto.encrypt("postgresql://u:p@127.0.0.1:1/x"),
        table="t",
        columns={"id_number": "a", "name": "b"},
        cursor_column="id",
        created_by=w.steward,
        **fields,
    )


@pytest.mark.django_db
def test_sync_due_queues_sources_whose_interval_passed(w, monkeypatch, django_capture_on_commit_callbacks):
    now = timezone.now()
    never = _source(w, "never run")
    overdue = _source(w, "overdue", interval_minutes=10, last_run_at=now - timedelta(minutes=11))
    _source(w, "recent", interval_minutes=10, last_run_at=now - timedelta(minutes=5))
    _source(w, "disabled", enabled=False)
    queued = []
    monkeypatch.setattr("apps.datapool.tasks.sync_run_task.apply_async", lambda args, *_, **__: queued.append(args[0]))

    with django_capture_on_commit_callbacks(execute=True):
        assert sync_due(now=now) == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert sync_due(now=now + timedelta(minutes=1)) == 0

    assert sorted(queued) == sorted([never.pk, overdue.pk])
    never.refresh_from_db()
    assert never.last_run_at == now


@pytest.mark.django_db(transaction=True)
def test_two_beats_do_not_queue_one_source_twice(monkeypatch):
    # Given: a due source whose row another beat holds locked
    w = pool_world()
    source = _source(w, "due")
    queued = []
    monkeypatch.setattr("apps.datapool.tasks.sync_run_task.apply_async", lambda args, *_, **__: queued.append(args[0]))
    locked, release = threading.Event(), threading.Event()

    def other_beat():
        try:
            with transaction.atomic():
                SyncSource.objects.select_for_update().get(pk=source.pk)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_beat)
    thread.start()
    try:
        assert locked.wait(30)
        # When / Then: this beat skips it instead of waiting or queuing it again
        assert sync_due() == 0
    finally:
        release.set()
        thread.join(30)
    assert sync_due() == 1
    assert queued == [source.pk]
