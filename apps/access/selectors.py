"""Reads of data access, and the two pieces of the permission path that grants contribute.

`granted_dataset_q` and `granted_records_q` are called from `Dataset.scope_q("read")` and
`Record.scope_q("view")`: a department reads another department's records only while a grant is
valid *at this moment* (started, not expired, not revoked, its incident not closed) AND the
guardian permission that backs it exists. Expiry is therefore enforced by every query, not by
the sweep; the sweep only tidies the guardian rows.
"""

from __future__ import annotations

from django.db.models import Exists, Q, QuerySet
from django.utils import timezone

from apps.core.exceptions import AccessDenied
from apps.core.scoping import NOTHING, authorize

from .masking import Presenter, owner_presenter
from .models import DataDemand, DataGrant, DataRequest, Subscription
from .rowfilter import to_q

READ_CODENAME = "read_dataset"


def _backed(department_ids) -> QuerySet:
    """Dataset ids whose `read_dataset` guardian permission is held by these departments' groups."""
    from apps.datapool.models import DatasetGroupObjectPermission

    return DatasetGroupObjectPermission.objects.filter(
        group__department__id__in=department_ids, permission__codename=READ_CODENAME
    ).values("content_object_id")


def active_grants(department_ids, now=None) -> QuerySet[DataGrant]:
    """Grants valid now for these departments and backed by their guardian permission."""
    if not department_ids:
        return DataGrant.objects.none()
    return DataGrant.objects.filter(
        DataGrant.active_q(now), department_id__in=department_ids, dataset_id__in=_backed(department_ids)
    )


def granted_dataset_q(department_ids) -> Q:
    if not department_ids:
        return NOTHING
    return Q(pk__in=active_grants(department_ids).values("dataset_id"))


def granted_records_q(department_ids) -> Q:
    """Rows opened by every valid grant of these departments: its dataset AND its row filter."""
    q = NOTHING
    for dataset_id, row_filter in active_grants(department_ids).values_list("dataset_id", "row_filter"):
        q |= Q(dataset_id=dataset_id) & to_q(row_filter)
    return q


def grant_for_reading(*, user, dataset, now=None) -> DataGrant | None:
    """The grant through which `user` reads `dataset` (None for the owner department, who reads
    whole records). AccessDenied (404) when neither holds right now."""
    from apps.core.scoping import principal_for

    principal = principal_for(user)
    mine = principal.department_ids() if principal else set()
    owner = principal is not None and (principal.is_superuser or dataset.owner_id in mine)
    if not owner and mine:
        # A grantee: a valid, backed grant is exactly what lets `authorize(user, "read", dataset)`
        # pass for a non-owner (`Dataset.scope_q("read")` is built on the same `active_grants`),
        # so finding it decides in one query. The read's ledger event names the grant, its
        # dataset, its department and their region: joined here.
        grants = active_grants(mine, now).filter(dataset=dataset).order_by("-valid_until", "-id")
        grant = grants.select_related("incident", "dataset", "department__region").first()
        if grant is not None:
            return grant
    try:
        authorize(user, "read", dataset)
    except AccessDenied as exc:  # the catalog shows the dataset, but its records answer 404
        raise AccessDenied(action="read", target=dataset, hidden=True) from exc
    if owner:
        return None
    raise AccessDenied(action="read", target=dataset, hidden=True)  # no grant valid at `now`


def presenter_for(grant: DataGrant | None, dataset) -> Presenter:
    if grant is None:
        return owner_presenter(dataset.standard)
    return Presenter(dataset.standard, grant.fields, grant.masked_fields)


def grant_records(*, user, dataset, grant: DataGrant | None):
    """The records `user` may read of `dataset` under `grant` (row filter applied).

    Through a grant these are the rows `Record.objects.restrict(user)` opens for that grant (its
    dataset AND its filter, while it is valid and backed by its guardian permission), written so
    that the grant's validity is one uncorrelated EXISTS, checked once by the page query itself
    (a one-time filter), instead of `granted_records_q`'s OR over every grant of the user's
    departments joined to the dataset owner: that OR defeats the planner's row estimate, so it
    sorted the whole dataset for every page (0.45 s per page at 100,000 records; see
    docs/benchmarks.md) where this reads the (dataset, id) or primary-key index up to the page."""
    from apps.datapool.models import Record

    if grant is None:  # the owner department (or an administrator): whole records, by the permission path
        return Record.objects.restrict(user, "view").filter(dataset=dataset).order_by("id")
    from apps.core.scoping import principal_for

    principal = principal_for(user)
    mine = principal.department_ids() if principal is not None else set()
    valid = active_grants(mine).filter(pk=grant.pk, dataset_id=dataset.pk)
    return Record.objects.filter(Exists(valid), dataset_id=dataset.pk).filter(to_q(grant.row_filter)).order_by("id")


def _my_department_ids(user) -> set[int]:
    """The departments `user` holds a seat in, whatever the role (an administrator: their own seats)."""
    from apps.core.scoping import principal_for

    principal = principal_for(user)
    return principal.department_ids() if principal is not None else set()


def department_is_mine(*, user, department_id: int | None) -> bool:
    """Whether `user` holds a seat in the department (no query: the principal is cached)."""
    return department_id is not None and department_id in _my_department_ids(user)


def request_side(*, user, requests: QuerySet[DataRequest], side: str) -> QuerySet[DataRequest]:
    """Narrow `requests` (a restricted list, never widened) to one side: "sent" by my departments,
    or "received" (the others: for our datasets, or as the information office over them). Any
    other side leaves the list whole."""
    mine = _my_department_ids(user)
    if side == "sent":
        return requests.filter(department_id__in=mine)
    if side == "received":
        return requests.exclude(department_id__in=mine)
    return requests


def grant_side(*, user, grants: QuerySet[DataGrant], side: str) -> QuerySet[DataGrant]:
    """Narrow `grants` (a restricted list, never widened) to those my departments "held", or those
    "issued" to others on datasets we own or oversee. Any other side leaves the list whole."""
    mine = _my_department_ids(user)
    if side == "held":
        return grants.filter(department_id__in=mine)
    if side == "issued":
        return grants.exclude(department_id__in=mine)
    return grants


def owned_datasets(*, user) -> QuerySet:
    """Datasets my departments own, whatever my role there (the provider's side of the demand board)."""
    from apps.datapool.models import Dataset

    return Dataset.objects.restrict(user, "view").filter(owner_id__in=_my_department_ids(user))


def demand_matching(*, user, demands: QuerySet[DataDemand]) -> QuerySet[DataDemand]:
    """Narrow `demands` (a restricted list) to those matching a dataset my departments own: one
    suggested to them, one of the standard they ask for, or one sharing a tag with them."""
    mine = owned_datasets(user=user)
    return demands.filter(
        Q(suggested__in=mine.values("pk"))
        | Q(standard_code__in=mine.values("standard__code"))
        | Q(tags__in=mine.values("tags"))
    ).distinct()


def followable_datasets(*, user) -> QuerySet:
    """Catalog datasets my departments may follow: those they own, or hold a grant on right now."""
    from apps.datapool.selectors import dataset_catalog

    return (
        dataset_catalog(user=user)
        .prefetch_related(None)
        .select_related("owner")
        .filter(Q(pk__in=my_grants(user=user).values("dataset_id")) | Q(owner_id__in=_my_department_ids(user)))
        .order_by("title", "id")
    )


def request_list(*, user) -> QuerySet[DataRequest]:
    return DataRequest.objects.restrict(user, "view").select_related(
        "department__region", "dataset__owner", "dataset__standard", "incident", "created_by"
    )


def approval_queue(*, user) -> QuerySet[DataRequest]:
    """Submitted requests whose next stage is mine, oldest first: the owner's head until the owner
    stage is decided, then the information office (a second, different office head at depth 3)."""
    from django.db.models import Exists, OuterRef

    from .choices import ApprovalStage
    from .models import DataApproval

    approvals = DataApproval.objects.filter(request=OuterRef("pk"))
    decided = {stage: Exists(approvals.filter(stage=stage)) for stage in ApprovalStage.values}
    owner_turn = Q(pk__in=DataRequest.objects.restrict(user, "decide_owner").values("pk")) & ~decided["owner"]
    office_turn = (
        Q(pk__in=DataRequest.objects.restrict(user, "decide_office").values("pk"))
        & decided["owner"]
        & (
            ~decided["office"]
            | (
                Q(depth__gte=3)
                & ~decided["office_second"]
                & ~Exists(approvals.filter(stage=ApprovalStage.OFFICE, decided_by=user))
            )
        )
    )
    return request_list(user=user).filter(owner_turn | office_turn, status="submitted").order_by("submitted_at", "id")


def emergency_review_queue(*, user) -> QuerySet[DataGrant]:
    """Emergency grants on datasets I review (owner head, information office) not yet reviewed."""
    reviewable = DataGrant.objects.restrict(user, "review").values("pk")
    return grant_list(user=user).filter(pk__in=reviewable, is_emergency=True, reviewed_at__isnull=True)


def grant_list(*, user) -> QuerySet[DataGrant]:
    return DataGrant.objects.restrict(user, "view").select_related(
        "department__region", "dataset__owner", "dataset__standard", "incident", "request"
    )


def my_grants(*, user, now=None) -> QuerySet[DataGrant]:
    """Grants my departments hold and may use right now (for "my grants, time left")."""
    now = now or timezone.now()
    return grant_list(user=user).filter(DataGrant.active_q(now), department_id__in=_my_department_ids(user))


def demand_board(*, user) -> QuerySet[DataDemand]:
    return (
        DataDemand.objects.restrict(user, "view")
        .select_related("department__region", "incident")
        .prefetch_related("tags")
    )


def subscription_list(*, user) -> QuerySet[Subscription]:
    return Subscription.objects.restrict(user, "view").select_related("dataset", "incident", "department")
