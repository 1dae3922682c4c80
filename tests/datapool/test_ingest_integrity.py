"""A load commits all of its rows with its final state, or nothing: failures in the middle, at
COPY and at commit leave no rows; re-runs and crashed attempts never load a row twice; racing
submissions of one file load it once; progress is visible from outside while a load runs."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from apps.datapool import services
from apps.datapool.models import Dataset, IngestionJob, QualityCheck, Record, RejectedRow
from apps.datapool.standards import CompiledStandard
from tests.datapool.world import csv_bytes, load_bytes, pool_world, resident_rows
from tests.races import fresh_user, run_together

ROWS = 3000  # several COPY chunks: the failures below happen after data reached the server


def _submit(w, data: bytes, **kwargs) -> IngestionJob:
    with transaction.atomic():
        return services.ingestion_submit_file(
            actor=w.steward, dataset=w.dataset, upload=services.spool_upload(data, "residents.csv"), **kwargs
        )


def _fail_after(monkeypatch, n: int, make):
    """Wrap CompiledStandard.process so that the n-th row gets `make(processed)` instead."""
    original = CompiledStandard.process
    seen = {"rows": 0}

    def process(self, source):
        seen["rows"] += 1
        processed = original(self, source)
        return make(processed) if seen["rows"] == n else processed

    monkeypatch.setattr(CompiledStandard, "process", process)
    return seen


def _assert_nothing_of(job, code="crashed"):
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error_code == code
    assert job.rows_accepted == 0
    assert not Record.objects.filter(job=job).exists()
    assert not RejectedRow.objects.filter(job=job).exists()
    assert not QualityCheck.objects.filter(job=job).exists()
    dataset = Dataset.objects.get(pk=job.dataset_id)
    assert (dataset.record_count, dataset.last_loaded_at) == (0, None)


# --- all or nothing ---


@pytest.mark.django_db
def test_a_failure_in_the_middle_of_a_load_leaves_nothing(monkeypatch):
    w = pool_world()
    job = _submit(w, csv_bytes(resident_rows(ROWS, bad=5)))

    def boom(processed):
        raise RuntimeError("the worker lost its mind")

    seen = _fail_after(monkeypatch, 2500, boom)
    job = services.ingestion_run(job.pk)
    assert seen["rows"] == 2500
    _assert_nothing_of(job)
    assert job.error_args == {"detail": "RuntimeError"}


@pytest.mark.django_db
def test_a_value_postgresql_refuses_in_copy_fails_the_load_and_leaves_nothing(monkeypatch):
    w = pool_world()
    job = _submit(w, csv_bytes(resident_rows(ROWS)))

    def corrupt(processed):
        processed.observed_at = "the day after tomorrow"  # not a timestamp: COPY stops there
        return processed

    _fail_after(monkeypatch, 2900, corrupt)
    job = services.ingestion_run(job.pk)
    _assert_nothing_of(job)
    # the kind of error, not PostgreSQL's message: that quotes the COPY line (personal data)
    assert job.error_args == {"detail": "InvalidDatetimeFormat (22007)"}


@pytest.mark.django_db(transaction=True)
def test_a_failure_at_commit_leaves_nothing(monkeypatch):
    """Foreign keys are checked at commit (deferred): a region that does not exist fails there."""
    w = pool_world()
    monkeypatch.setattr(services, "_enqueue", lambda job: None)
    job = _submit(w, csv_bytes(resident_rows(50)))
    monkeypatch.setattr(services, "_region_ids", lambda: {"320106": 987654321})
    job = services.ingestion_run(job.pk)
    _assert_nothing_of(job)


@pytest.mark.django_db
def test_a_reader_error_in_the_middle_leaves_nothing_and_keeps_no_rejects():
    w = pool_world()
    rows = resident_rows(ROWS, bad=20)
    rows = [rows[0], *rows[-20:], *rows[1:-20]]  # rejected rows first: they are not kept either
    data = csv_bytes(rows[:2000]) + b"\xff\xfe broken\r\n" + csv_bytes(rows[2000:])
    job = load_bytes(w.steward, w.dataset, data)
    _assert_nothing_of(job, "encoding")
    assert job.error_args == {"line": 2001}


# --- re-runs ---


@pytest.mark.django_db
@pytest.mark.parametrize("mapping", ["guessed", "given"])
def test_the_same_file_again_returns_the_earlier_job_and_adds_nothing(mapping):
    w = pool_world()
    data = csv_bytes(resident_rows(40))
    kwargs = {"columns": services.mapping_guess(w.standard, resident_rows(0)[0])} if mapping == "given" else {}
    first = load_bytes(w.steward, w.dataset, data, **kwargs)
    assert first.status == "succeeded" and first.rows_accepted == 40
    again = load_bytes(w.steward, w.dataset, data, **kwargs)
    assert again.pk == first.pk
    assert Record.objects.filter(dataset=w.dataset).count() == 40
    assert services.ingestion_run(first.pk).rows_accepted == 40  # a finished job is left alone
    assert Record.objects.filter(dataset=w.dataset).count() == 40


@pytest.mark.django_db
def test_the_same_file_with_another_mapping_is_a_new_load():
    w = pool_world()
    data = csv_bytes(resident_rows(10))
    columns = services.mapping_guess(w.standard, resident_rows(0)[0])
    first = load_bytes(w.steward, w.dataset, data, columns=columns)
    fewer = {k: v for k, v in columns.items() if k not in ("phone", "address")}
    second = load_bytes(w.steward, w.dataset, data, columns=fewer)
    assert second.pk != first.pk and second.status == "succeeded"
    assert Record.objects.filter(job=second).exclude(payload__has_key="phone").count() == 10


@pytest.mark.django_db
def test_a_job_whose_earlier_attempt_crashed_runs_again_from_scratch():
    w = pool_world()
    job = _submit(w, csv_bytes(resident_rows(30, bad=2)))
    # a worker died mid-load: its rows were never committed, the job still says running
    IngestionJob.objects.filter(pk=job.pk).update(status="running", attempts=1, rows_read=17, rows_accepted=15)
    job = services.ingestion_run(job.pk)
    assert job.status == "succeeded", job.error_message()
    assert (job.attempts, job.rows_read, job.rows_accepted, job.rows_rejected) == (2, 32, 30, 2)
    assert Record.objects.filter(job=job).count() == 30
    assert RejectedRow.objects.filter(job=job).count() == 2


@pytest.mark.django_db
def test_attempts_beyond_the_limit_end_failed_as_crashed():
    w = pool_world()
    job = _submit(w, csv_bytes(resident_rows(5)))
    IngestionJob.objects.filter(pk=job.pk).update(status="running", attempts=services.MAX_ATTEMPTS)
    job = services.ingestion_run(job.pk)
    _assert_nothing_of(job)
    assert job.attempts == services.MAX_ATTEMPTS
    assert job.error_message()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mapping", ["guessed", "given"])
def test_concurrent_submissions_of_the_same_file_load_it_once(monkeypatch, mapping):
    """Three uploads of one file race through submission, then their three loads race."""
    w = pool_world()
    monkeypatch.setattr(services, "_enqueue", lambda job: None)  # the runs race in the second round
    data = csv_bytes(resident_rows(300))
    kwargs = {"columns": services.mapping_guess(w.standard, resident_rows(0)[0])} if mapping == "given" else {}
    steward_pk, dataset_pk = w.steward.pk, w.dataset.pk

    def prepare(i):
        return fresh_user(steward_pk), Dataset.objects.get(pk=dataset_pk)

    def submit(i, prepared):
        actor, dataset = prepared
        with transaction.atomic():
            upload = services.spool_upload(data, "residents.csv")
            return services.ingestion_submit_file(actor=actor, dataset=dataset, upload=upload, **kwargs).pk

    submitted = run_together(3, submit, prepare)
    assert all(kind == "ok" for kind, _value in submitted), submitted
    ran = run_together(3, lambda i, _prepared: services.ingestion_run(submitted[i][1]).pk)
    assert all(kind == "ok" for kind, _value in ran), ran
    jobs = list(IngestionJob.objects.filter(pk__in={value for _kind, value in submitted}))
    assert all(job.status == "succeeded" for job in jobs)
    assert Record.objects.filter(dataset_id=dataset_pk).count() == 300
    loaded = [job for job in jobs if "duplicate_of" not in job.options]
    assert len(loaded) == 1 and loaded[0].rows_accepted == 300
    assert all(job.options["duplicate_of"] == loaded[0].pk for job in jobs if job not in loaded)


@pytest.mark.django_db(transaction=True)
def test_a_submission_while_a_load_of_the_same_dataset_runs_does_not_wait_for_it(monkeypatch):
    w = pool_world()
    monkeypatch.setattr(services, "_enqueue", lambda job: None)
    running = _submit(w, csv_bytes(resident_rows(ROWS)))
    paused, resume = threading.Event(), threading.Event()
    mapped_rows = services._mapped_rows
    monkeypatch.setattr(
        services, "_mapped_rows", lambda rows, columns: _paused(mapped_rows(rows, columns), paused, resume, 2500)
    )
    thread, errors = _run_in_thread(lambda: services.ingestion_run(running.pk))
    assert paused.wait(30)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        try:
            other = _submit(w, csv_bytes(resident_rows(5, seed=99)))
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    finally:
        resume.set()
        thread.join(60)
    assert not errors, errors
    assert other.status == "queued"


@pytest.mark.django_db(transaction=True)
def test_a_keyed_submission_while_a_load_of_the_same_dataset_runs_does_not_wait_for_it(monkeypatch):
    w = pool_world()
    monkeypatch.setattr(services, "_enqueue", lambda job: None)
    running = _submit(w, csv_bytes(resident_rows(ROWS)))
    paused, resume = threading.Event(), threading.Event()
    mapped_rows = services._mapped_rows
    monkeypatch.setattr(
        services, "_mapped_rows", lambda rows, columns: _paused(mapped_rows(rows, columns), paused, resume, 2500)
    )
    thread, errors = _run_in_thread(lambda: services.ingestion_run(running.pk))
    assert paused.wait(30)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        try:
            other = _submit(w, csv_bytes(resident_rows(5, seed=99)), idempotency_key="batch-1")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    finally:
        resume.set()
        thread.join(60)
    assert not errors, errors
    assert other.status == "queued"


# --- NUL characters ---


@pytest.mark.django_db
def test_nul_characters_are_rejected_rows_not_a_failed_copy():
    w = pool_world()
    rows = resident_rows(4)
    rows[2][1] = "王\x00芳"  # a text field: reason "nul"
    rows[3][5] = "3\x006"  # a number field: not a number
    rows[4][3] = "\x00"
    job = load_bytes(w.steward, w.dataset, csv_bytes(rows))
    assert job.status == "succeeded", job.error_message()
    assert set(RejectedRow.objects.filter(job=job).values_list("line", "field", "reason")) == {
        (3, "name", "nul"),
        (4, "age", "type"),
        (5, "address", "nul"),
    }
    raw = RejectedRow.objects.get(job=job, line=3).raw  # stored although jsonb has no NUL
    assert raw["姓名"] == "王\ufffd芳"
    assert Record.objects.filter(job=job).count() == 1


@pytest.mark.django_db
def test_nul_in_json_lines_is_rejected_too():
    w = pool_world()
    lines = [
        '{"id_number": "320106199001011234", "name": "王\\u0000芳"}',
        '{"id_number": "320106199001011235", "name": "李娜"}',
    ]
    job = load_bytes(w.steward, w.dataset, "\n".join(lines).encode(), name="x.jsonl")
    assert set(RejectedRow.objects.filter(job=job).values_list("line", "field", "reason")) == {(1, "name", "nul")}
    assert job.rows_accepted == 1


@pytest.mark.django_db
def test_escapes_in_values_survive_copy():
    w = pool_world()
    rows = resident_rows(1)
    rows[1][3] = 'C:\\temp\\new\t"quoted"\r\n末尾\\'  # backslashes, a tab, quotes, a line break
    job = load_bytes(w.steward, w.dataset, csv_bytes(rows))
    assert job.status == "succeeded", job.error_message()
    record = Record.objects.get(job=job)
    assert record.payload["address"] == rows[1][3]
    assert record.address_key == "ctempnewquoted末尾"


# --- progress, seen from another connection ---


def _paused(rows, paused: threading.Event, resume: threading.Event, at: int):
    for n, item in enumerate(rows, start=1):
        if n == at:
            paused.set()
            assert resume.wait(30), "the test never resumed the load"
        yield item


def _run_in_thread(target):
    errors: list[BaseException] = []

    def body():
        try:
            target()
        except BaseException as exc:  # handed to the test
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=body, name="load", daemon=True)
    thread.start()
    return thread, errors


def _observe_progress(job_pk: int, paused: threading.Event, resume: threading.Event) -> IngestionJob:
    assert paused.wait(30), "the load never reached the pause"
    try:
        seen = IngestionJob.objects.get(pk=job_pk)  # this thread's own connection
        records = Record.objects.filter(job_id=job_pk).count()
    finally:
        resume.set()
    assert records == 0  # the rows are not committed yet
    return seen


@pytest.mark.django_db(transaction=True)
def test_progress_of_a_running_load_is_visible_from_another_connection(monkeypatch):
    """Channels that hand rows over (sync, sharing): the counters move while the load runs."""
    w = pool_world()
    monkeypatch.setattr(services, "_enqueue", lambda job: None)
    job = _submit(w, b"id_number\n1\n")
    header, *data = resident_rows(ROWS)
    columns = services.mapping_guess(w.standard, header)
    mapped = services._mapped_rows(
        ((n, dict(zip(header, values, strict=True)), None) for n, values in enumerate(data, start=2)), columns
    )
    paused, resume = threading.Event(), threading.Event()
    thread, errors = _run_in_thread(
        lambda: services.ingestion_run(job.pk, rows=_paused(mapped, paused, resume, at=2500))
    )
    seen = _observe_progress(job.pk, paused, resume)
    thread.join(60)
    assert not errors, errors
    assert seen.status == "running"
    assert 0 < seen.rows_read < 2500 and seen.rows_accepted == seen.rows_read
    job.refresh_from_db()
    assert job.status == "succeeded" and job.rows_read == ROWS


@pytest.mark.django_db(transaction=True)
def test_progress_of_a_file_load_is_visible_from_another_connection(monkeypatch):
    w = pool_world()
    monkeypatch.setattr(services, "_enqueue", lambda job: None)
    job = _submit(w, csv_bytes(resident_rows(ROWS)))
    paused, resume = threading.Event(), threading.Event()
    mapped_rows = services._mapped_rows
    monkeypatch.setattr(
        services, "_mapped_rows", lambda rows, columns: _paused(mapped_rows(rows, columns), paused, resume, 2500)
    )
    thread, errors = _run_in_thread(lambda: services.ingestion_run(job.pk))
    seen = _observe_progress(job.pk, paused, resume)
    thread.join(60)
    assert not errors, errors
    job.refresh_from_db()
    assert job.status == "succeeded" and job.rows_read == ROWS
    assert (seen.status, seen.source_format, seen.encoding) == ("running", "csv", "utf-8-sig")
    assert 0 < seen.rows_read < 2500


@pytest.mark.django_db(transaction=True)
def test_the_progress_writer_never_waits_for_the_load_it_reports(monkeypatch):
    """Even while the load's transaction holds the job row, the load finishes (no self-deadlock)."""
    w = pool_world()
    monkeypatch.setattr(services, "_enqueue", lambda job: None)
    monkeypatch.setattr("apps.datapool.loader.PROGRESS_EVERY_SECONDS", 0)
    job = _submit(w, csv_bytes(resident_rows(ROWS)))
    done = threading.Event()
    thread, errors = _run_in_thread(lambda: (services.ingestion_run(job.pk), done.set()))
    assert done.wait(60), "the load hung"
    thread.join(10)
    assert not errors, errors
    job.refresh_from_db()
    assert job.status == "succeeded" and job.rows_accepted == ROWS
