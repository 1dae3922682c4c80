"""Files go through Django's storage API only, so object storage (STORAGE_BACKEND=s3) can hold them.

No S3 server runs here. Two checks stand in for one: the source never reaches for a local path
(MEDIA_ROOT, `.path` of a stored file, a storage's `path()`, a file's public `.url`), and every file
flow runs against a storage that has neither a local path nor a URL (`object_storage.py`): a
data-pool upload in two steps, read back by the load (the worker's side); a task attachment up and
down through the API; the three report files generated and downloaded; the archive frozen (it reads
the reports back) and downloaded; the staged-upload purge, which lists and dates stored files.
"""

from __future__ import annotations

import ast
import hashlib
import io
import re
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.permissions import Role
from apps.datapool.models import IngestionJob, Record
from apps.datapool.tasks import staged_uploads_purge_task
from apps.incidents import services as incidents
from apps.incidents.choices import IncidentStatus
from apps.reporting import services as reporting
from apps.reporting.choices import JobStatus
from apps.reporting.models import Archive, Report
from tests.datapool.world import csv_bytes, pool_world, resident_rows
from tests.incidents.world import SHANGHAI, build_world, commander
from tests.reporting.test_reports import _incident_with_work
from tests.scaleout.object_storage import NoLocalPathStorage

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "apps"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def object_storage(settings):
    settings.STORAGES = settings.STORAGES | {"default": {"BACKEND": "tests.scaleout.object_storage.NoLocalPathStorage"}}
    assert isinstance(default_storage, NoLocalPathStorage)  # what every FileField and default_storage use now
    return default_storage


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the source ----------------------------------------------------------------------------------


def file_field_names() -> set[str]:
    return {
        field.name
        for model in django_apps.get_models()
        if model.__module__.startswith("apps.")
        for field in model._meta.get_fields()
        if isinstance(field, models.FileField)
    }


def local_path_uses(source: str, file_fields: set[str]) -> list[str]:
    """`x.<file field>.path`/`.url`, `<storage>.path(…)`, `settings.MEDIA_ROOT` in one module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        text = ast.unparse(node)
        owner = node.value
        owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
        if node.attr == "MEDIA_ROOT":
            found.append(text)
        elif node.attr in ("path", "url") and owner_name in file_fields | {"stored", "fieldfile", "file_field"}:
            found.append(text)
        elif node.attr == "path" and "storage" in owner_name.lower():
            found.append(text)
    return found


def test_the_file_fields_are_known():
    # the scan below looks for these names; if a new FileField appears, it is in this set
    assert {"file", "pdf", "xlsx", "csv"} <= file_field_names()


def test_no_module_reaches_for_a_local_path_or_a_public_url_of_a_stored_file():
    fields = file_field_names()
    offenders = {
        str(path.relative_to(ROOT)): uses
        for path in sorted(APPS.rglob("*.py"))
        if "migrations" not in path.parts and (uses := local_path_uses(path.read_text(encoding="utf-8"), fields))
    }
    assert offenders == {}


def test_the_scan_finds_what_it_looks_for():
    fields = {"file", "pdf"}
    bad = (
        "from django.conf import settings\n"
        "a = job.file.path\n"
        "b = report.pdf.url\n"
        "c = default_storage.path(name)\n"
        "d = open(settings.MEDIA_ROOT / 'x')\n"
        "e = region.path\n"  # a region's materialised path is not a file
    )
    assert sorted(local_path_uses(bad, fields)) == [
        "default_storage.path",
        "job.file.path",
        "report.pdf.url",
        "settings.MEDIA_ROOT",
    ]


def test_no_template_links_a_stored_file_directly():
    pattern = re.compile(r"\.(file|pdf|xlsx|csv)\.(url|path)\b")
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted([*ROOT.joinpath("templates").rglob("*.html"), *APPS.rglob("*.html")])
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# --- the flows, on a storage without a local path ----------------------------------------------------


def test_the_storage_in_use_has_no_local_path(object_storage):
    name = object_storage.save("probe/x.txt", ContentFile(b"x"))
    with pytest.raises(NotImplementedError):
        object_storage.path(name)
    with pytest.raises(NotImplementedError):
        object_storage.url(name)
    object_storage.delete(name)


@pytest.mark.django_db
def test_a_two_step_upload_is_staged_read_and_loaded_through_the_storage(
    object_storage, django_capture_on_commit_callbacks
):
    w = pool_world()
    client = client_for(w.steward)
    url = reverse("portal:dataset-upload", args=[w.dataset.pk])
    data = csv_bytes(resident_rows(25))

    # step one: the file is kept aside in the storage and its header read back from it
    preview = client.post(url, {"file": SimpleUploadedFile("residents.csv", data, content_type="text/csv")})
    assert preview.status_code == 200, preview.content[:500]
    form = preview.context["mapping_form"]
    staged = preview.context["staged"]["path"]
    assert object_storage.exists(staged)

    # step two: the staged file is submitted; the load (the worker's side, in-process here) reads the job's file
    choices = {f"col_{f['name']}": form[f"col_{f['name']}"].value() or "" for f in w.standard.fields}
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"token": form["token"].value(), "idempotency_key": "scaleout-1", **choices})
    assert done.status_code == 302
    job = IngestionJob.objects.get(dataset=w.dataset)
    assert job.status == "succeeded", job.error_message()
    assert Record.objects.filter(job=job).count() == 25
    assert object_storage.exists(job.file.name) and job.file.storage.__class__ is NoLocalPathStorage
    assert not object_storage.exists(staged)  # the staged copy is gone once submitted


@pytest.mark.django_db
def test_an_attachment_is_stored_and_downloaded_through_the_storage(object_storage):
    from apps.tasking import services as tasking

    w = build_world()
    [task] = tasking.task_dispatch(
        actor=w.user(w.em_a1, Role.HEAD),
        issuer_department=w.em_a1,
        departments=[w.fire_a1],
        title="巡堤查险",
        deadline=datetime.now(SHANGHAI) + timedelta(hours=2),
    )
    api = APIClient()
    api.force_authenticate(w.user(w.fire_a1, Role.HEAD))
    response = api.post(
        f"/api/v1/tasks/{task.pk}/attachments/",
        {"file": SimpleUploadedFile("现场.png", PNG, content_type="image/png")},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["sha256"] == hashlib.sha256(PNG).hexdigest()

    api.force_authenticate(w.user(w.em_a1, Role.HEAD))
    download = api.get(row["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG


@pytest.mark.django_db
def test_reports_and_the_archive_are_written_read_back_and_downloaded_through_the_storage(
    object_storage, django_capture_on_commit_callbacks
):
    w = build_world()
    inc = _incident_with_work(w)
    with django_capture_on_commit_callbacks(execute=True):
        report = reporting.report_request(actor=commander(w), incident=inc)
    report = Report.objects.get(pk=report.pk)
    assert report.status == JobStatus.DONE, report.error
    client = client_for(commander(w))
    for fmt in ("pdf", "xlsx", "csv"):
        assert object_storage.exists(getattr(report, fmt).name)
        response = client.get(reverse("portal:report-download", args=[report.pk, fmt]))
        assert response.status_code == 200
        assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == report.hashes[fmt]

    # closing freezes the archive, which reads every report file back from the storage
    inc = incidents.incident_set_status(actor=commander(w), incident=inc, status=IncidentStatus.RESPONDING)
    with django_capture_on_commit_callbacks(execute=True):
        incidents.incident_set_status(actor=commander(w), incident=inc, status=IncidentStatus.CLOSED)
    archive = Archive.objects.get(incident=inc)
    assert archive.status == JobStatus.DONE, archive.error
    response = client.get(reverse("portal:archive-download", args=[archive.pk]))
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        names = zf.namelist()
        pdf = zf.read(f"reports/situation-{report.number}.pdf")
    assert "manifest.json" in names
    assert hashlib.sha256(pdf).hexdigest() == report.hashes["pdf"]


@pytest.mark.django_db
def test_the_staged_upload_purge_lists_dates_and_deletes_through_the_storage(object_storage):
    old = object_storage.save("ingest/staging/old.dat", ContentFile(b"a,b\n1,2\n"))
    with time_machine.travel(datetime.now(SHANGHAI) + timedelta(days=2)):
        fresh = object_storage.save("ingest/staging/fresh.dat", ContentFile(b"a,b\n"))
        removed = staged_uploads_purge_task()
    assert removed == 1
    assert not object_storage.exists(old) and object_storage.exists(fresh)
