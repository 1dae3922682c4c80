"""Reporting pages: requesting a report from the incident page (and its double-click guard), the
report's page with its live progress fragment and then its files and readable summary, the files
themselves, refused and invalid requests, the daily schedule, the archive pages and their ledgered
download, and the "Reports and archive" card on the incident page. In Chinese and in English.

The permission matrix (tests/matrix/test_reporting_portal_matrix.py) covers who gets what status;
these tests cover what the pages do. Generation runs in-process: the POST is wrapped in
`django_capture_on_commit_callbacks(execute=True)`."""

import io
import re
import zipfile
from datetime import time

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.core.permissions import Role
from apps.incidents import services as incidents
from apps.incidents.choices import IncidentStatus
from apps.ledger.models import AuditEvent
from apps.reporting import services
from apps.reporting.choices import JobStatus
from apps.reporting.models import Archive, Report, ReportSchedule
from tests.incidents.world import build_world, commander
from tests.reporting.test_reports import _incident_with_work

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def w(admin):
    return build_world()


@pytest.fixture
def inc(w):
    return _incident_with_work(w)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def request_url(incident) -> str:
    return reverse("portal:report-request", args=[incident.pk])


def requested(client, incident, capture, **form) -> Report:
    with capture(execute=True):
        response = client.post(request_url(incident), {"kind": "situation", "idempotency_key": "k-1", **form})
    assert response.status_code == 302, response.content[:500]
    report = Report.objects.get(incident=incident, idempotency_key=form.get("idempotency_key", "k-1"))
    assert response["Location"] == reverse("portal:report-detail", args=[report.pk])
    return report


# --- requesting ---------------------------------------------------------------------------------


def test_a_commander_generates_a_report_and_lands_on_its_page(w, inc, django_capture_on_commit_callbacks):
    client = client_for(commander(w))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(request_url(inc), {"kind": "situation", "idempotency_key": "k-1"}, **EN)
    report = Report.objects.get(incident=inc)
    assert response.status_code == 302 and response["Location"] == f"/reports/{report.pk}/"
    assert texts(response) == ["The report is being generated."]
    report.refresh_from_db()
    assert report.status == JobStatus.DONE and report.requested_by == commander(w)

    for lang, headers in (("zh-hans", ZH), ("en", EN)):
        page = client.get(f"/reports/{report.pk}/", **headers)
        assert page.status_code == 200
        html = page.content.decode()
        assert f'<html lang="{lang}">' in html
        for fmt in ("pdf", "xlsx", "csv"):
            assert reverse("portal:report-download", args=[report.pk, fmt]) in html
        assert "hx-get" not in html and "htmx.min.js" not in html  # done: nothing polls
        assert "巡堤查险" in html and w.fire_a1.name in html  # the task table of the summary
        assert "江堤出现管涌" in html  # the latest situation report
    assert "Key figures" in client.get(f"/reports/{report.pk}/", **EN).content.decode()


def test_a_double_submission_queues_one_report(w, inc, django_capture_on_commit_callbacks):
    client = client_for(commander(w))
    first = requested(client, inc, django_capture_on_commit_callbacks, idempotency_key="same")
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(request_url(inc), {"kind": "situation", "idempotency_key": "same"})
    assert again["Location"] == reverse("portal:report-detail", args=[first.pk])
    assert Report.objects.filter(incident=inc).count() == 1


def test_the_incident_page_form_carries_a_fresh_idempotency_key(w, inc):
    client = client_for(commander(w))
    keys = set()
    for _ in range(2):
        html = client.get(reverse("portal:incident-detail", args=[inc.pk])).content.decode()
        form = html[html.index(f'action="{request_url(inc)}"') :]
        keys.add(re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', form).group(1))
    assert len(keys) == 2


def test_an_unknown_kind_is_a_form_error_and_a_review_waits_for_closing(w, inc):
    client = client_for(commander(w))
    response = client.post(request_url(inc), {"kind": "weekly", "idempotency_key": "k-2"}, **EN)
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    response = client.post(request_url(inc), {"kind": "review", "idempotency_key": "k-3"}, **EN)
    assert response.status_code == 400
    assert "An after-action review is written once the incident is closed." in response.content.decode()
    zh = client.post(request_url(inc), {"kind": "weekly", "idempotency_key": "k-4"}, **ZH).content.decode()
    assert "有效" in zh  # Django's own "Select a valid choice" in Chinese
    assert not Report.objects.filter(incident=inc).exists()


def test_only_commanders_request(w, inc):
    seen = client_for(w.user(w.health_a1, Role.HEAD))  # sees the A1 flood, does not command it
    assert seen.post(request_url(inc), {"kind": "weekly"}).status_code == 403  # before the form is read
    assert client_for(w.user(w.em_b1, Role.HEAD)).post(request_url(inc), {"kind": "situation"}).status_code == 404
    assert client_for(commander(w)).get(request_url(inc)).status_code == 405
    assert not Report.objects.filter(incident=inc).exists()


# --- the report's page while it is generated ----------------------------------------------------


def test_the_progress_fragment_polls_every_two_seconds_until_done(w, inc):
    client = client_for(commander(w))
    client.post(request_url(inc), {"kind": "situation", "idempotency_key": "k-5"})  # queued: never committed
    report = Report.objects.get(incident=inc)
    progress = reverse("portal:report-progress", args=[report.pk])

    page = client.get(reverse("portal:report-detail", args=[report.pk]), **EN).content.decode()
    assert f'hx-get="{progress}"' in page and 'hx-trigger="every 2s"' in page
    assert "/static/vendor/htmx/htmx.min.js" in page and "https://" not in page
    assert "Waiting for a worker" in page and 'max="100" value="0"' in page

    Report.objects.filter(pk=report.pk).update(status=JobStatus.RUNNING, progress=46)
    fragment = client.get(progress, **EN, **HTMX)
    assert fragment.status_code == 200 and fragment["Cache-Control"] == "no-store"
    html = fragment.content.decode()
    assert "<html" not in html and 'hx-trigger="every 2s"' in html and 'max="100" value="46"' in html

    Report.objects.filter(pk=report.pk).update(status=JobStatus.QUEUED, progress=0)
    services.report_generate(report_id=report.pk)
    html = client.get(progress, **EN, **HTMX).content.decode()
    assert "hx-get" not in html and 'max="100" value="100"' in html  # finished: stops polling
    assert 'id="report-results" hx-swap-oob="true"' in html  # and brings the files along
    assert reverse("portal:report-download", args=[report.pk, "pdf"]) in html


def test_a_failed_report_says_why(w, inc):
    client = client_for(commander(w))
    client.post(request_url(inc), {"kind": "situation", "idempotency_key": "k-6"})
    report = Report.objects.get(incident=inc)
    Report.objects.filter(pk=report.pk).update(status=JobStatus.FAILED, error="OSError: disk full", progress=46)
    html = client.get(reverse("portal:report-progress", args=[report.pk]), **EN).content.decode()
    assert "The report could not be generated." in html and "OSError: disk full" in html and "hx-get" not in html


# --- files --------------------------------------------------------------------------------------


def test_each_file_downloads_with_its_type_and_names(w, inc, django_capture_on_commit_callbacks):
    client = client_for(commander(w))
    report = requested(client, inc, django_capture_on_commit_callbacks)
    report.refresh_from_db()
    expected = {
        "pdf": ("application/pdf", b"%PDF"),
        "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
        "csv": ("text/csv; charset=utf-8", b"\xef\xbb\xbf"),
    }
    for fmt, (content_type, magic) in expected.items():
        response = client.get(reverse("portal:report-download", args=[report.pk, fmt]))
        assert response.status_code == 200
        assert response["Content-Type"] == content_type
        assert b"".join(response.streaming_content).startswith(magic)
        assert response["Content-Disposition"].startswith(
            f"attachment; filename=\"incident-{inc.pk}-situation-1.{fmt}\"; filename*=UTF-8''%"
        )
        assert response["X-Content-SHA256"] == report.hashes[fmt]
    assert client.get(reverse("portal:report-download", args=[report.pk, "docx"])).status_code == 404


def test_no_file_before_the_report_is_done(w, inc):
    client = client_for(commander(w))
    client.post(request_url(inc), {"kind": "situation", "idempotency_key": "k-7"})
    report = Report.objects.get(incident=inc)
    assert client.get(reverse("portal:report-download", args=[report.pk, "pdf"])).status_code == 404


# --- lists --------------------------------------------------------------------------------------


def test_the_report_list_filters_by_kind_status_and_incident(w, inc, django_capture_on_commit_callbacks):
    client = client_for(commander(w))
    done = requested(client, inc, django_capture_on_commit_callbacks)
    client.post(request_url(inc), {"kind": "situation", "idempotency_key": "k-8"})
    queued = Report.objects.get(idempotency_key="k-8")
    url = reverse("portal:report-list")
    for headers in (ZH, EN):
        html = client.get(url, **headers).content.decode()
        assert f'href="/reports/{done.pk}/"' in html and f'href="/reports/{queued.pk}/"' in html
    html = client.get(url, {"status": "done"}).content.decode()
    assert f'href="/reports/{done.pk}/"' in html and f'href="/reports/{queued.pk}/"' not in html
    assert f'<option value="{inc.pk}"' in client.get(url).content.decode()  # the incident select
    assert "/reports/" not in client.get(url, {"kind": "review"}).content.decode().split("<tbody>")[1]
    outsider = client_for(w.user(w.health_a1, Role.HEAD))
    assert f'href="/reports/{done.pk}/"' not in outsider.get(url).content.decode()


# --- the daily schedule -------------------------------------------------------------------------


def test_the_daily_schedule_is_set_from_the_incident_page(w, inc):
    client = client_for(commander(w))
    url = reverse("portal:report-schedule", args=[inc.pk])
    response = client.post(url, {"at_time": "08:00", "is_active": "on"}, **EN)
    assert response.status_code == 302 and response["Location"] == reverse("portal:incident-detail", args=[inc.pk])
    assert texts(response) == ["The daily report schedule is saved."]
    schedule = ReportSchedule.objects.get(incident=inc)
    assert (schedule.at_time, schedule.is_active) == (time(8, 0), True)
    page = client.get(reverse("portal:incident-detail", args=[inc.pk]), **EN).content.decode()
    assert "every day at 08:00" in page and 'value="08:00"' in page

    client.post(url, {"at_time": "08:00"})  # the box unticked: switched off
    assert ReportSchedule.objects.get(incident=inc).is_active is False
    bad = client.post(url, {"at_time": "25:61", "is_active": "on"}, **EN)
    assert bad.status_code == 400 and "Enter a valid time." in bad.content.decode()
    assert client_for(w.user(w.health_a1, Role.HEAD)).post(url, {"at_time": "09:00"}).status_code == 403


# --- the incident page card ---------------------------------------------------------------------


def test_the_incident_page_card_lists_reports_and_offers_buttons_only_to_commanders(
    w, inc, django_capture_on_commit_callbacks
):
    client = client_for(commander(w))
    report = requested(client, inc, django_capture_on_commit_callbacks)
    detail = reverse("portal:incident-detail", args=[inc.pk])
    for headers in (ZH, EN):
        html = client.get(detail, **headers).content.decode()
        assert 'id="reports-and-archive"' in html
        assert f'href="/reports/{report.pk}/"' in html
        assert f'action="{request_url(inc)}"' in html
        assert f'action="{reverse("portal:report-schedule", args=[inc.pk])}"' in html
    assert "Generate consolidated report" in client.get(detail, **EN).content.decode()

    staff = client_for(w.user(w.health_a1))  # sees the incident, neither its reports nor the buttons
    html = staff.get(detail, **EN).content.decode()
    assert 'id="reports-and-archive"' in html and "No reports yet." in html
    assert request_url(inc) not in html and f"/reports/{report.pk}/" not in html


# --- archives -----------------------------------------------------------------------------------


def _closed(w, inc, capture):
    inc = incidents.incident_set_status(actor=commander(w), incident=inc, status=IncidentStatus.RESPONDING)
    with capture(execute=True):
        return incidents.incident_set_status(actor=commander(w), incident=inc, status=IncidentStatus.CLOSED)


def test_the_archive_pages_and_a_ledgered_download(w, inc, django_capture_on_commit_callbacks):
    inc = _closed(w, inc, django_capture_on_commit_callbacks)
    archive = Archive.objects.get(incident=inc)
    staff = w.user(w.health_a1)  # sees the incident: sees its archive
    client = client_for(staff)

    incident_page = client.get(reverse("portal:incident-detail", args=[inc.pk]), **EN).content.decode()
    assert reverse("portal:archive-detail", args=[archive.pk]) in incident_page
    for headers in (ZH, EN):
        listing = client.get(reverse("portal:archive-list"), **headers).content.decode()
        assert reverse("portal:archive-detail", args=[archive.pk]) in listing
        page = client.get(reverse("portal:archive-detail", args=[archive.pk]), **headers)
        assert page.status_code == 200
        html = page.content.decode()
        assert archive.root_hash in html and f"#{archive.ledger_seq}" in html
        for entry in archive.manifest["files"]:
            assert entry["path"] in html and entry["sha256"] in html
        assert reverse("portal:archive-download", args=[archive.pk]) in html

    response = client.get(reverse("portal:archive-download", args=[archive.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert "manifest.json" in zf.namelist()
    assert services.archive_verify(io.BytesIO(data)).ok
    event = AuditEvent.objects.get(action="archive.download")
    assert (event.actor_id, event.target_id) == (staff.pk, str(archive.pk))

    assert client_for(w.user(w.em_b1)).get(reverse("portal:archive-download", args=[archive.pk])).status_code == 404
    assert AuditEvent.objects.filter(action="archive.download").count() == 1


def test_a_closed_incident_offers_the_review_and_no_schedule(w, inc, django_capture_on_commit_callbacks):
    inc = _closed(w, inc, django_capture_on_commit_callbacks)
    client = client_for(commander(w))
    html = client.get(reverse("portal:incident-detail", args=[inc.pk]), **EN).content.decode()
    assert 'name="kind" value="review"' in html and "Generate an after-action review" in html
    assert reverse("portal:report-schedule", args=[inc.pk]) not in html
    review = Report.objects.get(incident=inc, kind="review")
    assert f'href="/reports/{review.pk}/"' in html
    review_page = client.get(f"/reports/{review.pk}/", **EN).content.decode()
    assert "Key intervals" in review_page and "非本部门职责" in review_page
