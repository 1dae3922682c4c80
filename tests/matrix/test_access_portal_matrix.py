"""Permission matrix for the data-access portal pages (/access/…).

The targets come from tests/matrix/access_world.py (shared with the API matrix). Every route
passes `grant=ACCESS_GRANT`: the guardian department holds a data grant on `access_dataset` (the
target department's), the revoked department held one until the owner's head revoked it; nobody
holds a department grant, so neither sees the target department itself.

Who sees what:
- a request (`access_request`, by the neighbouring department): the requesting department and the
  owner department, any role; the owner's head decides it (403 for those who see it otherwise),
  the requesting department's heads and stewards may withdraw it.
- a grant (`access_grant`, the guardian department's): the grantee and the owner department, any
  role; the owner's head revokes; emergency access (`access_emergency_grant`) is reviewed by the
  owner's head.
- records (`access_dataset`): the owner department whole, the grantee through its grant (masked
  fields masked, other fields absent); everyone else 404, the revoked department included, even
  though they all see the dataset in the catalog. Every 200 writes its ledger event.
- the demand board is open to all staff with a seat; a demand is closed by its department's heads
  and stewards. Subscriptions belong to the department, any role; its heads and stewards edit them.
- create forms name the department they act for: unseen 404, seen but not theirs (or not their
  role: request_data for heads and stewards, emergency_access for heads) 403.
"""

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.permissions import Role
from apps.datapool.models import Record
from apps.ledger.models import AuditEvent
from tests.matrix import access_world  # noqa: F401  (registers the access_* world objects)
from tests.matrix.access_world import (
    ACCESS_DEMAND_TITLE,
    ACCESS_GRANT,
    LAST_APPROVAL,
    SUBMITTED_AT_ONCE,
    demand_state,
    demands_of_department,
    emergency_grants_of_department,
    grant_state,
    request_state,
    requests_of_department,
    subscription_exists,
    subscriptions_of_department,
)
from tests.matrix.harness import State, action, cases, check, detail, listing
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State

SEATED = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT, S.OTHER_REGION, S.GUARDIAN_GRANT, S.REVOKED_GRANT}
SEATED_STAFF = SEATED - {S.LOWER_ROLE}
OWNER = {S.IN_SCOPE, S.LOWER_ROLE}
REQUEST_VIEWERS = OWNER | {S.SAME_REGION_OTHER_DEPT}  # the owner and the requesting neighbour
GRANT_VIEWERS = OWNER | {S.GUARDIAN_GRANT}  # the owner and the grantee
# Without a department grant, the target department is seen by its own city only.
DEPARTMENT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT}


def url_of(name: str, attr: str):
    def marker(w):
        return f'href="{reverse(name, args=[getattr(w, attr).pk])}"'

    return marker


def department_label(w) -> str:
    return f"{w.department.name} · {w.region.name}"


# --- probes --------------------------------------------------------------------------------------


# --- forms ---------------------------------------------------------------------------------------


def request_form(w):
    return {
        "department": w.department.pk,
        "dataset": w.access_other_dataset.pk,
        "fields": ["name", "age"],
        "masked_fields": ["phone"],
        "purpose": "Access-Matrix-Request",
        "legal_basis": "Access-Matrix-Basis",
        "duration_hours": "24",
        "idempotency_key": "matrix-request",
    }


def emergency_form(w):
    return {
        "department": w.department.pk,
        "dataset": w.access_other_dataset.pk,
        "incident": w.access_incident.pk,
        "justification": "Access-Matrix-Break-Glass",
        "hours": "3",
    }


def demand_form(w):
    return {"department": w.department.pk, "title": "Access-Matrix-Demand", "description": "x"}


def subscribe_form(w):
    return {"department": w.department.pk, "dataset": w.access_dataset.pk}


# --- extra checks --------------------------------------------------------------------------------


def request_form_for_a_dataset(w, state, user, response):
    """With ?dataset=: the dataset's page for whoever sees it (404 otherwise); the department
    select offers the target department only to its heads and stewards."""
    if user is None:
        return
    client = Client()
    client.force_login(user)
    got = client.get(reverse("portal:data-request-create"), {"dataset": w.access_other_dataset.pk})
    if state is S.NO_ROLE:
        assert got.status_code == 404, f"request form as {state.value}: {got.status_code}"
        return
    assert got.status_code == 200, f"request form as {state.value}: {got.status_code}"
    offered = department_label(w) in got.content.decode()
    assert offered == (state is S.IN_SCOPE), f"request form as {state.value}: department offered={offered}"


def records_as_the_grant_allows(w, state, user, response):
    """The owner sees whole records; the grantee sees masked fields masked and no other fields;
    each page view is one `data.read` event."""
    if response.status_code != 200:
        return
    page = response.content.decode()
    record = Record.objects.filter(dataset=w.access_dataset).order_by("id").first()
    phone, address = record.payload["phone"], record.payload.get("address")
    if state is S.GUARDIAN_GRANT:
        assert phone not in page and f"{phone[:3]}****{phone[-4:]}" in page, "the grantee must see the phone masked"
        assert not address or address not in page, "a field outside the grant leaked"
    else:
        assert phone in page, "the owner sees its records whole"
    event = AuditEvent.objects.filter(action="data.read").order_by("-seq").first()
    assert event is not None and event.after["dataset"] == w.access_dataset.pk
    assert event.after["grant"] == (w.access_grant.pk if state is S.GUARDIAN_GRANT else None)


def export_is_one_event(w, state, user, response):
    if response.status_code != 200:
        return
    assert response["Content-Type"].startswith("text/csv")
    events = AuditEvent.objects.filter(action="data.export")
    assert events.count() == 1 and events.get().after["rows"] > 0


ROUTES = register(
    "access-portal",
    [
        # --- requests
        listing(
            "portal:data-request-list",
            role=Role.HEAD,
            marker=url_of("portal:data-request-detail", "access_request"),
            visible_to=REQUEST_VIEWERS,
            grant=ACCESS_GRANT,
        ),
        listing(
            "portal:data-approval-queue",
            role=Role.HEAD,
            marker=url_of("portal:data-request-detail", "access_request"),
            visible_to={S.IN_SCOPE},
            grant=ACCESS_GRANT,
            note="only the owner's heads decide; its staff see the request but not in the queue",
        ),
        listing(
            "portal:data-request-create",
            role=Role.HEAD,
            grant=ACCESS_GRANT,
            check_extra=request_form_for_a_dataset,
            note="without ?dataset= the page only points to the catalog; check_extra covers ?dataset=",
        ),
        action(
            "portal:data-request-create",
            "post",
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            allowed_to={S.IN_SCOPE},
            success=302,
            data=request_form,
            probe=requests_of_department,
            denial_target=lambda w: w.department,
            grant=ACCESS_GRANT,
            note="the department is checked before the form: unseen 404, seen but not a head or steward of it 403",
            **SUBMITTED_AT_ONCE,
        ),
        detail(
            "portal:data-request-detail",
            role=Role.HEAD,
            target="access_request",
            visible_to=REQUEST_VIEWERS,
            marker=lambda w: reverse("portal:data-request-approve", args=[w.access_request.pk]),
            shows_marker_to={S.IN_SCOPE},
            grant=ACCESS_GRANT,
        ),
        *[
            action(
                f"portal:data-request-{verb}",
                "post",
                target="access_request",
                visible_to=REQUEST_VIEWERS,
                allowed_to=allowed,
                success=302,
                data=data,
                probe=request_state("access_request"),
                grant=ACCESS_GRANT,
                **(LAST_APPROVAL if verb == "approve" else {}),
            )
            for verb, allowed, data in (
                ("approve", {S.IN_SCOPE}, lambda w: {"reason": ""}),
                ("reject", {S.IN_SCOPE}, lambda w: {"reason": "Access-Matrix-Reject"}),
                ("withdraw", {S.SAME_REGION_OTHER_DEPT}, lambda w: {"reason": ""}),
            )
        ],
        # --- grants
        listing(
            "portal:data-grant-list",
            marker=url_of("portal:data-grant-detail", "access_grant"),
            visible_to={S.GUARDIAN_GRANT},
            grant=ACCESS_GRANT,
            note="grants my departments hold and may use now: the revoked one is gone",
        ),
        listing(
            "portal:data-grant-issued",
            role=Role.HEAD,
            marker=url_of("portal:data-grant-detail", "access_grant"),
            visible_to=OWNER,
            grant=ACCESS_GRANT,
        ),
        detail(
            "portal:data-grant-detail",
            role=Role.HEAD,
            target="access_grant",
            visible_to=GRANT_VIEWERS,
            marker=lambda w: reverse("portal:data-grant-revoke", args=[w.access_grant.pk]),
            shows_marker_to={S.IN_SCOPE},
            grant=ACCESS_GRANT,
        ),
        action(
            "portal:data-grant-revoke",
            "post",
            target="access_grant",
            visible_to=GRANT_VIEWERS,
            success=302,
            data=lambda w: {"reason": "Access-Matrix-Revoke"},
            probe=grant_state("access_grant"),
            grant=ACCESS_GRANT,
        ),
        action(
            "portal:data-grant-review",
            "post",
            target="access_emergency_grant",
            visible_to=GRANT_VIEWERS,
            success=302,
            data=lambda w: {"outcome": "keep", "note": "Access-Matrix-Review"},
            probe=grant_state("access_emergency_grant"),
            grant=ACCESS_GRANT,
        ),
        # --- records through a grant
        detail(
            "portal:data-records",
            target="access_dataset",
            visible_to={S.IN_SCOPE, S.GUARDIAN_GRANT},
            grant=ACCESS_GRANT,
            check_extra=records_as_the_grant_allows,
            note="everyone sees the dataset in the catalog, yet its records are 404 without a valid grant",
        ),
        detail(
            "portal:data-records-csv",
            target="access_dataset",
            visible_to={S.IN_SCOPE, S.GUARDIAN_GRANT},
            grant=ACCESS_GRANT,
            check_extra=export_is_one_event,
        ),
        # --- break-glass
        listing(
            "portal:data-emergency-create",
            role=Role.HEAD,
            marker=department_label,
            visible_to={S.IN_SCOPE},
            grant=ACCESS_GRANT,
            note="the department select offers only the departments the caller heads",
        ),
        action(
            "portal:data-emergency-create",
            "post",
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            allowed_to={S.IN_SCOPE},
            success=302,
            data=emergency_form,
            probe=emergency_grants_of_department,
            denial_target=lambda w: w.department,
            grant=ACCESS_GRANT,
        ),
        listing(
            "portal:data-emergency-reviews",
            role=Role.HEAD,
            marker=url_of("portal:data-grant-detail", "access_emergency_grant"),
            visible_to={S.IN_SCOPE},
            grant=ACCESS_GRANT,
        ),
        # --- demands
        listing(
            "portal:data-demand-list",
            role=Role.HEAD,
            marker=lambda w: w.access_demand and ACCESS_DEMAND_TITLE,
            visible_to=SEATED,
            grant=ACCESS_GRANT,
            note="the board is open to all staff with a seat: it names needs, holds no data",
        ),
        listing(
            "portal:data-demand-create",
            role=Role.HEAD,
            marker=department_label,
            visible_to={S.IN_SCOPE},
            grant=ACCESS_GRANT,
        ),
        action(
            "portal:data-demand-create",
            "post",
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            allowed_to={S.IN_SCOPE},
            success=302,
            data=demand_form,
            probe=demands_of_department,
            denial_target=lambda w: w.department,
            grant=ACCESS_GRANT,
        ),
        action(
            "portal:data-demand-close",
            "post",
            target="access_demand",
            visible_to=SEATED,
            success=302,
            data=lambda w: {"outcome": "met"},
            probe=demand_state,
            grant=ACCESS_GRANT,
        ),
        # --- subscriptions
        listing(
            "portal:data-subscription-list",
            role=Role.HEAD,
            marker=lambda w: f'id="subscription-{w.access_subscription.pk}"',
            visible_to=OWNER,
            grant=ACCESS_GRANT,
        ),
        action(
            "portal:data-subscribe",
            "post",
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            allowed_to={S.IN_SCOPE},
            success=302,
            data=subscribe_form,
            probe=subscriptions_of_department,
            denial_target=lambda w: w.department,
            grant=ACCESS_GRANT,
        ),
        action(
            "portal:data-unsubscribe",
            "post",
            target="access_subscription",
            visible_to=OWNER,
            success=302,
            probe=subscription_exists,
            grant=ACCESS_GRANT,
        ),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
