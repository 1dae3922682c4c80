"""Data requests and grants on the incident timeline (issue 3): one `data` entry per ledger event,
linked to that event's seq and to the request or grant; none without an incident, none for a
refused action; no purpose, reasons, fields or secret titles in the text."""

import pytest
import time_machine
from django.utils import timezone
from django.utils.translation import override

from apps.access import services
from apps.access.models import DataGrant
from apps.core.exceptions import AccessDenied, Conflict, ServiceError
from apps.datapool.models import Dataset
from apps.incidents.models import Incident, TimelineEntry
from apps.ledger.models import AuditEvent
from tests.access.world import access_world, incident

pytestmark = pytest.mark.django_db

PURPOSE = "核查洪涝转移人员张三"
BASIS = "《突发事件应对法》第五十四条"


def _request(a, **kwargs):
    args = dict(
        actor=a.health_steward,
        department=a.health,
        dataset=a.pool.dataset,
        fields=["name", "age", "gender"],
        masked_fields=["id_number", "phone"],
        purpose=PURPOSE,
        legal_basis=BASIS,
        duration_hours=72,
    )
    return services.request_create(**(args | kwargs))


def _approve(a, req, actor):
    return services.request_decide(actor=actor, request=req, decision="approve", second_factor=True)


def _data_entries():
    return list(TimelineEntry.objects.filter(kind="data").order_by("id"))


def _new_entry(seen: int, inc, action: str, target) -> TimelineEntry:
    """Exactly one new `data` entry, on `inc`, linked to the latest `action` event and to `target`."""
    entries = _data_entries()[seen:]
    assert len(entries) == 1, [e.summary for e in entries]
    entry = entries[0]
    event = AuditEvent.objects.filter(action=action).latest("seq")
    assert entry.incident_id == inc.pk
    assert entry.ledger_seq == event.seq
    assert (entry.target_type, entry.target_id) == (target._meta.label_lower, str(target.pk))
    assert (event.target_type, event.target_id) == (entry.target_type, entry.target_id)
    assert PURPOSE not in entry.summary and BASIS not in entry.summary
    assert "id_number" not in entry.summary and "phone" not in entry.summary
    return entry


def _en(entry) -> str:
    with override("en"):
        return entry.text


def test_request_stages_grant_and_revocation_each_write_one_linked_entry():
    a = access_world()
    inc = incident(a)
    req = _request(a, incident=inc)
    e = _new_entry(0, inc, "data_request.submit", req)
    assert _en(e) == f"Data request by {a.health.name} for “常住人口” submitted"

    req = _approve(a, req, a.pool.head)
    e = _new_entry(1, inc, "data_request.approve", req)
    assert _en(e) == f"Data request by {a.health.name} for “常住人口” approved by {a.pool.owner.name} (stage 1/2)"

    req = _approve(a, req, a.office_head)  # the last stage: the decision and the grant, one entry each
    grant = DataGrant.objects.get(request=req)
    decision, granted = _data_entries()[2:]
    assert decision.ledger_seq == AuditEvent.objects.filter(action="data_request.approve").latest("seq").seq
    assert _en(decision).endswith(f"approved by {a.office.name} (stage 2/2)")
    assert _new_entry(3, inc, "data_grant.create", grant) == granted
    until = timezone.localtime(grant.valid_until).strftime("%Y-%m-%d %H:%M")
    assert _en(granted) == f"Access to “常住人口” granted to {a.health.name} until {until}"

    services.grant_revoke(actor=a.pool.head, grant=grant, reason="事件已结束，张三已安置")
    e = _new_entry(4, inc, "data_grant.revoke", grant)
    assert _en(e) == f"Access of {a.health.name} to “常住人口” revoked"
    assert "张三" not in e.summary


def test_a_declined_stage_writes_one_entry_and_no_grant_entry():
    a = access_world()
    inc = incident(a)
    req = _request(a, incident=inc)
    services.request_decide(actor=a.pool.head, request=req, decision="reject", reason="张三不在转移名单")
    e = _new_entry(1, inc, "data_request.reject", req)
    assert _en(e) == f"Data request by {a.health.name} for “常住人口” declined by {a.pool.owner.name} (stage 1/2)"
    assert "张三" not in e.summary


def test_withdrawing_a_submitted_request_writes_one_entry_a_draft_none():
    a = access_world()
    inc = incident(a)
    draft = _request(a, incident=inc, submit=False)
    services.request_withdraw(actor=a.health_steward, request=draft)
    assert _data_entries() == []
    req = _request(a, incident=inc)
    services.request_withdraw(actor=a.health_steward, request=req, reason="已另行获取")
    _new_entry(1, inc, "data_request.withdraw", req)


def test_the_sweep_writes_one_entry_per_expired_grant_once():
    a = access_world()
    inc = incident(a)
    grant = _approve(a, _approve(a, _request(a, incident=inc, duration_hours=10), a.pool.head), a.office_head).grant
    seen = len(_data_entries())
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=11)):
        assert services.grants_sweep()["expired"] == 1
        assert services.grants_sweep()["expired"] == 0
    e = _new_entry(seen, inc, "data_grant.expire", grant)
    until = timezone.localtime(grant.valid_until).strftime("%Y-%m-%d %H:%M")
    assert _en(e) == f"Access of {a.health.name} to “常住人口” expired at {until}"


def test_the_sweep_says_a_grant_ended_with_its_incident():
    a = access_world()
    inc = incident(a)
    grant = _approve(a, _approve(a, _request(a, incident=inc), a.pool.head), a.office_head).grant
    seen = len(_data_entries())
    Incident.objects.filter(pk=inc.pk).update(status="closed")
    assert services.grants_sweep()["expired"] == 1
    e = _new_entry(seen, inc, "data_grant.expire", grant)
    assert _en(e) == f"Access of {a.health.name} to “常住人口” ended with the incident"


def _break_glass(a, inc, **kwargs):
    args = dict(
        actor=a.health_head,
        department=a.health,
        dataset=a.pool.dataset,
        incident=inc,
        justification="转移被困群众张三",
        hours=4,
    )
    return services.emergency_access_open(**(args | kwargs))


def test_break_glass_opening_and_an_upheld_review_write_one_entry_each():
    a = access_world()
    inc = incident(a, severity=2)
    seen = len(_data_entries())
    grant = _break_glass(a, inc)
    assert _break_glass(a, inc) == grant  # a double click opens nothing new
    e = _new_entry(seen, inc, "data_grant.create", grant)
    until = timezone.localtime(grant.valid_until).strftime("%Y-%m-%d %H:%M")
    assert _en(e) == f"Emergency access to “常住人口” opened by {a.health.name} until {until}, to be reviewed"
    assert "张三" not in e.summary
    services.emergency_access_review(actor=a.office_head, grant=grant, approve=True, note="确属紧急")
    e = _new_entry(seen + 1, inc, "data_grant.emergency_review", grant)
    assert _en(e) == f"Emergency access of {a.health.name} to “常住人口” reviewed: upheld"


def test_an_overturned_review_writes_the_review_and_the_revocation():
    a = access_world()
    inc = incident(a, severity=2)
    grant = _break_glass(a, inc)
    seen = len(_data_entries())
    services.emergency_access_review(actor=a.office_head, grant=grant, approve=False, note="不属于紧急情形")
    review, revoke = _data_entries()[seen:]
    assert review.ledger_seq == AuditEvent.objects.get(action="data_grant.emergency_review").seq
    assert _en(review).endswith("reviewed: not upheld")
    assert _new_entry(seen + 1, inc, "data_grant.revoke", grant) == revoke


def test_a_secret_dataset_is_named_by_its_owner_only():
    a = access_world()
    inc = incident(a, severity=2)
    Dataset.objects.filter(pk=a.pool.dataset.pk).update(classification="secret")
    a.pool.dataset.refresh_from_db()
    grant = services.emergency_access_open(
        actor=a.office_head, department=a.office, dataset=a.pool.dataset, incident=inc, justification="x", hours=2
    )
    e = _new_entry(0, inc, "data_grant.create", grant)
    assert "常住人口" not in e.summary and "常住人口" not in str(e.message_args)
    assert _en(e).startswith(f"Emergency access to a secret dataset of {a.pool.owner.name} opened by {a.office.name}")


def test_without_an_incident_nothing_reaches_any_timeline():
    a = access_world()
    before = TimelineEntry.objects.count()
    grant = _approve(a, _approve(a, _request(a), a.pool.head), a.office_head).grant
    services.grant_revoke(actor=a.pool.head, grant=grant, reason="不再需要")
    services.request_decide(actor=a.pool.head, request=_request(a), decision="reject", reason="用途不明确")
    services.request_withdraw(actor=a.health_steward, request=_request(a))
    _approve(a, _approve(a, _request(a, duration_hours=1), a.pool.head), a.office_head)
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)):
        assert services.grants_sweep()["expired"] == 1
    assert TimelineEntry.objects.count() == before


def test_refused_actions_write_no_entry():
    a = access_world()
    inc = incident(a, severity=2)
    req = _request(a, incident=inc)
    seen = len(_data_entries())
    with pytest.raises(ServiceError):  # no reason
        services.request_decide(actor=a.pool.head, request=req, decision="reject")
    with pytest.raises(ServiceError):  # the office before the owner
        _approve(a, req, a.office_head)
    with pytest.raises(AccessDenied):  # staff cannot decide
        _approve(a, req, a.pool.staff)
    with pytest.raises(ServiceError):  # an invalid request is not created
        _request(a, incident=inc, purpose=" ")
    assert len(_data_entries()) == seen
    grant = _approve(a, _approve(a, req, a.pool.head), a.office_head).grant
    with pytest.raises(Conflict):  # decided already
        _approve(a, req, a.office_head2)
    seen += 3  # the two approvals and the grant
    assert len(_data_entries()) == seen
    with pytest.raises(ServiceError):  # no reason
        services.grant_revoke(actor=a.pool.head, grant=grant, reason=" ")
    with pytest.raises(AccessDenied):  # the grantee cannot revoke
        services.grant_revoke(actor=a.health_steward, grant=grant, reason="x")
    with pytest.raises(ServiceError):  # a minor incident
        _break_glass(a, incident(a, severity=3))
    assert len(_data_entries()) == seen
    glass = _break_glass(a, inc)
    seen = len(_data_entries())
    with pytest.raises(ServiceError):  # no note
        services.emergency_access_review(actor=a.office_head, grant=glass, approve=True, note="")
    services.emergency_access_review(actor=a.office_head, grant=glass, approve=True, note="确属紧急")
    with pytest.raises(Conflict):  # reviewed already
        services.emergency_access_review(actor=a.office_head, grant=glass, approve=False, note="再审")
    assert len(_data_entries()) == seen + 1
