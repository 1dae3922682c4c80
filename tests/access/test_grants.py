"""Request → approval → grant → reads that honour the grant's fields, masks, filter and expiry."""

import pytest
import time_machine
from django.utils import timezone

from apps.access import selectors, services
from apps.access.models import DataGrant, DataRequest
from apps.core.exceptions import AccessDenied, ServiceError
from apps.datapool.models import DatasetGroupObjectPermission, Record
from apps.ledger.models import AuditEvent
from tests.access.world import access_world, incident

pytestmark = pytest.mark.django_db


def _request(a, **kwargs):
    args = dict(
        actor=a.health_steward,
        department=a.health,
        dataset=a.pool.dataset,
        fields=["name", "age", "gender"],
        masked_fields=["id_number", "phone"],
        purpose="核查洪涝转移人员",
        legal_basis="《突发事件应对法》第五十四条",
        duration_hours=72,
    )
    return services.request_create(**(args | kwargs))


def _approve_all(a, req):
    req = services.request_decide(actor=a.pool.head, request=req, decision="approve", second_factor=True)
    return services.request_decide(actor=a.office_head, request=req, decision="approve", second_factor=True)


def test_sensitive_data_needs_the_owner_and_the_information_office_then_one_grant():
    a = access_world()
    req = _request(a)
    assert req.status == "submitted" and req.depth == 2
    req = services.request_decide(actor=a.pool.head, request=req, decision="approve", second_factor=True)
    assert req.status == "submitted"  # waiting for the office
    assert not DataGrant.objects.exists()
    req = services.request_decide(actor=a.office_head, request=req, decision="approve", second_factor=True)
    assert req.status == "granted"
    grant = DataGrant.objects.get(request=req)
    assert grant.department == a.health and grant.fields == ["name", "age", "gender"]
    assert DatasetGroupObjectPermission.objects.filter(group=a.health.group, content_object=a.pool.dataset).exists()
    assert [s["stage"] for s in grant.approved_by] == ["owner", "office"]


def test_the_office_cannot_decide_before_the_owner_and_staff_cannot_decide():
    a = access_world()
    req = _request(a)
    with pytest.raises(ServiceError):
        services.request_decide(actor=a.office_head, request=req, decision="approve", second_factor=True)
    with pytest.raises(AccessDenied):
        services.request_decide(actor=a.pool.staff, request=req, decision="approve", second_factor=True)


def test_a_rejection_needs_a_reason_and_ends_the_request():
    a = access_world()
    req = _request(a)
    with pytest.raises(ServiceError):
        services.request_decide(actor=a.pool.head, request=req, decision="reject")
    req = services.request_decide(actor=a.pool.head, request=req, decision="reject", reason="用途不明确")
    assert req.status == "rejected" and req.rejection_reason == "用途不明确"
    with pytest.raises(ServiceError):
        services.request_decide(actor=a.office_head, request=req, decision="approve", second_factor=True)


def test_granted_reads_show_clear_fields_mask_the_rest_and_omit_others():
    a = access_world()
    grant = DataGrant.objects.get(request=_approve_all(a, _request(a)))
    user = a.health_steward
    assert selectors.grant_for_reading(user=user, dataset=a.pool.dataset) == grant
    records = list(selectors.grant_records(user=user, dataset=a.pool.dataset, grant=grant))
    assert len(records) == 30
    present = selectors.presenter_for(grant, a.pool.dataset)
    row = present(records[0].payload)
    assert set(row) == {"name", "age", "gender", "id_number", "phone"}
    assert row["id_number"][0] == records[0].payload["id_number"][0] and row["id_number"][1:17] == "*" * 16
    assert row["phone"][3:7] == "****" and row["phone"][-4:] == records[0].payload["phone"][-4:]
    assert "address" not in row


def test_the_row_filter_holds_on_every_read():
    a = access_world()
    req = _approve_all(a, _request(a, row_filter=[{"field": "gender", "op": "eq", "value": "女"}]))
    grant = req.grant
    records = selectors.grant_records(user=a.health_steward, dataset=a.pool.dataset, grant=grant)
    expected = Record.objects.filter(dataset=a.pool.dataset, payload__gender="女").count()
    assert records.count() == expected > 0
    # the permission path itself carries the filter: restrict() never returns other rows
    assert Record.objects.restrict(a.health_steward).filter(dataset=a.pool.dataset).count() == expected


def test_an_expired_grant_reads_nothing_at_once_without_a_sweep():
    a = access_world()
    _approve_all(a, _request(a))
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=73)):
        with pytest.raises(AccessDenied):
            selectors.grant_for_reading(user=a.health_steward, dataset=a.pool.dataset)
        assert not Record.objects.restrict(a.health_steward).filter(dataset=a.pool.dataset).exists()


def test_a_revoked_grant_reads_nothing_and_loses_its_permission():
    a = access_world()
    grant = _approve_all(a, _request(a)).grant
    services.grant_revoke(actor=a.pool.head, grant=grant, reason="事件已结束")
    with pytest.raises(AccessDenied):
        selectors.grant_for_reading(user=a.health_steward, dataset=a.pool.dataset)
    assert not DatasetGroupObjectPermission.objects.filter(group=a.health.group).exists()
    assert DataRequest.objects.get(pk=grant.request_id).status == "revoked"


def test_a_grant_without_its_guardian_permission_reads_nothing():
    a = access_world()
    _approve_all(a, _request(a))
    DatasetGroupObjectPermission.objects.filter(group=a.health.group).delete()
    with pytest.raises(AccessDenied):
        selectors.grant_for_reading(user=a.health_steward, dataset=a.pool.dataset)


def test_no_grant_no_records_for_a_department_in_another_region():
    a = access_world()
    _approve_all(a, _request(a))
    with pytest.raises(AccessDenied) as exc:
        selectors.grant_for_reading(user=a.stranger, dataset=a.pool.dataset)
    assert exc.value.hidden  # 404, not 403
    assert not Record.objects.restrict(a.stranger).exists()


def test_the_sweep_removes_permissions_of_expired_grants_and_reminds_before_expiry():
    a = access_world()
    grant = _approve_all(a, _request(a, duration_hours=10)).grant
    assert services.grants_sweep()["reminded"] == 1  # ends within a day
    assert services.grants_sweep()["reminded"] == 0  # once
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=11)):
        assert services.grants_sweep()["expired"] == 1
    assert not DatasetGroupObjectPermission.objects.filter(group=a.health.group).exists()
    grant.refresh_from_db()
    assert grant.permission_removed_at is not None
    assert DataRequest.objects.get(pk=grant.request_id).status == "expired"


def test_a_grant_whose_incident_closed_reads_nothing():
    a = access_world()
    inc = incident(a)
    grant = _approve_all(a, _request(a, incident=inc)).grant
    from apps.incidents.models import Incident

    Incident.objects.filter(pk=inc.pk).update(status="closed")
    with pytest.raises(AccessDenied):
        selectors.grant_for_reading(user=a.health_steward, dataset=a.pool.dataset)
    assert services.grants_sweep()["expired"] == 1
    grant.refresh_from_db()
    assert grant.permission_removed_at is not None


def test_break_glass_is_time_boxed_notified_flagged_and_reviewed():
    a = access_world()
    inc = incident(a, severity=2)
    with pytest.raises(ServiceError):
        services.emergency_access_open(
            actor=a.health_head, department=a.health, dataset=a.pool.dataset, incident=inc, justification="", hours=4
        )
    with pytest.raises(ServiceError):
        services.emergency_access_open(
            actor=a.health_head,
            department=a.health,
            dataset=a.pool.dataset,
            incident=inc,
            justification="转移被困群众",
            hours=48,
        )
    with pytest.raises(AccessDenied):  # a steward is not a head
        services.emergency_access_open(
            actor=a.health_steward,
            department=a.health,
            dataset=a.pool.dataset,
            incident=inc,
            justification="转移被困群众",
            hours=4,
        )
    grant = services.emergency_access_open(
        actor=a.health_head,
        department=a.health,
        dataset=a.pool.dataset,
        incident=inc,
        justification="转移被困群众",
        hours=4,
    )
    assert grant.is_emergency and (grant.valid_until - grant.valid_from).total_seconds() == 4 * 3600
    from apps.notifications.models import Notification

    told = set(Notification.objects.filter(kind="data_grant.emergency").values_list("department_id", flat=True))
    assert told == {a.pool.owner.pk, a.office.pk}
    services.read_record(actor=a.health_head, dataset=a.pool.dataset, grant=grant, query={"page": 1}, rows=30)
    event = AuditEvent.objects.filter(action="data.read").latest("seq")
    assert event.after["emergency"] is True and event.after["rows"] == 30
    services.emergency_access_review(actor=a.office_head, grant=grant, approve=False, note="不属于紧急情形")
    with pytest.raises(AccessDenied):
        selectors.grant_for_reading(user=a.health_head, dataset=a.pool.dataset)


def test_break_glass_refuses_minor_or_unverified_incidents():
    a = access_world()
    for inc in (incident(a, severity=3), incident(a, severity=1, verified=False)):
        with pytest.raises(ServiceError):
            services.emergency_access_open(
                actor=a.health_head,
                department=a.health,
                dataset=a.pool.dataset,
                incident=inc,
                justification="x",
                hours=2,
            )


def test_an_export_is_one_ledger_event_with_its_row_count_and_hash():
    a = access_world()
    grant = _approve_all(a, _request(a)).grant
    services.read_record(
        actor=a.health_steward,
        dataset=a.pool.dataset,
        grant=grant,
        query={"format": "csv"},
        rows=30,
        export=True,
        content=b"a,b\n",
    )
    event = AuditEvent.objects.filter(action="data.export").get()
    assert event.after["rows"] == 30
    assert (
        event.after["sha256"]
        == "6e7c6a8b0f6d0f0a8a1e0b9b4c6a5d2cbd1d4f7b0b4dd1bf0f1b0d3cc6f4f0c5"[:0]
        + __import__("hashlib").sha256(b"a,b\n").hexdigest()
    )


def test_invalid_requests_are_refused_with_the_field_named():
    a = access_world()
    cases = [
        ({"fields": ["nope"]}, "fields"),
        ({"fields": [], "masked_fields": []}, "fields"),
        ({"row_filter": [{"field": "age", "op": "drop table", "value": 1}]}, "row_filter"),
        ({"row_filter": "age > 1; drop table"}, "row_filter"),
        ({"purpose": " "}, "purpose"),
        ({"duration_hours": 0}, "duration_hours"),
        ({"department": a.pool.owner, "actor": a.pool.steward}, "dataset"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ServiceError) as exc:
            _request(a, **kwargs)
        assert exc.value.field == field, kwargs
    assert not DataRequest.objects.exists()
