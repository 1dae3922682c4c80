"""A report's files are written in the language of whoever asked for it (the portal's or the API's
language at the time); without one, or with one the platform does not offer, in the platform's
(Chinese). The incident's own Chinese text is the same in every language."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.ledger.models import AuditEvent
from apps.reporting import services
from apps.reporting.choices import JobStatus
from apps.reporting.models import Report
from tests.incidents.world import build_world, commander
from tests.reporting.test_reports import _incident_with_work, _pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def inc():
    w = build_world()
    return w, _incident_with_work(w)


def generated(capture, **kwargs):
    with capture(execute=True):
        report = services.report_request(**kwargs)
    report.refresh_from_db()
    assert report.status == JobStatus.DONE, report.error
    return report


def test_a_report_asked_for_in_english_has_english_headings_and_the_chinese_title(
    inc, django_capture_on_commit_callbacks
):
    w, incident = inc
    report = generated(django_capture_on_commit_callbacks, actor=commander(w), incident=incident, language="en")
    text = _pdf_text(report)
    assert report.language == "en"
    assert f"Consolidated situation report No. 1: {incident.title}" in text
    assert "Key figures" in text and "Task progress" in text and "主要数据" not in text
    assert "江堤出现管涌" in text  # the department's own words stay as written
    event = AuditEvent.objects.get(action="report.request", target_id=str(report.pk))
    assert event.after["language"] == "en"


@pytest.mark.parametrize("language", ["", "fr", "zh-hans"])
def test_without_a_known_language_a_report_is_in_chinese(inc, django_capture_on_commit_callbacks, language):
    w, incident = inc
    report = generated(django_capture_on_commit_callbacks, actor=commander(w), incident=incident, language=language)
    text = _pdf_text(report)
    assert report.language == "zh-hans"
    assert "主要数据" in text and "Key figures" not in text


@pytest.mark.parametrize(("accept", "expected"), [("en", "en"), ("zh-hans", "zh-hans")])
def test_the_portal_and_the_api_ask_in_the_callers_language(inc, django_capture_on_commit_callbacks, accept, expected):
    w, incident = inc
    client = Client()
    client.force_login(commander(w))
    with django_capture_on_commit_callbacks(execute=True):
        portal = client.post(
            reverse("portal:report-request", args=[incident.pk]),
            {"kind": "situation", "idempotency_key": "portal"},
            HTTP_ACCEPT_LANGUAGE=accept,
        )
        api = client.post(
            reverse("api:incident-report-request", args=[incident.pk]),
            {"kind": "situation"},
            content_type="application/json",
            HTTP_ACCEPT_LANGUAGE=accept,
        )
    assert portal.status_code == 302 and api.status_code == 202, api.content[:300]
    languages = set(Report.objects.filter(incident=incident).values_list("language", flat=True))
    assert languages == {expected}
