"""Early-warning rules: incremental evaluation, idempotence, one alert per window, grants respected,
drafts for review, and a race between two evaluations."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.access import services as access
from apps.core.exceptions import ServiceError
from apps.core.permissions import Role
from apps.datapool import services as pool
from apps.datapool.demo import standards_ensure
from apps.incidents.models import Warning
from apps.ledger.models import AuditEvent
from apps.monitoring import services
from apps.monitoring.choices import Aggregate, Comparator, DraftAction, EvaluationOutcome, RuleKind, Window
from apps.monitoring.models import Alert, RuleBucket, RuleEvaluation
from apps.notifications.models import Notification
from apps.organizations.choices import DepartmentType, RegionLevel
from tests.datapool.world import load_bytes
from tests.factories import admin_user, department, member, region

pytestmark = pytest.mark.django_db(transaction=False)

HEADER = "测站,行政区划代码,水位(米),警戒水位(米),观测时间\n"


class World:
    def __init__(self):
        standards = standards_ensure()
        self.province = region()
        self.city = region(parent=self.province)
        self.county_a = region(parent=self.city, level=RegionLevel.COUNTY)
        self.county_b = region(parent=self.city, level=RegionLevel.COUNTY)
        self.water = department(region=self.city, type=DepartmentType.ENVIRONMENT)
        self.water_steward = member(self.water, Role.STEWARD)
        self.water_head = member(self.water, Role.HEAD)
        self.emergency = department(region=self.city, type=DepartmentType.EMERGENCY)
        self.emergency_steward = member(self.emergency, Role.STEWARD)
        self.emergency_head = member(self.emergency, Role.HEAD)
        self.dataset = pool.dataset_create(
            actor=self.water_steward, owner=self.water, standard=standards["river-level"], title="河道水位"
        )

    def load(self, rows):
        body = "".join(f"{station},{code},{level},8.0,{at}\n" for station, code, level, at in rows)
        job = load_bytes(self.water_steward, self.dataset, (HEADER + body).encode("utf-8"))
        assert job.rows_accepted == len(rows), (job.status, job.error if hasattr(job, "error") else "")
        return job

    def rule(self, actor=None, department=None, **kwargs):
        args = dict(
            actor=actor or self.water_steward,
            department=department or self.water,
            dataset=self.dataset,
            name="水位超警戒",
            kind=RuleKind.THRESHOLD,
            field="level_m",
            aggregate=Aggregate.MAX,
            comparator=Comparator.GE,
            threshold=8.0,
            window=Window.DAY,
            level="orange",
            notify_departments=[self.emergency],
        )
        return services.rule_create(**(args | kwargs))


def _evaluate(rule):
    return services.rule_evaluate(rule_id=rule.pk)


def test_a_threshold_rule_reads_only_new_records_and_alerts_once_per_region_and_window():
    w = World()
    a, b = w.county_a.code, w.county_b.code
    w.load([("S1", a, 7.5, "2026-07-01 08:00"), ("S1", a, 8.2, "2026-07-01 14:00"), ("S2", b, 6.0, "2026-07-01 09:00")])
    rule = w.rule()

    first = _evaluate(rule)
    assert (first.records, first.alerts, first.outcome) == (3, 1, EvaluationOutcome.OK)
    alert = Alert.objects.get(rule=rule)
    assert alert.region == w.county_a and alert.value == pytest.approx(8.2) and alert.level == "orange"
    # recorded in the ledger, sent to the owner and to the department the rule names
    assert AuditEvent.objects.filter(action="monitoring.alert", target_id=str(alert.pk)).count() == 1
    assert set(Notification.objects.filter(kind="monitoring.alert").values_list("department_id", flat=True)) == {
        w.water.pk,
        w.emergency.pk,
    }

    again = _evaluate(rule)  # a re-run (or a duplicate delivery) reads nothing twice
    assert (again.records, again.alerts) == (0, 0)
    assert again.from_cursor == again.to_cursor == first.to_cursor

    w.load([("S1", a, 9.1, "2026-07-01 20:00")])  # same county, same day: the window already alerted
    third = _evaluate(rule)
    assert (third.records, third.alerts) == (1, 0)
    assert Alert.objects.filter(rule=rule).count() == 1
    bucket = RuleBucket.objects.get(rule=rule, region=w.county_a)
    assert (bucket.count, bucket.maximum) == (3, pytest.approx(9.1))

    w.load([("S1", a, 8.5, "2026-07-02 08:00")])  # next day: a new window, a new alert
    assert _evaluate(rule).alerts == 1
    assert RuleEvaluation.objects.filter(rule=rule).count() == 4


def test_a_rate_rule_compares_a_window_with_the_previous_one():
    w = World()
    a = w.county_a.code
    w.load([("S1", a, 1.0, f"2026-07-01 0{h}:00") for h in range(2)])
    w.load([("S1", a, 1.0, f"2026-07-02 0{h}:00") for h in range(5)])  # 2 → 5 readings: +150%
    rule = w.rule(kind=RuleKind.RATE, aggregate=Aggregate.COUNT, field="", threshold=50, min_baseline=2)
    evaluation = _evaluate(rule)
    alert = Alert.objects.get(rule=rule)
    assert evaluation.alerts == 1
    assert (alert.value, alert.baseline) == (5, 2)
    assert alert.window_start.date().isoformat() in {"2026-07-01", "2026-07-02"}  # local midnight of the 2nd


def test_a_count_rule_counts_records_within_the_window():
    w = World()
    a = w.county_a.code
    w.load([("S1", a, 1.0, f"2026-07-01 1{h}:00") for h in range(3)])
    rule = w.rule(kind=RuleKind.COUNT, threshold=4, window=Window.HOUR)
    assert _evaluate(rule).alerts == 0  # three windows of one record each
    rule = w.rule(kind=RuleKind.COUNT, threshold=3, window=Window.DAY)
    assert _evaluate(rule).alerts == 1


def test_a_rule_never_sees_rows_its_department_has_no_grant_for():
    w = World()
    a, b = w.county_a.code, w.county_b.code
    w.load([("S1", a, 8.4, "2026-07-01 08:00"), ("S2", b, 9.9, "2026-07-01 08:00")])
    with pytest.raises(ServiceError):  # no grant yet: the rule cannot even be created
        w.rule(actor=w.emergency_steward, department=w.emergency)

    request = access.request_create(
        actor=w.emergency_steward,
        department=w.emergency,
        dataset=w.dataset,
        fields=["station", "level_m", "place_code", "measured_at"],
        row_filter=[{"field": "place_code", "op": "eq", "value": a}],
        purpose="防汛监测",
        legal_basis="《防洪法》",
        duration_hours=72,
    )
    request = access.request_decide(actor=w.water_head, request=request, decision="approve")
    grant = request.grant
    rule = w.rule(actor=w.emergency_steward, department=w.emergency, threshold=8.0, notify_departments=[])
    evaluation = _evaluate(rule)
    assert evaluation.records == 1  # county B's reading is outside the grant's row filter
    assert list(Alert.objects.filter(rule=rule).values_list("region_id", flat=True)) == [w.county_a.pk]

    access.grant_revoke(actor=w.water_head, grant=grant, reason="汛期结束")
    w.load([("S1", a, 9.5, "2026-07-03 08:00")])
    blocked = _evaluate(rule)
    assert blocked.outcome == EvaluationOutcome.NO_ACCESS and blocked.records == 0
    assert blocked.to_cursor == evaluation.to_cursor  # nothing read, nothing skipped


def test_a_masked_field_cannot_be_watched():
    w = World()
    request = access.request_create(
        actor=w.emergency_steward,
        department=w.emergency,
        dataset=w.dataset,
        fields=["station", "place_code", "measured_at"],
        masked_fields=[],
        purpose="防汛监测",
        legal_basis="《防洪法》",
        duration_hours=72,
    )
    access.request_decide(actor=w.water_head, request=request, decision="approve")
    with pytest.raises(ServiceError) as err:
        w.rule(actor=w.emergency_steward, department=w.emergency)
    assert err.value.field == "field"
    # a count needs no field: allowed
    assert w.rule(actor=w.emergency_steward, department=w.emergency, kind=RuleKind.COUNT, threshold=1).pk


def test_a_hit_drafts_a_warning_for_review_or_says_why_it_could_not():
    w = World()
    w.load([("S1", w.county_a.code, 8.8, "2026-07-01 08:00")])
    by_head = w.rule(actor=w.water_head, draft_action=DraftAction.WARNING)
    _evaluate(by_head)
    alert = Alert.objects.get(rule=by_head)
    assert alert.warning is not None and alert.warning.status == "draft"
    assert alert.warning.level == "orange" and alert.warning.region == w.county_a

    by_steward = w.rule(actor=w.water_steward, draft_action=DraftAction.WARNING)  # stewards do not issue warnings
    _evaluate(by_steward)
    alert = Alert.objects.get(rule=by_steward)
    assert alert.warning is None and alert.draft_error
    assert Warning.objects.count() == 1


def test_a_hit_can_draft_an_incident_report_awaiting_verification():
    w = World()
    w.load([("S1", w.county_a.code, 8.8, "2026-07-01 08:00")])
    rule = w.rule(actor=w.water_head, draft_action=DraftAction.INCIDENT, incident_subtype="flood")
    _evaluate(rule)
    alert = Alert.objects.get(rule=rule)
    assert alert.incident is not None and alert.incident.status == "reported"
    with pytest.raises(ServiceError):
        w.rule(actor=w.water_head, draft_action=DraftAction.INCIDENT, incident_subtype="")


def test_alerts_are_handled_by_the_departments_alerted_and_hidden_from_others():
    w = World()
    w.load([("S1", w.county_a.code, 8.8, "2026-07-01 08:00")])
    _evaluate(w.rule())
    alert = Alert.objects.get()
    staff = member(w.emergency, Role.STAFF)
    assert Alert.objects.restrict(staff).count() == 1
    outsider = member(department(region=region(), type=DepartmentType.EMERGENCY), Role.HEAD)
    assert Alert.objects.restrict(outsider).count() == 0
    services.alert_handle(actor=staff, alert=alert, status="acknowledged", note="已派员核查")
    services.alert_handle(actor=staff, alert=alert, status="acknowledged")  # a double click changes nothing
    closed = services.alert_handle(actor=w.water_head, alert=alert, status="closed")
    assert closed.status == "closed"
    with pytest.raises(ServiceError):
        services.alert_handle(actor=staff, alert=alert, status="open")
    assert admin_user()


@pytest.mark.django_db(transaction=True)
def test_two_evaluations_at_once_read_each_record_once():
    w = World()
    w.load([("S1", w.county_a.code, 8.0 + i / 10, f"2026-07-01 {i:02d}:00") for i in range(20)])
    rule = w.rule()
    barrier = threading.Barrier(2)
    results = []

    def run():
        barrier.wait()
        try:
            results.append(services.rule_evaluate(rule_id=rule.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [r for r in results if r is not None]
    assert sum(r.records for r in done) == 20
    assert RuleBucket.objects.get(rule=rule).count == 20
    assert Alert.objects.filter(rule=rule).count() == 1


def test_a_backlog_is_read_in_steps_with_the_same_result():
    w = World()
    a, b = w.county_a.code, w.county_b.code
    w.load([("S1", a if i % 2 else b, 7.0 + i / 10, f"2026-07-0{1 + i % 3} {i:02d}:00") for i in range(15)])
    stepped, whole = w.rule(), w.rule()
    small = services.rule_evaluate(rule_id=stepped.pk, batch=4)
    full = services.rule_evaluate(rule_id=whole.pk)
    assert small.records == full.records == 15 and small.to_cursor == full.to_cursor

    def bucket_view(rule):  # sums added in another order differ in the last bit: rounded
        rows = RuleBucket.objects.filter(rule=rule).values_list("region_id", "start", "count", "maximum", "total")
        return sorted((r, s, n, m, round(t, 6)) for r, s, n, m, t in rows)

    assert bucket_view(stepped) == bucket_view(whole)
    assert sorted(Alert.objects.filter(rule=stepped).values_list("region_id", "window_start")) == sorted(
        Alert.objects.filter(rule=whole).values_list("region_id", "window_start")
    )


def test_one_failing_rule_is_recorded_and_the_others_still_run(monkeypatch):
    w = World()
    w.load([("S1", w.county_a.code, 8.8, "2026-07-01 08:00")])
    broken, healthy = w.rule(), w.rule()
    real = services.rule_evaluate

    def flaky(*, rule_id, **kwargs):
        if rule_id == broken.pk:
            raise ValueError("bad payload value")
        return real(rule_id=rule_id, **kwargs)

    monkeypatch.setattr(services, "rule_evaluate", flaky)
    totals = services.rules_evaluate()
    assert totals["failed"] == 1 and totals["alerts"] == 1
    failed = RuleEvaluation.objects.get(rule=broken)
    assert failed.outcome == EvaluationOutcome.FAILED and "bad payload value" in failed.message
    assert Alert.objects.filter(rule=healthy).count() == 1


def test_a_rule_alerts_only_departments_its_author_can_see():
    w = World()
    hidden = department(region=region(), type=DepartmentType.EMERGENCY)
    with pytest.raises(ServiceError) as err:
        w.rule(notify_departments=[hidden])
    assert err.value.field == "notify_departments"


def test_a_rule_may_alert_the_offices_over_its_department():
    w = World()
    provincial = department(region=w.province, type=DepartmentType.EMERGENCY)
    rule = w.rule(notify_departments=[provincial])
    assert list(rule.notify_departments.all()) == [provincial]
