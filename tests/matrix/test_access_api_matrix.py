"""Permission matrix for the data-access API (/api/v1/data-requests/, data-grants/, data-demands/,
subscriptions/, datasets/{id}/granted-records/ and its .csv).

The targets come from tests/matrix/access_world.py (shared with the portal matrix), plus one of
this module's own: `api_access_draft`, a draft request of the neighbouring department. Every
route passes `grant=ACCESS_GRANT`: the guardian department holds a data grant on `access_dataset`
(the target department's), the revoked department held one until the owner's head revoked it;
nobody holds a department grant, so neither sees the target department itself.

Who sees what (the same rules as the portal's pages):
- a request (`access_request`, by the neighbouring department): the requesting and the owner
  department, any role; the owner's head decides it (403 for those who see it otherwise), the
  requesting department's heads and stewards withdraw it. A draft stays with its department.
- a grant (`access_grant`, the guardian department's): the grantee and the owner department, any
  role; the owner's head revokes it, and reviews emergency access (`access_emergency_grant`).
- records (`access_dataset`): the owner department whole, the grantee through its grant (masked
  fields masked, other fields absent); everyone else 404, the revoked department included, even
  though they all see the dataset in the catalog. Every 200 writes its ledger event.
- the demand board is open to all staff with a seat; a demand is closed by its department's heads
  and stewards. Subscriptions belong to the department, any role; its heads and stewards edit.
- creates name the department they act for: unseen 404, seen but not theirs (or not their role:
  request_data for heads and stewards, emergency_access for heads) 403.
"""

import pytest

from apps.core.permissions import Role
from apps.datapool.models import Record
from apps.ledger.models import AuditEvent
from tests.matrix import access_world  # noqa: F401  (registers the access_* world objects)
from tests.matrix.access_world import (
    ACCESS_CLEAR,
    ACCESS_GRANT,
    ACCESS_MASKED,
    LAST_APPROVAL,
    SUBMITTED_AT_ONCE,
    demand_state,
    demands_of_department,
    emergency_grants_of_department,
    grant_state,
    request_for,
    request_state,
    requests_of_department,
    subscription_exists,
    subscriptions_of_department,
)
from tests.matrix.harness import HIDDEN, State, action, cases, check, detail, listing, states_for, world_object
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State

SEATED = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT, S.OTHER_REGION, S.GUARDIAN_GRANT, S.REVOKED_GRANT}
OWNER = {S.IN_SCOPE, S.LOWER_ROLE}
REQUEST_VIEWERS = OWNER | {S.SAME_REGION_OTHER_DEPT}  # the owner and the requesting neighbour
GRANT_VIEWERS = OWNER | {S.GUARDIAN_GRANT}  # the owner and the grantee
RECORD_READERS = {S.IN_SCOPE, S.GUARDIAN_GRANT}  # the owner's staff, the grantee's staff
# Without a department grant, the target department is seen by its own city only.
DEPARTMENT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT}


@world_object("api_access_draft")
def _api_access_draft(w):
    """A draft request of the neighbouring department for `access_dataset` (only it sees drafts)."""
    return request_for(w, w.neighbour, submit=False, purpose="Access-Api-Draft")


# --- probes -----------------------------------------------------------------------------------


# --- bodies -----------------------------------------------------------------------------------


def request_body(w):
    return {
        "department": w.department.pk,
        "dataset": w.access_other_dataset.pk,
        "fields": ["name", "age"],
        "masked_fields": ["phone"],
        "purpose": "Access-Api-Request",
        "legal_basis": "Access-Api-Basis",
        "duration_hours": 24,
    }


def emergency_body(w):
    return {
        "department": w.department.pk,
        "dataset": w.access_other_dataset.pk,
        "incident": w.access_incident.pk,
        "justification": "Access-Api-Break-Glass",
        "hours": 3,
    }


# --- extra checks -----------------------------------------------------------------------------


def records_as_the_grant_allows(w, state, user, response):
    """The owner reads whole records; the grantee its grant's fields, masked ones masked, no
    others; each page is one `data.read` event naming the grant (none for the owner)."""
    if response.status_code != 200:
        return
    body = response.json()
    record = Record.objects.filter(dataset=w.access_dataset).order_by("id").first()
    first = body["results"][0]
    assert first["id"] == record.pk
    if state is S.GUARDIAN_GRANT:
        assert set(first["payload"]) == set(ACCESS_CLEAR + ACCESS_MASKED), first["payload"]
        phone = record.payload["phone"]
        assert first["payload"]["phone"] == f"{phone[:3]}****{phone[-4:]}", "the grantee must see the phone masked"
        assert body["masked"] == ACCESS_MASKED and body["grant"] == w.access_grant.pk
    else:
        assert first["payload"] == record.payload, "the owner sees its records whole"
        assert body["grant"] is None
    event = AuditEvent.objects.filter(action="data.read").order_by("-seq").first()
    assert event is not None and event.actor_id == user.pk and event.after["dataset"] == w.access_dataset.pk
    assert event.after["grant"] == body["grant"] and event.after["rows"] == len(body["results"])


def export_is_one_event(w, state, user, response):
    if response.status_code != 200:
        return
    assert response["Content-Type"].startswith("text/csv")
    [event] = AuditEvent.objects.filter(action="data.export")
    assert event.actor_id == user.pk and event.after["rows"] > 0
    assert event.after["sha256"] == response["X-Content-SHA256"]


ROUTES = register(
    "access-api",
    [
        # --- requests
        listing(
            "api:data-request-list",
            role=Role.HEAD,
            target="access_request",
            visible_to=REQUEST_VIEWERS,
            grant=ACCESS_GRANT,
        ),
        action(
            "api:data-request-list",
            "post",
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            allowed_to={S.IN_SCOPE},
            success=201,
            data=request_body,
            probe=requests_of_department,
            denial_target=lambda w: w.department,
            grant=ACCESS_GRANT,
            note="the department is checked before the rest: unseen 404, seen but not a head or steward of it 403",
            **SUBMITTED_AT_ONCE,
        ),
        detail(
            "api:data-request-detail",
            role=Role.HEAD,
            target="access_request",
            visible_to=REQUEST_VIEWERS,
            grant=ACCESS_GRANT,
        ),
        action(
            "api:data-request-submit",
            "post",
            target="api_access_draft",
            visible_to={S.SAME_REGION_OTHER_DEPT},
            allowed_to={S.SAME_REGION_OTHER_DEPT},
            probe=request_state("api_access_draft"),
            grant=ACCESS_GRANT,
            note="a draft is seen by its requesting department only",
        ),
        action(
            "api:data-request-withdraw",
            "post",
            target="access_request",
            visible_to=REQUEST_VIEWERS,
            allowed_to={S.SAME_REGION_OTHER_DEPT},
            data=lambda w: {"reason": "Access-Api-Withdraw"},
            probe=request_state("access_request"),
            grant=ACCESS_GRANT,
        ),
        action(
            "api:data-request-decide",
            "post",
            target="access_request",
            visible_to=REQUEST_VIEWERS,
            allowed_to={S.IN_SCOPE},
            data=lambda w: {"decision": "approve"},
            probe=request_state("access_request"),
            grant=ACCESS_GRANT,
            **LAST_APPROVAL,
        ),
        # --- grants
        listing("api:data-grant-list", target="access_grant", visible_to=GRANT_VIEWERS, grant=ACCESS_GRANT),
        detail(
            "api:data-grant-detail", role=Role.HEAD, target="access_grant", visible_to=GRANT_VIEWERS, grant=ACCESS_GRANT
        ),
        action(
            "api:data-grant-revoke",
            "post",
            target="access_grant",
            visible_to=GRANT_VIEWERS,
            data=lambda w: {"reason": "Access-Api-Revoke"},
            probe=grant_state("access_grant"),
            grant=ACCESS_GRANT,
        ),
        action(
            "api:data-grant-review",
            "post",
            target="access_emergency_grant",
            visible_to=GRANT_VIEWERS,
            data=lambda w: {"approve": True, "note": "Access-Api-Review"},
            probe=grant_state("access_emergency_grant"),
            grant=ACCESS_GRANT,
        ),
        action(
            "api:data-grant-emergency",
            "post",
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            allowed_to={S.IN_SCOPE},
            success=201,
            data=emergency_body,
            probe=emergency_grants_of_department,
            denial_target=lambda w: w.department,
            grant=ACCESS_GRANT,
            note="break-glass is for heads of the department named (staff of it: 403)",
        ),
        # --- records through a grant
        detail(
            "api:dataset-granted-records",
            target="access_dataset",
            visible_to=RECORD_READERS,
            id_key="dataset",
            grant=ACCESS_GRANT,
            check_extra=records_as_the_grant_allows,
            note="everyone sees the dataset in the catalog, yet its records are 404 without a valid grant",
        ),
        listing(
            # a CSV is not JSON: the route is addressed through kwargs and its refusals listed here
            "api:dataset-granted-records-csv",
            kwargs=lambda w: {"pk": w.access_dataset.pk},
            query={},
            overrides={s: HIDDEN for s in states_for(Role.STAFF) if s not in RECORD_READERS | {S.ANONYMOUS}},
            denial_target=lambda w: w.access_dataset,
            grant=ACCESS_GRANT,
            check_extra=export_is_one_event,
        ),
        # --- demands
        listing(
            "api:data-demand-list",
            role=Role.HEAD,
            target="access_demand",
            visible_to=SEATED,
            grant=ACCESS_GRANT,
            note="the board is open to all staff with a seat: it names needs, holds no data",
        ),
        action(
            "api:data-demand-list",
            "post",
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            allowed_to={S.IN_SCOPE},
            success=201,
            data=lambda w: {"department": w.department.pk, "title": "Access-Api-Demand"},
            probe=demands_of_department,
            denial_target=lambda w: w.department,
            grant=ACCESS_GRANT,
        ),
        detail("api:data-demand-detail", role=Role.HEAD, target="access_demand", visible_to=SEATED, grant=ACCESS_GRANT),
        action(
            "api:data-demand-close",
            "post",
            target="access_demand",
            visible_to=SEATED,
            data=lambda w: {"met": True},
            probe=demand_state,
            grant=ACCESS_GRANT,
        ),
        # --- subscriptions
        listing(
            "api:subscription-list", role=Role.HEAD, target="access_subscription", visible_to=OWNER, grant=ACCESS_GRANT
        ),
        action(
            "api:subscription-list",
            "post",
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            allowed_to={S.IN_SCOPE},
            success=201,
            data=lambda w: {"department": w.department.pk, "dataset": w.access_dataset.pk},
            probe=subscriptions_of_department,
            denial_target=lambda w: w.department,
            grant=ACCESS_GRANT,
        ),
        detail(
            "api:subscription-detail",
            role=Role.HEAD,
            target="access_subscription",
            visible_to=OWNER,
            grant=ACCESS_GRANT,
        ),
        action(
            "api:subscription-detail",
            "delete",
            target="access_subscription",
            visible_to=OWNER,
            success=204,
            probe=subscription_exists,
            grant=ACCESS_GRANT,
        ),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
