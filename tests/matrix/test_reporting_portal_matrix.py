"""Permission matrix for the reporting portal pages (/reports/…).

The targets come from tests/matrix/reporting_world.py (shared with the API matrix):
- a report (`reporting_report`): its page, progress fragment and files are for those who command
  its incident (the emergency heads over city A1: IN_SCOPE, SAME_REGION_OTHER_DEPT); everyone
  else 404, the target department's staff included (they see the incident, not its reports).
- requesting a report and setting the daily schedule are POSTs on the incident, for the same
  commanders: the city's other seats see the incident (403 before the form is read), province B
  does not (404).
- an archive (`reporting_archive`): everyone who sees its incident, any role; every download is an
  `archive.download` ledger event.
"""

import io
import zipfile

import pytest
from django.urls import reverse

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from tests.matrix import reporting_world  # noqa: F401  (registers the reporting_* world objects)
from tests.matrix.harness import State, action, cases, check, detail, listing
from tests.matrix.registry import register
from tests.matrix.reporting_world import (
    ARCHIVE_VIEWERS,
    INCIDENT_VIEWERS,
    REPORT_READERS,
    archive_downloads,
    reports_on_incident,
    schedule_state,
)

pytestmark = pytest.mark.django_db

S = State


def report_url(w) -> str:
    return reverse("portal:report-detail", args=[w.reporting_report.pk])


def archive_url(w) -> str:
    return reverse("portal:archive-detail", args=[w.reporting_archive.pk])


def csv_check(world, state, user, response):
    if response.status_code != 200:
        return
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf"), "the CSV starts with a BOM"
    assert response["Content-Type"].startswith("text/csv")


def archive_check(world, state, user, response):
    if response.status_code != 200:
        assert archive_downloads(world) == 0, "a refused download was recorded as a download"
        return
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        assert "manifest.json" in zf.namelist()
    event = AuditEvent.objects.filter(action="archive.download").order_by("-seq").first()
    assert event is not None and event.actor_id == user.pk and event.target_id == str(world.reporting_archive.pk)


def request_form(w) -> dict:
    return {"kind": "situation", "idempotency_key": "matrix-report-request"}


ROUTES = register(
    "reporting-portal",
    [
        # --- reports: the incident's commanders
        listing("portal:report-list", role=Role.HEAD, marker=report_url, visible_to=REPORT_READERS),
        detail(
            "portal:report-detail",
            role=Role.HEAD,
            target="reporting_report",
            visible_to=REPORT_READERS,
            marker=lambda w: reverse("portal:report-download", args=[w.reporting_report.pk, "pdf"]),
            shows_marker_to=REPORT_READERS,
        ),
        detail("portal:report-progress", role=Role.HEAD, target="reporting_report", visible_to=REPORT_READERS),
        detail(
            "portal:report-download",
            role=Role.HEAD,
            target="reporting_report",
            visible_to=REPORT_READERS,
            kwargs=lambda w: {"fmt": "csv"},
            check_extra=csv_check,
        ),
        action(
            "portal:report-request",
            "post",
            target="reporting_incident",
            url_kwarg="incident_pk",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=REPORT_READERS,
            success=302,
            data=request_form,
            probe=reports_on_incident,
            note="the city's staff see the incident but do not command it: 403 before the form is read",
        ),
        action(
            "portal:report-schedule",
            "post",
            target="reporting_incident",
            url_kwarg="incident_pk",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=REPORT_READERS,
            success=302,
            data=lambda w: {"at_time": "07:30", "is_active": "on"},
            probe=schedule_state,
        ),
        # --- archives: everyone who sees the incident
        listing("portal:archive-list", marker=archive_url, visible_to=ARCHIVE_VIEWERS),
        detail(
            "portal:archive-detail",
            target="reporting_archive",
            visible_to=ARCHIVE_VIEWERS,
            marker=lambda w: w.reporting_archive.root_hash,
            shows_marker_to=ARCHIVE_VIEWERS,
        ),
        detail(
            "portal:archive-download",
            target="reporting_archive",
            visible_to=ARCHIVE_VIEWERS,
            check_extra=archive_check,
        ),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
