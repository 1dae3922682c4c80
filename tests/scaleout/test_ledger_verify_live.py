"""`verify_ledger` on a live primary (the daily timer in deploy/systemd, and the restore drill in
docs/deploy.md): events appended while it runs are not a broken ledger. It verifies the chain as it
stood when it began, in one snapshot."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.ledger import selectors
from apps.ledger.models import AuditEvent
from apps.ledger.services import audit_record_standalone
from tests.factories import region


@pytest.mark.django_db(transaction=True)
def test_events_appended_during_verification_are_not_reported_as_a_truncated_tail(monkeypatch):
    # Given: a committed chain
    region()
    region()
    count = AuditEvent.objects.count()
    appended = []

    def append_elsewhere():
        try:
            audit_record_standalone(actor=None, action="scaleout.append")  # its own connection, committed
            appended.append(True)
        finally:
            connection.close()

    real_chain_hash = selectors.chain_hash

    def chain_hash_while_another_process_appends(prev, event):
        if not appended:  # the first event being checked: another process appends one and commits
            thread = threading.Thread(target=append_elsewhere)
            thread.start()
            thread.join()
        return real_chain_hash(prev, event)

    monkeypatch.setattr(selectors, "chain_hash", chain_hash_while_another_process_appends)

    # When: the verification runs while that append commits
    result = selectors.ledger_verify()

    # Then: the chain as it stood when the verification began is intact
    assert appended
    assert result.ok, result.reason
    assert result.events == count
    monkeypatch.undo()
    assert selectors.ledger_verify().events == count + 1  # the next run sees the new event
