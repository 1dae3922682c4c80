"""The harness fails when it should: a matrix that cannot fail proves nothing."""

from dataclasses import replace

import pytest

from tests.matrix.harness import FORBIDDEN, HIDDEN, NOT_SHOWN, OK, SHOWN, State, check
from tests.matrix.test_organizations_matrix import ROUTES

pytestmark = pytest.mark.django_db


def entry(name, method="get"):
    return next(r for r in ROUTES if r.key == (name, method))


def expecting(route, state, expect):
    return replace(route, expect={**route.expect, state: expect})


def test_a_list_leak_is_caught(world):
    # the neighbour does see the department; claiming it must not makes the runner fail
    route = expecting(entry("api:department-list"), State.SAME_REGION_OTHER_DEPT, NOT_SHOWN)
    with pytest.raises(AssertionError, match="LEAKED"):
        check(route, State.SAME_REGION_OTHER_DEPT, world)


def test_a_missing_row_is_caught(world):
    route = expecting(entry("portal:department-list"), State.OTHER_REGION, SHOWN)
    with pytest.raises(AssertionError, match="missing"):
        check(route, State.OTHER_REGION, world)


def test_a_wrong_status_is_caught(world):
    route = expecting(entry("api:department-detail"), State.OTHER_REGION, OK)
    with pytest.raises(AssertionError, match="expected 200, got 404"):
        check(route, State.OTHER_REGION, world)


def test_a_write_that_changes_nothing_is_caught(world):
    route = expecting(entry("api:department-detail", "patch"), State.IN_SCOPE, OK)
    route = replace(route, data=lambda w: {"contact_phone": w.department.contact_phone})  # a no-op write
    with pytest.raises(AssertionError, match="changed nothing"):
        check(route, State.IN_SCOPE, world)


def test_403_and_404_are_told_apart(world):
    route = expecting(entry("api:department-detail", "patch"), State.GUARDIAN_GRANT, HIDDEN)
    with pytest.raises(AssertionError, match="expected 404, got 403"):
        check(route, State.GUARDIAN_GRANT, world)
    route = expecting(entry("api:department-detail", "patch"), State.OTHER_REGION, FORBIDDEN)
    with pytest.raises(AssertionError, match="expected 403, got 404"):
        check(route, State.OTHER_REGION, world)


# --- the ledger rule: one event per successful write, none for a refusal -----------------------


def test_a_write_leaving_the_wrong_number_of_events_is_caught(world):
    route = replace(entry("api:department-detail", "patch"), events=2, events_note="claimed for this test")
    with pytest.raises(AssertionError, match=r"must leave 2 ledger event\(s\).*left 1: \['department.update'\]"):
        check(route, State.IN_SCOPE, world)


def test_a_refusal_that_writes_to_the_ledger_is_caught(world, monkeypatch):
    from django.db import transaction

    from apps.ledger.services import audit_record
    from apps.organizations import services

    original = services.department_update

    def leaky(**kwargs):  # records something, then refuses as the real service does
        with transaction.atomic():
            audit_record(actor=kwargs["actor"], action="department.leak", target=kwargs["department"])
        return original(**kwargs)

    monkeypatch.setattr(services, "department_update", leaky)
    with pytest.raises(AssertionError, match=r"refused, yet the ledger recorded \['department.leak'\]"):
        check(entry("api:department-detail", "patch"), State.LOWER_ROLE, world)


def test_an_exception_to_the_ledger_rule_needs_its_reason():
    with pytest.raises(ValueError, match="events_note"):
        replace(entry("api:department-detail", "patch"), events=2)
    with pytest.raises(ValueError, match="events_note"):
        replace(entry("api:department-detail", "patch"), refusal_events=frozenset({"otp.verify_failed"}))
