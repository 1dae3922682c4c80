"""Reporting API wiring: a report requested (202, Location) and polled until done, its three files
(content type, attachment names, hashes), who may request (404 outside the scope, 403 for those
who see the incident without commanding it), the review rule and invalid input, replays, the daily
schedule, read-only archives and their download in the ledger. (Scope per route and state: the
matrix, tests/matrix/test_reporting_api_matrix.py.)

Generation runs in-process here: the request is wrapped in `django_capture_on_commit_callbacks(
execute=True)`, so the queued task runs when the request's transaction commits."""

import io
import zipfile
from datetime import time
from urllib.parse import unquote

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from apps.core.permissions import Role
from apps.incidents import services as incidents
from apps.incidents.choices import IncidentStatus
from apps.ledger.models import AuditEvent
from apps.reporting import services
from apps.reporting.choices import JobStatus, ReportKind
from apps.reporting.models import Archive, Report, ReportSchedule
from tests.incidents.world import build_world, commander
from tests.reporting.test_reports import _incident_with_work

pytestmark = pytest.mark.django_db

GHOST = 2_147_483_000


@pytest.fixture
def w(admin):
    return build_world()


@pytest.fixture
def inc(w):
    return _incident_with_work(w)


def assert_error(response, status: int, code: str, fields=None) -> dict:
    assert response.status_code == status, response.content[:500]
    error = response.json()["error"]
    assert error["code"] == code, error
    if fields is not None:
        assert sorted(error.get("fields", {})) == sorted(fields), error
    return error


def request_url(incident) -> str:
    return reverse("api:incident-report-request", args=[incident.pk])


def generated(api_client, user, incident, capture, **body) -> dict:
    api_client.force_authenticate(user)
    with capture(execute=True):
        response = api_client.post(request_url(incident), {"kind": "situation", **body}, format="json")
    assert response.status_code == 202, response.content[:500]
    return response


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


# --- requesting and polling ---------------------------------------------------------------------


def test_a_request_answers_202_with_a_location_polled_until_the_report_is_done(
    api_client, w, inc, django_capture_on_commit_callbacks
):
    response = generated(api_client, commander(w), inc, django_capture_on_commit_callbacks)
    queued = response.json()
    assert response["Location"].endswith(f"/api/v1/reports/{queued['id']}/")
    assert queued["status"] == JobStatus.QUEUED and queued["downloads"] == {}  # as answered, before the commit
    assert (queued["kind"], queued["number"], queued["trigger"]) == ("situation", 1, "on_demand")
    assert queued["incident"] == {"id": inc.pk, "title": inc.title}

    polled = api_client.get(response["Location"]).json()
    assert (polled["status"], polled["progress"], polled["error"]) == (JobStatus.DONE, 100, "")
    assert polled["started_at"] and polled["finished_at"] and polled["requested_by"]
    assert set(polled["hashes"]) == {"pdf", "xlsx", "csv"}
    assert polled["downloads"] == {
        fmt: reverse("api:report-download", kwargs={"pk": queued["id"], "fmt": fmt}) for fmt in ("pdf", "xlsx", "csv")
    }
    event = AuditEvent.objects.get(action="report.request", target_id=str(queued["id"]))
    assert event.actor_id == commander(w).pk


def test_the_three_files_download_with_their_types_names_and_hashes(
    api_client, w, inc, django_capture_on_commit_callbacks
):
    report_id = generated(api_client, commander(w), inc, django_capture_on_commit_callbacks).json()["id"]
    report = Report.objects.get(pk=report_id)
    files = {}
    for fmt in ("pdf", "xlsx", "csv"):
        response = api_client.get(reverse("api:report-download", kwargs={"pk": report_id, "fmt": fmt}))
        assert response.status_code == 200, response.content[:300]
        files[fmt] = body_of(response)
        disposition = response["Content-Disposition"]
        ascii_part, utf8_part = disposition.split("; filename*=UTF-8''")
        assert ascii_part == f'attachment; filename="incident-{inc.pk}-situation-1.{fmt}"'
        assert ascii_part.isascii() and utf8_part.isascii()  # the readable name travels percent-encoded
        assert inc.title in unquote(utf8_part) and unquote(utf8_part).endswith(f".{fmt}")
        assert response["X-Content-SHA256"] == report.hashes[fmt]
        assert response["Cache-Control"] == "private, no-store"
        files[f"{fmt}-type"] = response["Content-Type"]
    assert files["pdf"].startswith(b"%PDF") and files["pdf-type"] == "application/pdf"
    assert zipfile.is_zipfile(io.BytesIO(files["xlsx"]))
    assert files["xlsx-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(files["xlsx"]), read_only=True)
    cells = {str(c) for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row if c}
    assert "巡堤查险" in cells
    assert files["csv"].startswith(b"\xef\xbb\xbf") and files["csv-type"].startswith("text/csv")
    assert "巡堤查险" in files["csv"].decode("utf-8-sig")


def test_no_file_before_the_report_is_done_and_no_unknown_format(api_client, w, inc):
    api_client.force_authenticate(commander(w))
    response = api_client.post(request_url(inc), {"kind": "situation"}, format="json")  # never committed: queued
    assert response.status_code == 202
    report_id = response.json()["id"]
    assert_error(
        api_client.get(reverse("api:report-download", kwargs={"pk": report_id, "fmt": "pdf"})), 404, "not_found"
    )
    assert_error(
        api_client.get(reverse("api:report-download", kwargs={"pk": report_id, "fmt": "docx"})), 404, "not_found"
    )


def test_the_same_idempotency_key_answers_the_first_report(api_client, w, inc):
    api_client.force_authenticate(commander(w))
    first = api_client.post(request_url(inc), {"kind": "situation"}, format="json", HTTP_IDEMPOTENCY_KEY="k-42")
    again = api_client.post(request_url(inc), {"kind": "situation"}, format="json", HTTP_IDEMPOTENCY_KEY="k-42")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"] and again["Location"] == first["Location"]
    assert Report.objects.filter(incident=inc).count() == 1
    too_long = api_client.post(request_url(inc), {}, format="json", HTTP_IDEMPOTENCY_KEY="x" * 65)
    assert_error(too_long, 400, "invalid", fields=["idempotency_key"])


# --- who may request ----------------------------------------------------------------------------


def test_an_incident_out_of_sight_is_404_and_one_seen_but_not_commanded_is_403(api_client, w, inc):
    other_province = w.user(w.em_b1, Role.HEAD)
    api_client.force_authenticate(other_province)
    assert_error(api_client.post(request_url(inc), {"kind": "situation"}, format="json"), 404, "not_found")
    ghost = api_client.post(reverse("api:incident-report-request", args=[GHOST]), {"kind": "situation"}, format="json")
    assert_error(ghost, 404, "not_found")

    health_head = w.user(w.health_a1, Role.HEAD)  # sees the flood in A1, does not command it
    api_client.force_authenticate(health_head)
    refused = api_client.post(request_url(inc), {"kind": "nonsense"}, format="json")
    assert_error(refused, 403, "permission_denied")  # refused before the payload is read
    assert_error(api_client.get(reverse("api:incident-report-schedule", args=[inc.pk])), 403, "permission_denied")
    assert not Report.objects.filter(incident=inc).exists()
    assert AuditEvent.objects.filter(
        action="access.denied", actor=health_head, target_type="incidents.incident", target_id=str(inc.pk)
    ).exists()


def test_a_report_is_read_only_by_those_who_command_the_incident(
    api_client, w, inc, django_capture_on_commit_callbacks
):
    report_id = generated(api_client, commander(w), inc, django_capture_on_commit_callbacks).json()["id"]
    for outsider in (w.user(w.em_b1, Role.HEAD), w.user(w.health_a1, Role.HEAD)):
        api_client.force_authenticate(outsider)
        assert_error(api_client.get(reverse("api:report-detail", args=[report_id])), 404, "not_found")
        download = api_client.get(reverse("api:report-download", kwargs={"pk": report_id, "fmt": "pdf"}))
        assert_error(download, 404, "not_found")
        assert api_client.get(reverse("api:report-list")).json()["count"] == 0


def test_a_review_waits_for_the_incident_to_close_and_an_unknown_kind_is_invalid(api_client, w, inc):
    api_client.force_authenticate(commander(w))
    error = assert_error(api_client.post(request_url(inc), {"kind": "review"}, format="json"), 400, "not_closed")
    assert error["message"]
    assert_error(api_client.post(request_url(inc), {"kind": "weekly"}, format="json"), 400, "invalid", ["kind"])
    en = api_client.post(request_url(inc), {"kind": "review"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert en.json()["error"]["message"] == "An after-action review is written once the incident is closed."
    assert not Report.objects.filter(incident=inc).exists()


# --- lists --------------------------------------------------------------------------------------


def test_the_list_filters_by_incident_kind_and_status(api_client, w, inc, django_capture_on_commit_callbacks):
    done = generated(api_client, commander(w), inc, django_capture_on_commit_callbacks).json()["id"]
    queued = api_client.post(request_url(inc), {"kind": "situation"}, format="json").json()["id"]
    other = _incident_with_work(w)
    elsewhere = api_client.post(request_url(other), {"kind": "situation"}, format="json").json()["id"]
    url = reverse("api:report-list")

    def ids(**query):
        response = api_client.get(url, query)
        assert response.status_code == 200, response.content[:300]
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [elsewhere, queued, done]  # newest first
    assert ids(incident=inc.pk) == [queued, done]
    assert ids(status="done") == [done]
    assert ids(kind="situation", status="queued", incident=other.pk) == [elsewhere]
    assert ids(kind="review") == []
    assert_error(api_client.get(url, {"status": "lost"}), 400, "invalid", ["status"])


def test_reports_cannot_be_written_through_the_collection(api_client, w, inc, django_capture_on_commit_callbacks):
    report_id = generated(api_client, commander(w), inc, django_capture_on_commit_callbacks).json()["id"]
    detail = reverse("api:report-detail", args=[report_id])
    assert api_client.post(reverse("api:report-list"), {"incident": inc.pk}, format="json").status_code == 405
    for method in ("put", "patch", "delete"):
        assert getattr(api_client, method)(detail, {"status": "failed"}, format="json").status_code == 405
    assert Report.objects.get(pk=report_id).status == JobStatus.DONE


# --- the daily schedule -------------------------------------------------------------------------


def test_the_daily_schedule_is_set_and_read_by_the_commanders(api_client, w, inc):
    url = reverse("api:incident-report-schedule", args=[inc.pk])
    api_client.force_authenticate(commander(w))
    assert api_client.get(url).json() == {"incident": inc.pk, "at_time": None, "is_active": False, "last_slot": None}
    response = api_client.put(url, {"at_time": "08:00", "is_active": True}, format="json")
    assert response.status_code == 200, response.content[:300]
    assert response.json() == {"incident": inc.pk, "at_time": "08:00:00", "is_active": True, "last_slot": None}
    assert api_client.put(url, {"at_time": "09:30", "is_active": False}, format="json").json()["is_active"] is False
    schedule = ReportSchedule.objects.get(incident=inc)
    assert (schedule.at_time, schedule.is_active) == (time(9, 30), False)
    assert AuditEvent.objects.filter(action="report.schedule", target_id=str(schedule.pk)).count() == 2
    assert_error(api_client.put(url, {"at_time": "25:00"}, format="json"), 400, "invalid", ["at_time"])


# --- archives -----------------------------------------------------------------------------------


def _closed(w, inc, capture):
    inc = incidents.incident_set_status(actor=commander(w), incident=inc, status=IncidentStatus.RESPONDING)
    with capture(execute=True):
        return incidents.incident_set_status(actor=commander(w), incident=inc, status=IncidentStatus.CLOSED)


def test_an_archive_is_read_by_everyone_who_sees_the_incident_and_each_download_is_ledgered(
    api_client, w, inc, django_capture_on_commit_callbacks
):
    inc = _closed(w, inc, django_capture_on_commit_callbacks)
    archive = Archive.objects.get(incident=inc)
    staff = w.user(w.health_a1)  # sees the incident (A1), commands nothing
    api_client.force_authenticate(staff)

    listed = api_client.get(reverse("api:archive-list"), {"incident": inc.pk}).json()["results"]
    assert [row["id"] for row in listed] == [archive.pk] and "manifest" not in listed[0]
    body = api_client.get(reverse("api:archive-detail", args=[archive.pk])).json()
    assert (body["status"], body["root_hash"], body["ledger_seq"]) == ("done", archive.root_hash, archive.ledger_seq)
    assert body["size"] == archive.size and body["frozen_at"]
    assert {f["path"] for f in body["manifest"]["files"]} >= {"incident.json", "timeline.json", "tasks.json"}
    assert body["download"] == reverse("api:archive-download", args=[archive.pk])

    response = api_client.get(body["download"])
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith(f'attachment; filename="incident-{inc.pk}-archive.zip"')
    data = body_of(response)
    assert services.archive_verify(io.BytesIO(data)).ok
    event = AuditEvent.objects.get(action="archive.download")
    assert (event.actor_id, event.target_id) == (staff.pk, str(archive.pk))

    api_client.force_authenticate(w.user(w.em_b1))  # another province: no archive
    assert_error(api_client.get(reverse("api:archive-download", args=[archive.pk])), 404, "not_found")
    assert AuditEvent.objects.filter(action="archive.download").count() == 1


def test_archives_are_read_only(api_client, w, inc, django_capture_on_commit_callbacks):
    inc = _closed(w, inc, django_capture_on_commit_callbacks)
    archive = Archive.objects.get(incident=inc)
    api_client.force_authenticate(commander(w))
    detail = reverse("api:archive-detail", args=[archive.pk])
    assert_error(
        api_client.post(reverse("api:archive-list"), {"incident": inc.pk}, format="json"), 405, "method_not_allowed"
    )
    for method in ("put", "patch", "delete"):
        assert_error(
            getattr(api_client, method)(detail, {"root_hash": "0" * 64}, format="json"), 405, "method_not_allowed"
        )
    assert api_client.post(reverse("api:archive-download", args=[archive.pk])).status_code == 405
    assert Archive.objects.get(pk=archive.pk).root_hash == archive.root_hash


def test_a_review_of_a_closed_incident_can_be_requested_again(api_client, w, inc, django_capture_on_commit_callbacks):
    inc = _closed(w, inc, django_capture_on_commit_callbacks)  # closing wrote review No. 1
    response = generated(api_client, commander(w), inc, django_capture_on_commit_callbacks, kind="review")
    report = Report.objects.get(pk=response.json()["id"])
    assert (report.kind, report.number, report.status) == (ReportKind.REVIEW, 2, JobStatus.DONE)
