"""Permission matrix for the reporting API (/api/v1/reports/, /api/v1/archives/ and the incident's
/report-requests/ and /report-schedule/).

The targets come from tests/matrix/reporting_world.py (shared with the portal matrix):
- reports (`reporting_report`, on `reporting_incident`): read by those who command the incident
  (the emergency heads over city A1: IN_SCOPE, SAME_REGION_OTHER_DEPT); everyone else 404, the
  target department's staff included (they see the incident, not its reports).
- requesting a report and the daily schedule (read and set) are for the same commanders: the
  city's other seats see the incident, so they get 403; province B does not, so 404.
- archives (`reporting_archive`, of `reporting_closed_incident`): everyone who sees the incident,
  any role; every download is an `archive.download` ledger event.

Files are checked like lists (the body is a file, not the object's JSON): 200 with the right bytes
for the readers, and for everyone else a 404 recorded in the ledger that looks exactly like a
nonexistent id.
"""

import io
import zipfile

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from tests.matrix import reporting_world  # noqa: F401  (registers the reporting_* world objects)
from tests.matrix.harness import GHOST_ID, HIDDEN, State, action, cases, check, detail, listing, states_for
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


def _hidden_to_all_but(viewers, role: str) -> dict:
    return {s: HIDDEN for s in states_for(role) if s is not S.ANONYMOUS and s not in viewers}


def _error(response) -> dict:
    return {k: v for k, v in response.json()["error"].items() if k != "request_id"}


def file_refusal(name: str, owner: str, kwargs):
    """A file route's 404: the owner object hidden (recorded in the ledger), answering exactly
    like a nonexistent id."""

    def check_extra(world, state, user, response):
        if user is None or response.status_code != 404:
            return
        target = getattr(world, owner)
        where = f"{name} as {state.value}"
        assert AuditEvent.objects.filter(
            actor=user, action="access.denied", target_type=target._meta.label_lower, target_id=str(target.pk)
        ).exists(), f"{where}: the refusal on {target!r} was not recorded in the ledger"
        client = APIClient()
        client.force_login(user)
        ghost = client.get(reverse(name, kwargs=kwargs(world, GHOST_ID)))
        assert ghost.status_code == 404, f"{where}: a nonexistent id answers {ghost.status_code}"
        assert _error(ghost) == _error(response), f"{where}: hidden and nonexistent answer differently"

    return check_extra


def _report_file(w, pk) -> dict:
    return {"pk": pk, "fmt": "pdf"}


def pdf_check(world, state, user, response):
    if response.status_code == 200:
        body = b"".join(response.streaming_content)
        assert body.startswith(b"%PDF"), body[:20]
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment;")
    file_refusal("api:report-download", "reporting_report", _report_file)(world, state, user, response)


def archive_check(world, state, user, response):
    if response.status_code == 200:
        body = b"".join(response.streaming_content)
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            assert "manifest.json" in zf.namelist()
        event = AuditEvent.objects.filter(action="archive.download").order_by("-seq").first()
        assert event is not None and event.actor_id == user.pk
        assert event.target_id == str(world.reporting_archive.pk)
    else:
        assert archive_downloads(world) == 0, "a refused download was recorded as a download"
    file_refusal("api:archive-download", "reporting_archive", lambda w, pk: {"pk": pk})(world, state, user, response)


ROUTES = register(
    "reporting-api",
    [
        # --- reports: the incident's commanders
        listing("api:report-list", role=Role.HEAD, target="reporting_report", visible_to=REPORT_READERS),
        detail("api:report-detail", role=Role.HEAD, target="reporting_report", visible_to=REPORT_READERS),
        listing(
            "api:report-download",
            role=Role.HEAD,
            kwargs=lambda w: _report_file(w, w.reporting_report.pk),
            query={},
            overrides=_hidden_to_all_but(REPORT_READERS, Role.HEAD),
            check_extra=pdf_check,
            note="a file: checked like a list (200 with the PDF for the readers, 404 like a ghost for the rest)",
        ),
        action(
            "api:incident-report-request",
            "post",
            target="reporting_incident",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=REPORT_READERS,
            success=202,
            data=lambda w: {"kind": "situation"},
            probe=reports_on_incident,
            note="202 and a Location to poll; the city's staff see the incident but do not command it (403)",
        ),
        action(
            "api:incident-report-schedule",
            "get",
            target="reporting_incident",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=REPORT_READERS,
            id_key="incident",
            note="read by those who may set it",
        ),
        action(
            "api:incident-report-schedule",
            "put",
            target="reporting_incident",
            visible_to=INCIDENT_VIEWERS,
            allowed_to=REPORT_READERS,
            data=lambda w: {"at_time": "08:00", "is_active": True},
            probe=schedule_state,
        ),
        # --- archives: everyone who sees the incident
        listing("api:archive-list", target="reporting_archive", visible_to=ARCHIVE_VIEWERS),
        detail("api:archive-detail", target="reporting_archive", visible_to=ARCHIVE_VIEWERS),
        listing(
            "api:archive-download",
            kwargs=lambda w: {"pk": w.reporting_archive.pk},
            query={},
            overrides=_hidden_to_all_but(ARCHIVE_VIEWERS, Role.STAFF),
            check_extra=archive_check,
            note="a file: checked like a list; every 200 is one archive.download ledger event",
        ),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
