"""World objects for the data-access routes, shared by the API and portal matrix modules.

`access_dataset` (internal, so one approval by the owner's head suffices) belongs to the target
department (city A1) and holds ACCESS_ROWS records. The guardian states mean what they say here:
through `ACCESS_GRANT` (pass it as the routes' `grant=`), the guardian department (city B1) holds a
data grant on `access_dataset` made the real way (request by its steward, approval by the owner's
head: `access_grant`), and the revoked department held one that the owner's head revoked. No
department grant is made, so the guardian states do not see the target department itself.

`access_request` is a submitted request by the neighbouring department (SAME_REGION_OTHER_DEPT)
for `access_dataset`: the owner's head decides it, the neighbour may withdraw it.
`access_emergency_grant` is break-glass access opened by the guardian department's head on
`access_incident` (severity II, verified, touching cities A1 and B1): the owner's head reviews it.
`access_other_dataset` (open, so every seated state discovers it) belongs to `third_party` (city
C1): the target department may request it (create routes). A department of B1 discovers the
internal `access_dataset` only while an agreement shares province A's catalog: the builders open
one (`catalog_window`) around the B1 requests and the break-glass, and suspend it at once, so no
state sees more than the grants give it. `access_demand` is posted by the target department;
`access_subscription` is the target department following its own dataset.

Every builder acts through the services, as seats no matrix state holds. Keep these names stable:
the API and the portal matrices both use them.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.utils import timezone

from apps.access import services
from apps.access.models import DataDemand, DataGrant, DataRequest, Subscription
from apps.core.permissions import Role
from apps.core.scoping import forget_principal
from apps.datapool import services as pool_services
from apps.datapool.choices import Classification
from apps.datapool.demo import csv_bytes, resident_rows, standards_ensure
from apps.incidents import services as incident_services
from apps.incidents.choices import Category, Severity, Subtype
from apps.organizations import services as org_services
from apps.organizations.choices import AgreementStatus
from apps.organizations.models import CollaborationAgreement
from tests import factories as f
from tests.matrix.harness import Grant, world_object

ACCESS_DATASET_TITLE = "Access-Target-Dataset"
ACCESS_OTHER_TITLE = "Access-Other-Dataset"
ACCESS_DEMAND_TITLE = "Access-Target-Demand"
ACCESS_INCIDENT_TITLE = "Access-Target-Incident"
ACCESS_ROWS = 5
# What every grant of this world lets through: two fields in clear, two masked, the rest omitted.
# Writes of data access that record two ledger events for one request (see the harness's ledger rule).
SUBMITTED_AT_ONCE = {
    "events": 2,
    "events_note": "created and submitted at once: data_request.create, then data_request.submit (the approval "
    "queue, the notifications and the incident timeline follow the submission)",
}
LAST_APPROVAL = {
    "events": 2,
    "events_note": "the last approval issues the grant: data_request.approve, then data_grant.create (a new "
    "object with its own history: revocation, expiry and review follow it)",
}

ACCESS_CLEAR = ["name", "age"]
ACCESS_MASKED = ["id_number", "phone"]


def _seat(w, attr: str, department, role: str, name: str):
    """A member who builds targets (not a state's seat), made once per world."""
    if not hasattr(w, attr):
        setattr(w, attr, f.member(department, role, display_name=name))
    return getattr(w, attr)


def owner_head(w):
    return _seat(w, "_access_owner_head", w.department, Role.HEAD, "Access-Owner-Head")


def owner_steward(w):
    return _seat(w, "_access_owner_steward", w.department, Role.STEWARD, "Access-Owner-Steward")


@contextmanager
def catalog_window(w, department, *actors):
    """While the block runs, an agreement between province A and `department`'s province shares
    the catalog (nothing else); suspended when it ends. No-op inside province A."""
    if department.region.path.startswith(w.province_a.path):
        yield
        return
    province = department.region.path.split("/")[0]
    title = f"Access-Catalog-{province}"
    agreement = CollaborationAgreement.objects.filter(title=title).first() or org_services.agreement_create(
        actor=w.admin,
        title=title,
        parties=[w.province_a, department.region.parent or department.region],
        valid_from=timezone.now() - timezone.timedelta(days=1),
        share_directory=False,
        share_incidents=False,
        share_tasks=False,
        share_catalog=True,
    )
    org_services.agreement_set_status(actor=w.admin, agreement=agreement, status=AgreementStatus.ACTIVE)
    for actor in actors:
        forget_principal(actor)
    try:
        yield
    finally:
        org_services.agreement_set_status(actor=w.admin, agreement=agreement, status=AgreementStatus.SUSPENDED)
        for actor in actors:
            forget_principal(actor)


@world_object("access_standard")
def _access_standard(w):
    return standards_ensure()["resident"]


@world_object("access_dataset")
def _access_dataset(w):
    from tests.matrix.datapool_world import load

    dataset = pool_services.dataset_create(
        actor=owner_steward(w),
        owner=w.department,
        standard=w.access_standard,
        title=ACCESS_DATASET_TITLE,
        classification=Classification.INTERNAL,
    )
    job = load(owner_steward(w), dataset, csv_bytes(resident_rows(ACCESS_ROWS, seed=71)), name="access.csv")
    assert job.status == "succeeded", job.error_message()
    dataset.refresh_from_db()
    return dataset


@world_object("access_other_dataset")
def _access_other_dataset(w):
    steward = _seat(w, "_access_third_steward", w.third_party, Role.STEWARD, "Access-Third-Steward")
    return pool_services.dataset_create(
        actor=steward,
        owner=w.third_party,
        standard=w.access_standard,
        title=ACCESS_OTHER_TITLE,
        classification=Classification.OPEN,
    )


def request_for(w, department, *, actor=None, **kwargs):
    """A submitted request of `department` for `access_dataset` (by a steward of it)."""
    actor = actor or _seat(w, f"_access_steward_{department.pk}", department, Role.STEWARD, f"Steward-{department.pk}")
    values = {
        "actor": actor,
        "department": department,
        "dataset": w.access_dataset,
        "fields": ACCESS_CLEAR,
        "masked_fields": ACCESS_MASKED,
        "purpose": "Access-Matrix-Purpose",
        "legal_basis": "Access-Matrix-Basis",
        "duration_hours": 72,
    }
    with catalog_window(w, department, actor):
        return services.request_create(**(values | kwargs))


def grant_for(w, department) -> DataGrant:
    """`department`'s grant on `access_dataset`, requested and approved the real way (once)."""
    grants = w.__dict__.setdefault("_access_grants", {})
    if department.pk not in grants:
        req = services.request_decide(actor=owner_head(w), request=request_for(w, department), decision="approve")
        grants[department.pk] = DataGrant.objects.get(request=req)
    return grants[department.pk]


def _grant(w, target, grantee) -> None:
    grant_for(w, grantee)


def _revoke(w, target, grantee) -> None:
    services.grant_revoke(actor=owner_head(w), grant=grant_for(w, grantee), reason="Access-Matrix-Revoked")


# The routes' `grant=`: the guardian states hold (or held) a data grant on `access_dataset`.
ACCESS_GRANT = Grant(_grant, _revoke)


@world_object("access_grant")
def _access_grant(w):
    return grant_for(w, w.guardian_department)


@world_object("access_request")
def _access_request(w):
    requester = _seat(w, "_access_requester", w.neighbour, Role.STEWARD, "Access-Requester")
    return request_for(w, w.neighbour, actor=requester, purpose="Access-Target-Request")


@world_object("access_incident")
def _access_incident(w):
    """Severity II, verified (active), real, touching cities A1 and B1."""
    incident = incident_services.incident_report(
        actor=w.admin,
        department=w.department,
        title=ACCESS_INCIDENT_TITLE,
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.II,
        place="Alpha-Bravo river",
        first_seen_at=timezone.now(),
        regions=[w.region, w.city_b1],
    )
    return incident_services.incident_verify(actor=w.admin, incident=incident)


@world_object("access_emergency_grant")
def _access_emergency_grant(w):
    head = _seat(w, "_access_grantee_head", w.guardian_department, Role.HEAD, "Access-Grantee-Head")
    dataset, incident = w.access_dataset, w.access_incident
    with catalog_window(w, w.guardian_department, head):
        return services.emergency_access_open(
            actor=head,
            department=w.guardian_department,
            dataset=dataset,
            incident=incident,
            justification="Access-Matrix-Emergency",
            hours=4,
        )


@world_object("access_demand")
def _access_demand(w):
    return services.demand_post(
        actor=owner_steward(w),
        department=w.department,
        title=ACCESS_DEMAND_TITLE,
        description="Access-Demand-Description",
        standard_code=w.access_standard.code,
    )


@world_object("access_subscription")
def _access_subscription(w):
    return services.subscribe(actor=owner_steward(w), department=w.department, dataset=w.access_dataset)


__all__ = [
    "ACCESS_CLEAR",
    "ACCESS_DATASET_TITLE",
    "ACCESS_DEMAND_TITLE",
    "ACCESS_GRANT",
    "ACCESS_INCIDENT_TITLE",
    "ACCESS_MASKED",
    "ACCESS_OTHER_TITLE",
    "ACCESS_ROWS",
    "grant_for",
    "owner_head",
    "owner_steward",
    "request_for",
]


# --- probes shared by the access API and portal matrices (state a refused write must not change) ---


def request_state(attr: str):
    def probe(w):
        return DataRequest.objects.values_list("status", flat=True).get(pk=getattr(w, attr).pk)

    return probe


def grant_state(attr: str):
    def probe(w):
        return DataGrant.objects.values_list("revoked_at", "reviewed_at").get(pk=getattr(w, attr).pk)

    return probe


def requests_of_department(w):
    return DataRequest.objects.filter(department=w.department).count()


def emergency_grants_of_department(w):
    return DataGrant.objects.filter(department=w.department, is_emergency=True).count()


def demands_of_department(w):
    return DataDemand.objects.filter(department=w.department).count()


def demand_state(w):
    return DataDemand.objects.values_list("status", flat=True).get(pk=w.access_demand.pk)


def subscriptions_of_department(w):
    return Subscription.objects.filter(department=w.department).count()


def subscription_exists(w):
    return Subscription.objects.filter(pk=w.access_subscription.pk).exists()
