"""The demo's incident scenario: a cross-province flood raised to severity II with its plans
activated, two situation reports (one late, with its reason), a chemical-plant spill downstream
with one published warning. Loading the demo twice changes nothing the second time."""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.incidents.choices import IncidentStatus, Severity, TimelineKind, WarningStatus
from apps.incidents.demo import FLOOD_TITLE, SPILL_TITLE, YANGTZE_DOWNSTREAM, demo_load_incidents
from apps.incidents.models import Incident, PlanActivation, SituationReport, TimelineEntry, Warning
from apps.ledger.models import AuditEvent
from apps.notifications.models import Notification
from apps.tasking.models import Task

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        "incidents": Incident.objects.count(),
        "reports": SituationReport.objects.count(),
        "warnings": Warning.objects.count(),
        "activations": PlanActivation.objects.count(),
        "timeline": TimelineEntry.objects.count(),
        "tasks": Task.objects.count(),
        "notifications": Notification.objects.count(),
        "ledger": AuditEvent.objects.count(),
    }


def load() -> str:
    out = StringIO()
    call_command("load_demo", "--quiet", stdout=out)
    return out.getvalue()


@pytest.fixture
def demo(db):
    load()
    return Incident.objects.get(title=FLOOD_TITLE), Incident.objects.get(title=SPILL_TITLE)


def test_the_flood_crosses_provinces_at_severity_ii_with_its_plans_activated(demo):
    flood, _ = demo
    provinces = {region.path.split("/")[0] for region in flood.regions.all()}
    assert provinces == {"320000", "340000"}  # Jiangsu and Anhui
    assert flood.severity == Severity.II and flood.status == IncidentStatus.RESPONDING
    assert flood.leading_group is not None
    # raised from III to II: both levels' flood plans activated, neither undone
    assert sorted(flood.activations.values_list("plan__severity", flat=True)) == [Severity.II, Severity.III]


def test_two_situation_reports_one_of_them_late_with_its_reason(demo):
    flood, spill = demo
    reports = list(SituationReport.objects.filter(incident__in=[flood, spill]).order_by("number"))
    assert len(reports) == 2
    late = [r for r in reports if r.is_late]
    assert len(late) == 1
    assert late[0].late_reason and late[0].late_by.total_seconds() > 0
    assert late[0].department.region.code == "320100"  # Nanjing's initial report


def test_the_spill_is_downstream_with_one_warning_published(demo):
    flood, spill = demo
    downstream = YANGTZE_DOWNSTREAM.index
    assert downstream(spill.region.code) > max(downstream(r.code) for r in flood.regions.all())
    assert all(downstream(r.code) > downstream("320100") for r in spill.regions.all())
    assert spill.severity == Severity.II and spill.status == IncidentStatus.VERIFIED
    assert spill.activations.get().plan.subtype == spill.subtype
    published = Warning.objects.get(status=WarningStatus.PUBLISHED)
    assert published.incident == spill and published.region == spill.region
    assert Warning.objects.count() == 1


def test_the_timeline_reads_in_the_order_things_happened(demo):
    flood, _ = demo
    entries = list(flood.timeline.order_by("occurred_at", "id"))
    assert [e.pk for e in entries] == sorted(e.pk for e in entries)  # time order is the order of events
    kinds = [e.kind for e in entries]
    assert kinds[0] == TimelineKind.REPORTED
    first_report = kinds.index(TimelineKind.REPORT)
    assert kinds.index(TimelineKind.STATUS) < kinds.index(TimelineKind.SEVERITY) < first_report
    assert kinds.count(TimelineKind.REPORT) == 2


def test_loading_the_demo_twice_changes_nothing(demo):
    first = counts()
    assert "Demo scenario ready" in load()
    assert counts() == first
    assert demo_load_incidents() == 0
    assert counts() == first
