import threading
from decimal import Decimal

import pytest
from django.db import connection

from apps.core.exceptions import AccessDenied, Conflict
from apps.core.permissions import Role
from apps.ledger.canonical import chain_hash, event_dict
from apps.ledger.models import GENESIS_HASH, AuditEvent, LedgerHead
from apps.ledger.selectors import ledger_verify
from apps.ledger.services import audit_record, audit_record_standalone
from apps.organizations import services
from apps.organizations.choices import RegionLevel
from tests import factories as f


def _count(action=None) -> int:
    qs = AuditEvent.objects.all()
    return qs.filter(action=action).count() if action else qs.count()


def _last() -> AuditEvent:
    return AuditEvent.objects.order_by("-seq").first()


# --- the chain -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_audit_record_gives_gapless_seq_and_links_each_event_to_the_previous():
    for n in range(6):
        audit_record_standalone(actor=None, action="test.event", after={"n": n})
    rows = list(AuditEvent.objects.order_by("seq"))
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].prev_hash == GENESIS_HASH
    for previous, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == previous.hash
    head = LedgerHead.objects.get(id=1)
    assert (head.seq, head.hash) == (6, rows[-1].hash)


@pytest.mark.django_db
def test_stored_event_rehashes_to_its_hash_after_a_database_round_trip():
    region = f.region(name="河北省")
    user = f.UserFactory()
    row = audit_record_standalone(
        actor=user,
        action="test.roundtrip",
        target=region,
        before={"z": 1, "a": {"y": ["值", 2], "b": None}},
        after={"amount": Decimal("12.50"), "ratio": 0.5, "tags": {"乙", "甲"}, "ok": True},
    )
    stored = AuditEvent.objects.get(pk=row.pk)
    assert chain_hash(stored.prev_hash, event_dict(stored)) == stored.hash
    assert stored.actor_id == user.pk and stored.actor_name == user.username
    assert stored.region_path == region.path
    assert ledger_verify().ok


def test_audit_record_outside_a_transaction_raises_runtime_error(transactional_db):
    # The `transactional_db` fixture, not only the marker: tests/conftest.py lets Django's flush
    # past the TRUNCATE trigger only when it sees this fixture name.
    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        audit_record(actor=None, action="test.outside")
    assert _count() == 0


# --- one event per successful service write ----------------------------------------------------


@pytest.mark.django_db
def test_region_create_records_exactly_one_region_create_event():
    admin = f.admin_user()
    before = _count()
    region = services.region_create(actor=admin, code="130000", name="河北省", level=RegionLevel.PROVINCE)
    assert _count() == before + 1
    event = _last()
    assert (event.action, event.target_id, event.actor_id) == ("region.create", str(region.pk), admin.pk)
    assert event.after["code"] == "130000"


@pytest.mark.django_db
def test_department_create_records_exactly_one_department_create_event():
    region = f.region()
    before = _count()
    department = services.department_create(actor=f.admin_user(), region=region, name="应急管理局", type="emergency")
    assert _count() == before + 1
    event = _last()
    assert (event.action, event.target_id, event.region_path) == ("department.create", str(department.pk), region.path)


@pytest.mark.django_db
def test_membership_add_records_exactly_one_membership_add_event():
    department = f.department(region=f.region())
    user = f.UserFactory()
    before = _count()
    membership = services.membership_add(actor=f.admin_user(), department=department, user=user, role=Role.STAFF)
    assert _count() == before + 1
    event = _last()
    assert (event.action, event.target_id) == ("membership.add", str(membership.pk))
    assert event.after == {"user": user.pk, "department": department.pk, "role": Role.STAFF}


@pytest.mark.django_db
def test_department_update_by_its_head_records_exactly_one_department_update_event():
    department = f.department(region=f.region(), name="旧名称")
    head = f.member(department, role=Role.HEAD)
    before = _count()
    services.department_update(actor=head, department=department, data={"name": "新名称"})
    assert _count() == before + 1
    event = _last()
    assert (event.action, event.actor_id) == ("department.update", head.pk)
    assert (event.before["name"], event.after["name"]) == ("旧名称", "新名称")


# --- rejected writes leave nothing ---------------------------------------------------------------


@pytest.mark.django_db
def test_department_update_by_staff_who_is_not_head_is_denied_and_records_no_event():
    department = f.department(region=f.region(), name="旧名称")
    staff = f.member(department, role=Role.STAFF)
    before = _count()
    with pytest.raises(AccessDenied) as excinfo:
        services.department_update(actor=staff, department=department, data={"name": "篡改"})
    assert excinfo.value.hidden is False  # they can see it, they just may not change it
    assert _count() == before
    assert _count("department.update") == 0
    department.refresh_from_db()
    assert department.name == "旧名称"


@pytest.mark.django_db
def test_duplicate_region_code_is_a_conflict_and_records_no_event():
    admin = f.admin_user()
    services.region_create(actor=admin, code="140000", name="山西省", level=RegionLevel.PROVINCE)
    before = _count()
    with pytest.raises(Conflict):
        services.region_create(actor=admin, code="140000", name="又一个山西省", level=RegionLevel.PROVINCE)
    assert _count() == before
    assert _count("region.create") == 1


@pytest.mark.django_db
def test_duplicate_membership_is_a_conflict_and_records_no_event():
    department = f.department(region=f.region())
    user = f.member(department, role=Role.STAFF)
    before = _count()
    with pytest.raises(Conflict):
        services.membership_add(actor=f.admin_user(), department=department, user=user, role=Role.STAFF)
    assert _count() == before
    assert _count("membership.add") == 1


@pytest.mark.django_db
def test_a_rolled_back_service_transaction_takes_its_event_and_head_with_it():
    """A failure after audit_record inside the service's transaction: event and head roll back too."""
    from django.db import transaction

    f.region()
    head_before = LedgerHead.objects.values_list("seq", "hash").get(id=1)
    before = _count()

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with transaction.atomic():
            audit_record(actor=None, action="test.doomed")
            raise Boom  # the change after the audit fails
    assert _count() == before
    assert _count("test.doomed") == 0
    assert LedgerHead.objects.values_list("seq", "hash").get(id=1) == head_before
    assert ledger_verify().ok


# --- concurrency -------------------------------------------------------------------------------

THREADS = 8
PER_THREAD = 25


def test_concurrent_writers_get_gapless_unique_seqs_and_a_valid_chain(transactional_db):
    assert _count() == 0
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            for n in range(PER_THREAD):
                audit_record_standalone(actor=None, action="test.concurrent", after={"thread": i, "n": n})
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    total = THREADS * PER_THREAD
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))
    assert LedgerHead.objects.get(id=1).seq == total
    result = ledger_verify()
    assert result.ok, result.reason
    assert result.events == total
