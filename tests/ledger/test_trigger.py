"""On PostgreSQL the database itself refuses UPDATE, DELETE and TRUNCATE on the ledger table."""

import pytest
from django.db import DatabaseError, connection, transaction

from apps.ledger.models import AuditEvent
from apps.ledger.selectors import ledger_verify
from apps.ledger.services import audit_record_standalone

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the triggers exist on PostgreSQL only"),
]

INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
def events():
    for n in range(3):
        audit_record_standalone(actor=None, action="test.event", target_repr=f"事件{n}", after={"n": n})
    return list(AuditEvent.objects.order_by("seq").values_list("seq", "target_repr", "hash"))


def _raw(sql):
    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql)

    return run


def _instance_save():
    row = AuditEvent.objects.get(seq=2)
    row.target_repr = "改"
    row.save()


OPERATIONS = {
    "orm_queryset_update": lambda: AuditEvent.objects.filter(seq=2).update(target_repr="改"),
    "orm_instance_save": _instance_save,
    "orm_queryset_delete": lambda: AuditEvent.objects.filter(seq=2).delete(),
    "orm_instance_delete": lambda: AuditEvent.objects.get(seq=2).delete(),
    "orm_delete_all": lambda: AuditEvent.objects.all().delete(),
    "raw_update": _raw("UPDATE ledger_auditevent SET target_repr = 'x' WHERE seq = 2"),
    "raw_delete": _raw("DELETE FROM ledger_auditevent WHERE seq = 2"),
    # The deferred foreign-key checks of the fixture's inserts must fire first, or PostgreSQL
    # refuses the TRUNCATE for "pending trigger events" before our trigger is even asked.
    "raw_truncate": _raw("SET CONSTRAINTS ALL IMMEDIATE; TRUNCATE ledger_auditevent"),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_change_to_ledger_rows_is_refused_by_the_database_and_rows_stay(events, operation):
    with pytest.raises(DatabaseError, match="append-only") as excinfo:
        with transaction.atomic():  # a savepoint: the test's transaction stays usable
            OPERATIONS[operation]()
    assert getattr(excinfo.value.__cause__, "pgcode", None) == INSUFFICIENT_PRIVILEGE
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", "target_repr", "hash")) == events
    assert ledger_verify().ok


def test_appending_is_still_allowed(events):
    row = audit_record_standalone(actor=None, action="test.event")
    assert row.seq == len(events) + 1
    assert ledger_verify().ok
