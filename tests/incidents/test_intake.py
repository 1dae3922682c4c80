"""Services and interfaces: intake channels (hotline 12345, monitoring alerts, ...) and lateness (迟报)
measured from the earliest sighting. The reporting clocks run from the earlier of first-seen and
the intake channel's time; a department's first report past its level's window from that sighting
is late, clock or no clock, and the gap is stored and shown."""

from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from apps.core.exceptions import Conflict, ServiceError
from apps.incidents import services
from apps.incidents.choices import Category, IntakeChannel, ReportKind, Severity, Subtype
from apps.incidents.models import Incident, ReportingClock, SituationReport, TimelineEntry
from apps.ledger.models import AuditEvent
from tests.incidents.world import (
    SHANGHAI,
    T0,
    events_since,
    initial_clock,
    ledger_seq,
    minutes,
    rule,
)

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
HOTLINE = IntakeChannel.HOTLINE


def report(w, *, department=None, intake_channel=HOTLINE, intake_seen_at=None, now=T0, **kwargs) -> Incident:
    department = department or w.em_a1a
    return services.incident_report(
        actor=w.user(department),
        department=department,
        title=kwargs.pop("title", "县道山体滑坡"),
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.GEOLOGICAL,
        severity=kwargs.pop("severity", Severity.III),
        place="县道K12",
        first_seen_at=kwargs.pop("first_seen_at", T0),
        intake_channel=intake_channel,
        intake_seen_at=intake_seen_at,
        regions=kwargs.pop("regions", [department.region]),
        now=now,
        **kwargs,
    )


def submit(w, incident, department, *, now, kind=ReportKind.INITIAL, **kwargs) -> SituationReport:
    return services.report_submit(
        actor=w.user(department), incident=incident, department=department, kind=kind, text="现场", now=now, **kwargs
    )


@pytest.fixture
def hotline_first(w):
    """Severity III (county 60 min, city 60 + 120, province 240). The 12345 hotline took the call at
    T0 − 5 h; the county's emergency department saw it itself at T0 and registers it at T0."""
    rule(Severity.III)
    return report(w, intake_seen_at=T0 - timedelta(hours=5))


# --- the earliest sighting ---------------------------------------------------------------------------


def test_the_clocks_run_from_an_earlier_intake_sighting(w, hotline_first):
    incident = Incident.objects.get(pk=hotline_first.pk)
    sighted = T0 - timedelta(hours=5)

    assert (incident.intake_channel, incident.intake_seen_at) == (HOTLINE, sighted)
    assert (incident.sighted_at, incident.sighted_by) == (sighted, HOTLINE)
    assert initial_clock(incident, w.em_a1a).due_at == sighted + minutes(60)
    assert initial_clock(incident, w.em_a1).due_at == sighted + minutes(180)
    assert initial_clock(incident, w.em_a).due_at == sighted + minutes(240)


def test_a_later_intake_sighting_leaves_first_seen_in_charge(w):
    rule(Severity.III)
    incident = report(w, intake_seen_at=T0 + minutes(20), now=T0 + minutes(30))

    assert (incident.sighted_at, incident.sighted_by) == (T0, "")
    assert initial_clock(incident, w.em_a1a).due_at == T0 + minutes(60)


def test_without_an_intake_channel_nothing_changes(w):
    rule(Severity.III)
    incident = report(w, intake_channel="")

    assert (incident.intake_channel, incident.intake_seen_at, incident.sighted_at) == ("", None, T0)
    assert initial_clock(incident, w.em_a1a).due_at == T0 + minutes(60)


@pytest.mark.parametrize(
    ("channel", "seen_at", "field"),
    [
        (HOTLINE, None, "intake_seen_at"),
        ("", T0 - minutes(30), "intake_channel"),
        ("carrier_pigeon", T0 - minutes(30), "intake_channel"),
        (HOTLINE, T0 + minutes(30), "intake_seen_at"),
    ],
    ids=["channel-without-time", "time-without-channel", "unknown-channel", "future"],
)
def test_an_incomplete_or_impossible_intake_is_refused(w, channel, seen_at, field):
    seq = ledger_seq()

    with pytest.raises(ServiceError) as refused:
        report(w, intake_channel=channel, intake_seen_at=seen_at)

    assert refused.value.field == field
    assert not Incident.objects.exists()
    assert not events_since(seq).filter(action="incident.report").exists()


def test_the_report_event_records_the_intake(w, hotline_first):
    event = AuditEvent.objects.get(action="incident.report", target_id=str(hotline_first.pk))

    assert event.after["intake_channel"] == HOTLINE
    assert datetime.fromisoformat(event.after["intake_seen_at"]) == T0 - timedelta(hours=5)


def test_a_late_registration_is_visible(w, hotline_first):
    assert hotline_first.registration_gap == timedelta(hours=5)
    with translation.override("en"):
        assert hotline_first.registration_gap_text == "registered 5 h 00 min after Hotline (12345) first saw it"


# --- lateness (迟报) from the sighting --------------------------------------------------------------------


def test_a_first_report_past_the_window_from_the_hotline_call_is_late_with_the_gap(w, hotline_first):
    at = T0 + minutes(20)  # 5 h 20 min after the call; the county's window is 60 min
    with pytest.raises(ServiceError) as refused:
        submit(w, hotline_first, w.em_a1a, now=at)
    assert refused.value.code == "late_reason_required"

    late = submit(w, hotline_first, w.em_a1a, now=at, late_reason="热线未及时转办")

    assert late.is_late is True
    assert late.due_at == T0 - timedelta(hours=4)
    assert late.late_by == timedelta(hours=4, minutes=20)
    assert late.late_gap == timedelta(hours=5, minutes=20)
    assert late.late_gap_channel == HOTLINE
    with translation.override("en"):
        assert late.late_gap_text == "reported 5 h 20 min after Hotline (12345) first saw it"
    event = AuditEvent.objects.get(action="report.submit", target_id=str(late.pk))
    assert event.after["late_gap"] and event.after["late_gap_channel"] == HOTLINE
    entry = TimelineEntry.objects.get(target_type="incidents.situationreport", target_id=str(late.pk))
    assert entry.message_args["gap"] == 320 and entry.message_args["minutes"] == 260


def test_a_department_without_a_clock_is_late_past_its_levels_window(w):
    # Given: a county incident seen at T0. The city's fire brigade has no clock (only emergency
    # departments above get one); a city's window is county → city + city → province = 180 min
    rule(Severity.III)
    incident = report(w, intake_channel="")
    assert not ReportingClock.objects.filter(incident=incident, department=w.fire_a1).exists()

    on_time = submit(w, incident, w.health_a1, now=T0 + minutes(180))
    late = submit(w, incident, w.fire_a1, now=T0 + minutes(200), late_reason="通信中断")

    assert (on_time.is_late, on_time.late_gap, on_time.due_at) == (False, None, T0 + minutes(180))
    assert late.is_late is True
    assert (late.due_at, late.late_by, late.late_gap) == (T0 + minutes(180), minutes(20), minutes(200))
    assert late.late_gap_channel == ""
    with translation.override("en"):
        assert late.late_gap_text == "reported 3 h 20 min after the event was first seen"


def test_only_a_departments_first_report_is_judged_from_the_sighting(w):
    rule(Severity.III)
    incident = report(w, intake_channel="")
    submit(w, incident, w.em_a1a, now=T0 + minutes(30))

    # the incident is not being handled yet: no follow-up clock, so a later report is not late
    later = submit(w, incident, w.em_a1a, kind=ReportKind.FOLLOW_UP, now=T0 + timedelta(hours=10))

    assert (later.is_late, later.due_at, later.late_gap) == (False, None, None)


def test_a_late_report_past_its_follow_up_clock_has_no_sighting_gap(w):
    rule(Severity.III)
    incident = report(w, intake_channel="")
    services.incident_verify(actor=w.user(w.em_a, "head"), incident=incident)
    submit(w, incident, w.em_a1a, now=T0 + minutes(30))  # follow-up due T0 + 270

    late = submit(w, incident, w.em_a1a, kind=ReportKind.FOLLOW_UP, now=T0 + minutes(300), late_reason="夜间")

    assert (late.is_late, late.late_by, late.late_gap, late.late_gap_text) == (True, minutes(30), None, "")


# --- monitoring alerts as intake ----------------------------------------------------------------------


@pytest.fixture
def monitoring():
    from tests.monitoring.test_rules import World

    m = World()
    m.load([("S1", m.county_a.code, 8.8, "2026-07-01 08:00")])
    return m


def _alert(m, **rule_kwargs):
    from apps.monitoring import services as monitoring_services
    from apps.monitoring.models import Alert

    rule_ = m.rule(**rule_kwargs)
    monitoring_services.rule_evaluate(rule_id=rule_.pk)
    return Alert.objects.get(rule=rule_)


def test_an_incident_drafted_from_an_alert_was_first_seen_by_monitoring(monitoring):
    from apps.monitoring.choices import DraftAction

    alert = _alert(monitoring, actor=monitoring.water_head, draft_action=DraftAction.INCIDENT, incident_subtype="flood")

    incident = Incident.objects.get(pk=alert.incident_id)
    assert (incident.intake_channel, incident.intake_seen_at) == (IntakeChannel.MONITORING, alert.window_start)
    assert incident.sighted_by == IntakeChannel.MONITORING


def test_linking_an_earlier_alert_moves_the_sighting_and_brings_the_clocks_forward(monitoring):
    m = monitoring
    alert = _alert(m)  # window from 2026-07-01 00:00 Beijing time
    assert alert.window_start == datetime(2026, 7, 1, tzinfo=SHANGHAI)
    seen = datetime(2026, 7, 1, 10, 0, tzinfo=SHANGHAI)
    incident = services.incident_report(
        actor=m.emergency_head,
        department=m.emergency,
        title="城区内涝",
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.III,
        place="城区",
        first_seen_at=seen,
        now=seen + minutes(30),
    )
    clock = ReportingClock.objects.get(incident=incident, department=m.emergency)
    window = clock.due_at - seen  # the city's window (city → province), whatever the rule row says
    seq = ledger_seq()

    services.incident_link_alert(actor=m.emergency_head, incident=incident, alert=alert)

    incident.refresh_from_db()
    alert.refresh_from_db()
    assert alert.incident_id == incident.pk
    assert (incident.intake_channel, incident.intake_seen_at) == (IntakeChannel.MONITORING, alert.window_start)
    assert ReportingClock.objects.get(pk=clock.pk).due_at == alert.window_start + window
    event = events_since(seq).get()
    assert (event.action, event.after["alert"]) == ("incident.alert_link", alert.pk)
    assert [m_["clock"] for m_ in event.after["clocks_moved"]] == [clock.pk]

    # linking the same alert again changes and records nothing
    services.incident_link_alert(actor=m.emergency_head, incident=incident, alert=alert)
    assert not events_since(event.seq).exists()

    # an alert already linked elsewhere is refused
    other = services.incident_report(
        actor=m.emergency_head,
        department=m.emergency,
        title="另一起",
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.III,
        place="城区",
        first_seen_at=seen,
        now=seen + minutes(30),
    )
    with pytest.raises(Conflict):
        services.incident_link_alert(actor=m.emergency_head, incident=other, alert=alert)


# --- the portal and the API -------------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_portal_form_records_the_intake_and_the_detail_shows_the_gaps(w):
    rule(Severity.III)
    officer = w.user(w.em_a1a)
    seen = timezone.localtime(timezone.now() - timedelta(hours=2)).replace(second=0, microsecond=0)
    called = seen - timedelta(hours=3)
    client = _client(officer)
    response = client.post(
        reverse("portal:incident-create"),
        {
            "department": w.em_a1a.pk,
            "title": "Landslide",
            "category": Category.NATURAL_DISASTER,
            "subtype": Subtype.GEOLOGICAL,
            "severity": Severity.III,
            "place": "County road",
            "first_seen_at": seen.strftime("%Y-%m-%dT%H:%M"),
            "intake_channel": HOTLINE,
            "intake_seen_at": called.strftime("%Y-%m-%dT%H:%M"),
            "regions": [w.a1a.pk],
        },
        **EN,
    )
    assert response.status_code == 302, response.content
    incident = Incident.objects.get(title="Landslide")
    assert (incident.intake_channel, incident.intake_seen_at) == (HOTLINE, called)
    report_ = submit(w, incident, w.em_a1a, now=timezone.now(), late_reason="Road cut off")
    with translation.override("en"):
        gap_text = report_.late_gap_text

    page = client.get(reverse("portal:incident-detail", args=[incident.pk]), **EN).content.decode()

    assert "Hotline (12345)" in page
    assert "after Hotline (12345) first saw it" in page and "registered 5 h" in page
    assert gap_text in page and gap_text.startswith("reported 5 h")


def test_the_portal_form_refuses_a_channel_without_a_time(w):
    officer = w.user(w.em_a1a)
    response = _client(officer).post(
        reverse("portal:incident-create"),
        {
            "department": w.em_a1a.pk,
            "title": "Landslide",
            "category": Category.NATURAL_DISASTER,
            "subtype": Subtype.GEOLOGICAL,
            "severity": Severity.III,
            "place": "County road",
            "first_seen_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "intake_channel": HOTLINE,
        },
        **EN,
    )

    assert response.status_code == 400
    assert response.context["form"].errors["intake_seen_at"] == [
        "Give the time the intake channel first saw the event."
    ]
    assert not Incident.objects.exists()


def test_the_api_takes_the_intake_and_shows_the_sighting_and_the_gaps(w, api_client):
    rule(Severity.III)
    officer = w.user(w.em_a1a)
    api_client.force_authenticate(officer)
    now = timezone.now().replace(microsecond=0)
    body = {
        "department": w.em_a1a.pk,
        "title": "滑坡",
        "category": Category.NATURAL_DISASTER,
        "subtype": Subtype.GEOLOGICAL,
        "severity": Severity.III,
        "place": "县道",
        "first_seen_at": (now - timedelta(minutes=30)).isoformat(),
        "intake_channel": HOTLINE,
        "intake_seen_at": (now - timedelta(hours=2)).isoformat(),
    }

    created = api_client.post("/api/v1/incidents/", body, format="json", **EN)

    assert created.status_code == 201, created.content
    data = created.json()
    assert data["intake_channel"] == HOTLINE
    assert datetime.fromisoformat(data["sighted_at"]) == now - timedelta(hours=2)
    assert data["registration_gap"].startswith("02:")
    url = f"/api/v1/incidents/{data['id']}/reports/"
    submitted = api_client.post(
        url, {"department": w.em_a1a.pk, "kind": ReportKind.INITIAL, "text": "初报", "late_reason": "转办慢"}, **EN
    )
    assert submitted.status_code == 201, submitted.content
    row = submitted.json()
    assert row["is_late"] is True and row["late_gap"].startswith("02:")
    assert row["late_gap_channel"] == HOTLINE
    assert row["late_gap_text"].startswith("reported 2 h") and row["late_gap_text"].endswith("first saw it")
    # read-only: a client cannot send them
    again = api_client.post(
        url,
        {"department": w.em_a1a.pk, "kind": ReportKind.FOLLOW_UP, "text": "续报", "late_gap": "00:00:01"},
        format="json",
    )
    assert again.status_code == 201 and again.json()["late_gap"] is None
