"""Writes of data access: requests, approvals, grants (and their guardian permissions),
break-glass access, audited reads, the sweep, demands and subscriptions.

House style: authorize → lock → check → write → ledger event, in one transaction. Grants and
their guardian permissions are created and removed only here.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from guardian.shortcuts import assign_perm, remove_perm

from apps.core.exceptions import Conflict, SecondFactorRequired, ServiceError
from apps.core.scoping import authorize, authorize_any
from apps.core.transitions import ensure_transition
from apps.datapool.choices import Classification
from apps.incidents.choices import TimelineKind
from apps.ledger.services import audit_record
from apps.notifications.services import message_for, notify_bulk
from apps.organizations.choices import LeadingGroupRole
from apps.organizations.models import Department, LeadingGroupSeat

from . import rowfilter
from .choices import (
    EMERGENCY_MAX_HOURS,
    MAX_GRANT_HOURS,
    RENEWAL_REMINDER_HOURS,
    REQUEST_TRANSITIONS,
    ApprovalStage,
    Decision,
    RequestStatus,
)
from .models import DataApproval, DataGrant, DataRequest
from .selectors import READ_CODENAME, active_grants

log = logging.getLogger(__name__)
PERM = f"datapool.{READ_CODENAME}"
RESTRICTED = {Classification.SENSITIVE, Classification.SECRET}
ACTIVE_INCIDENT = {"verified", "responding", "recovering"}


# --- helpers ---


def _fields(standard, names, field: str) -> list[str]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ServiceError(_("Choose fields by name."), field=field)
    unknown = sorted(set(names) - set(standard.field_names))
    if unknown:
        raise ServiceError(_("Not fields of the standard: %(fields)s") % {"fields": ", ".join(unknown)}, field=field)
    return [n for n in standard.field_names if n in set(names)]  # the standard's order, no duplicates


def _offices_over(dataset, incident=None) -> list[Department]:
    """Information offices that co-approve for `dataset`: the incident's leading group's office
    when the request names an incident with one, else the offices of the owner's groups."""
    seats = LeadingGroupSeat.objects.filter(role=LeadingGroupRole.INFORMATION_OFFICE, group__is_active=True)
    if incident is not None and incident.leading_group_id:
        seats = seats.filter(group_id=incident.leading_group_id)
    else:
        seats = seats.filter(group__seats__department_id=dataset.owner_id)
    return [s.department for s in seats.select_related("department").distinct()]


def _depth(dataset, incident) -> int:
    """1: the owner's head; 2: plus the information office (always for sensitive and secret
    data); 3: plus a second information-office head. An incident's active plan may raise it."""
    depth = 2 if dataset.classification in RESTRICTED else 1
    if incident is not None:
        plan_depth = (
            incident.activations.select_related("plan")
            .order_by("-activated_at")
            .values_list("plan__data_approval_depth", flat=True)
            .first()
        )
        if plan_depth:
            depth = max(depth, int(plan_depth)) if dataset.classification in RESTRICTED else int(plan_depth)
    return max(1, min(depth, 3))


def _stages(depth: int) -> list[str]:
    return [ApprovalStage.OWNER, ApprovalStage.OFFICE, ApprovalStage.OFFICE_SECOND][:depth]


def _link_request(req: DataRequest) -> str:
    return reverse("portal:data-request-detail", args=[req.pk])


def _notify(departments, *, kind: str, title: str, key: str, target, link: str = "", audience_role: str = "") -> None:
    notify_bulk(
        [
            message_for(
                department=d, kind=kind, title=title, key=key, target=target, link=link, audience_role=audience_role
            )
            for d in {getattr(d, "pk", d) for d in departments}
        ]
    )


# --- the incident timeline ---

# Timeline entries are read by everyone who sees the incident, so they name only departments, the
# dataset and times: never purpose, justification, reasons, fields or filters, which may describe
# residents. A secret dataset's title is for its owner and the information offices only (its
# catalogue rule), so there the entry names the owner instead. Pairs: (dataset named, secret).
_TIMELINE_TEXT = {
    "submitted": (
        N_("Data request by %(dept)s for “%(dataset)s” submitted"),
        N_("Data request by %(dept)s for a secret dataset of %(owner)s submitted"),
    ),
    "approve": (
        N_("Data request by %(dept)s for “%(dataset)s” approved by %(by)s (stage %(stage)s/%(depth)s)"),
        N_("Data request by %(dept)s for a secret dataset of %(owner)s approved by %(by)s (stage %(stage)s/%(depth)s)"),
    ),
    "reject": (
        N_("Data request by %(dept)s for “%(dataset)s” declined by %(by)s (stage %(stage)s/%(depth)s)"),
        N_("Data request by %(dept)s for a secret dataset of %(owner)s declined by %(by)s (stage %(stage)s/%(depth)s)"),
    ),
    "withdrawn": (
        N_("Data request by %(dept)s for “%(dataset)s” withdrawn"),
        N_("Data request by %(dept)s for a secret dataset of %(owner)s withdrawn"),
    ),
    "granted": (
        N_("Access to “%(dataset)s” granted to %(dept)s until %(until)s"),
        N_("Access to a secret dataset of %(owner)s granted to %(dept)s until %(until)s"),
    ),
    "revoked": (
        N_("Access of %(dept)s to “%(dataset)s” revoked"),
        N_("Access of %(dept)s to a secret dataset of %(owner)s revoked"),
    ),
    "expired": (
        N_("Access of %(dept)s to “%(dataset)s” expired at %(until)s"),
        N_("Access of %(dept)s to a secret dataset of %(owner)s expired at %(until)s"),
    ),
    "incident_closed": (
        N_("Access of %(dept)s to “%(dataset)s” ended with the incident"),
        N_("Access of %(dept)s to a secret dataset of %(owner)s ended with the incident"),
    ),
    "emergency": (
        N_("Emergency access to “%(dataset)s” opened by %(dept)s until %(until)s, to be reviewed"),
        N_("Emergency access to a secret dataset of %(owner)s opened by %(dept)s until %(until)s, to be reviewed"),
    ),
    "emergency_upheld": (
        N_("Emergency access of %(dept)s to “%(dataset)s” reviewed: upheld"),
        N_("Emergency access of %(dept)s to a secret dataset of %(owner)s reviewed: upheld"),
    ),
    "emergency_overturned": (
        N_("Emergency access of %(dept)s to “%(dataset)s” reviewed: not upheld"),
        N_("Emergency access of %(dept)s to a secret dataset of %(owner)s reviewed: not upheld"),
    ),
}


def _until(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _on_timeline(what: str, obj, event, **args) -> None:
    """One `data` entry on the incident's timeline for `obj` (a request or a grant), linked to its
    ledger `event`, in the caller's transaction; nothing when `obj` names no incident."""
    if obj.incident_id is None:
        return
    from apps.incidents.services import timeline_add

    dataset = obj.dataset
    secret = dataset.classification == Classification.SECRET
    args["dept"] = obj.department.name
    if secret:
        args["owner"] = dataset.owner.name
    else:
        args["dataset"] = dataset.title
    timeline_add(
        incident=obj.incident,
        kind=TimelineKind.DATA,
        message=_TIMELINE_TEXT[what][secret],
        args=args,
        event=event,
        target=obj,
    )


# --- requests ---


@transaction.atomic
def request_create(
    *,
    actor,
    department: Department,
    dataset,
    fields: list[str],
    masked_fields: list[str] | None = None,
    row_filter=None,
    purpose: str,
    legal_basis: str,
    duration_hours: int,
    incident=None,
    submit: bool = True,
    idempotency_key: str = "",
) -> DataRequest:
    """A department asks for another department's records (draft, or submitted at once)."""
    authorize(actor, "request_data", department)
    if idempotency_key:
        Department.objects.select_for_update().filter(pk=department.pk).first()
        earlier = DataRequest.objects.filter(created_by=actor, idempotency_key=idempotency_key).first()
        if earlier:
            return earlier
    authorize(actor, "view", dataset)
    if dataset.owner_id == department.pk:
        raise ServiceError(_("Your department owns this dataset; it needs no request."), field="dataset")
    if incident is not None:
        authorize(actor, "view", incident)
    standard = dataset.standard
    clear = _fields(standard, fields, "fields")
    masked = [n for n in _fields(standard, masked_fields or [], "masked_fields") if n not in clear]
    if not clear and not masked:
        raise ServiceError(_("Choose at least one field."), field="fields")
    spec = rowfilter.validate(row_filter, standard)
    if not purpose.strip():
        raise ServiceError(_("State the purpose."), field="purpose")
    if not legal_basis.strip():
        raise ServiceError(_("State the legal basis."), field="legal_basis")
    if not isinstance(duration_hours, int) or not 1 <= duration_hours <= MAX_GRANT_HOURS:
        raise ServiceError(_("Ask for between 1 and %(max)d hours.") % {"max": MAX_GRANT_HOURS}, field="duration_hours")
    depth = _depth(dataset, incident)
    if depth >= 2 and not _offices_over(dataset, incident):
        raise ServiceError(
            _("No information office oversees this dataset, so it can only be shared through a leading group."),
            field="dataset",
            code="no_information_office",
        )
    req = DataRequest.objects.create(
        department=department,
        dataset=dataset,
        fields=clear,
        masked_fields=masked,
        row_filter=spec,
        purpose=purpose.strip(),
        legal_basis=legal_basis.strip(),
        incident=incident,
        duration_hours=duration_hours,
        depth=depth,
        created_by=actor,
        idempotency_key=idempotency_key,
    )
    audit_record(
        actor=actor,
        action="data_request.create",
        target=req,
        after={
            "dataset": dataset.pk,
            "fields": clear,
            "masked": masked,
            "filter": spec,
            "purpose": req.purpose,
            "legal_basis": req.legal_basis,
            "incident": getattr(incident, "pk", None),
            "hours": duration_hours,
            "depth": depth,
        },
    )
    if submit:
        _submit(actor, req)
    return req


def _submit(actor, req: DataRequest) -> None:
    ensure_transition(req.status, RequestStatus.SUBMITTED, REQUEST_TRANSITIONS, RequestStatus)
    req.status = RequestStatus.SUBMITTED
    req.submitted_at = timezone.now()
    req.save(update_fields=["status", "submitted_at"])
    event = audit_record(actor=actor, action="data_request.submit", target=req, after={"status": req.status})
    _on_timeline("submitted", req, event)
    _notify(
        [req.dataset.owner_id],
        kind="data_request.submitted",
        title=_("Data request from %(dept)s for %(dataset)s")
        % {"dept": req.department.name, "dataset": req.dataset.title},
        key=f"data_request.submitted:{req.pk}",
        target=req,
        link=_link_request(req),
        audience_role="head",
    )


def _lock(req: DataRequest, actor, action: str) -> DataRequest:
    authorize(actor, action, req)
    return (
        DataRequest.objects.select_for_update(of=("self",))
        .select_related("dataset__standard", "dataset__owner", "department", "incident")
        .get(pk=req.pk)
    )


@transaction.atomic
def request_submit(*, actor, request: DataRequest) -> DataRequest:
    req = _lock(request, actor, "edit")
    _submit(actor, req)
    return req


@transaction.atomic
def request_withdraw(*, actor, request: DataRequest, reason: str = "") -> DataRequest:
    req = _lock(request, actor, "edit")
    ensure_transition(req.status, RequestStatus.WITHDRAWN, REQUEST_TRANSITIONS, RequestStatus)
    was_submitted = req.status == RequestStatus.SUBMITTED
    req.status = RequestStatus.WITHDRAWN
    req.decided_at = timezone.now()
    req.save(update_fields=["status", "decided_at"])
    event = audit_record(actor=actor, action="data_request.withdraw", target=req, after={"reason": reason})
    if was_submitted:  # a draft never reached the timeline
        _on_timeline("withdrawn", req, event)
    return req


def request_next_stage(*, user, request: DataRequest, decided: set[str] | None = None) -> tuple[str, Department]:
    """The stage `user` would decide next on `request`, and for which department; ServiceError
    saying who is awaited otherwise. Reads only (the portal asks it to offer the right forms)."""
    if decided is None:
        decided = set(request.approvals.values_list("stage", flat=True))
    return _stage_for(user, request, decided)


SECOND_FACTOR_CLASSIFICATIONS = frozenset({Classification.SENSITIVE, Classification.SECRET})


def approval_needs_second_factor(request: DataRequest) -> bool:
    """Approving (any stage) access to a sensitive or secret dataset needs the approver's
    session verified with a second factor (decision 0012). Rejecting never does."""
    return request.dataset.classification in SECOND_FACTOR_CLASSIFICATIONS


def _stage_for(actor, req: DataRequest, decided: set[str]) -> tuple[str, Department]:
    """The next stage this actor may decide, and the department they decide for."""
    from apps.core.permissions import Role
    from apps.core.scoping import principal_for

    principal = principal_for(actor)
    heads = principal.department_ids({Role.HEAD}) if principal else set()
    for stage in _stages(req.depth):
        if stage in decided:
            continue
        if stage == ApprovalStage.OWNER:
            if req.dataset.owner_id in heads or (principal and principal.is_superuser):
                return stage, req.dataset.owner
            raise ServiceError(_("The owner department's head decides first."), code="not_your_stage")
        offices = [d for d in _offices_over(req.dataset, req.incident) if d.pk in heads]
        if not offices:
            raise ServiceError(_("Waiting for the information office."), code="not_your_stage")
        if (
            stage == ApprovalStage.OFFICE_SECOND
            and req.approvals.filter(stage=ApprovalStage.OFFICE, decided_by=actor).exists()
        ):
            raise ServiceError(_("A second, different head of the information office must approve."), code="four_eyes")
        return stage, offices[0]
    raise Conflict(_("This request has already been decided."))


@transaction.atomic
def request_decide(
    *, actor, request: DataRequest, decision: str, reason: str = "", second_factor: bool = False
) -> DataRequest:
    """One approval stage decides. The last approval creates the grant, exactly once: the
    request row is locked, so concurrent approvals serialise and the second finds it granted.

    `second_factor`: the interface says whether the actor's session is verified with a second
    factor (portal and API sessions: `is_verified()`; an integration key: never). Approving a
    sensitive or secret dataset's request without it is refused."""
    authorize_any(actor, ("decide_owner", "decide_office"), request)
    req = (
        DataRequest.objects.select_for_update(of=("self",))
        .select_related("dataset__standard", "dataset__owner", "department", "incident")
        .get(pk=request.pk)
    )
    if req.status != RequestStatus.SUBMITTED:
        raise Conflict(_("This request has already been decided."))
    if decision not in Decision.values:
        raise ServiceError(_("Approve or reject."), field="decision")
    if decision == Decision.REJECT and not reason.strip():
        raise ServiceError(_("Give the reason for rejecting."), field="reason")
    decided = set(req.approvals.values_list("stage", flat=True))
    stage, department = _stage_for(actor, req, decided)
    if decision == Decision.APPROVE and not second_factor and approval_needs_second_factor(req):
        raise SecondFactorRequired(
            _(
                "Approving access to sensitive or secret data needs a person whose session is verified "
                "with a second factor (an authenticator code); an integration key cannot approve it."
            )
        )
    DataApproval.objects.create(
        request=req,
        stage=stage,
        decision=decision,
        reason=reason.strip(),
        department=department,
        decided_by=actor,
        second_factor=second_factor,
    )
    event = audit_record(
        actor=actor,
        action=f"data_request.{decision}",
        target=req,
        after={"stage": stage, "reason": reason.strip(), "second_factor": second_factor},
    )
    _on_timeline(decision, req, event, by=department.name, stage=len(decided) + 1, depth=req.depth)
    now = timezone.now()
    if decision == Decision.REJECT:
        req.status = RequestStatus.REJECTED
        req.rejection_reason = reason.strip()
        req.decided_at = now
        req.save(update_fields=["status", "rejection_reason", "decided_at"])
        _notify(
            [req.department_id],
            kind="data_request.rejected",
            title=_("Data request for %(dataset)s rejected") % {"dataset": req.dataset.title},
            key=f"data_request.rejected:{req.pk}",
            target=req,
            link=_link_request(req),
        )
        return req
    if len(decided) + 1 < req.depth:
        offices = _offices_over(req.dataset, req.incident)
        _notify(
            offices,
            kind="data_request.co_approve",
            title=_("Data request for %(dataset)s needs your co-approval") % {"dataset": req.dataset.title},
            key=f"data_request.co_approve:{req.pk}:{stage}",
            target=req,
            link=_link_request(req),
            audience_role="head",
        )
        return req
    req.status = RequestStatus.APPROVED
    req.decided_at = now
    req.save(update_fields=["status", "decided_at"])
    _grant_from_request(actor, req, now)
    return req


def _approvers(req: DataRequest) -> list[dict]:
    return [
        {
            "stage": a.stage,
            "user": a.decided_by_id,
            "name": a.decided_by.get_username(),
            "at": a.decided_at.isoformat(),
            "second_factor": a.second_factor,
        }
        for a in req.approvals.select_related("decided_by").filter(decision=Decision.APPROVE)
    ]


def _grant_from_request(actor, req: DataRequest, now) -> DataGrant:
    grant, event = _grant_create(
        actor,
        department=req.department,
        dataset=req.dataset,
        request=req,
        fields=req.fields,
        masked_fields=req.masked_fields,
        row_filter=req.row_filter,
        purpose=req.purpose,
        incident=req.incident,
        valid_from=now,
        valid_until=now + timedelta(hours=req.duration_hours),
        approved_by=_approvers(req),
    )
    ensure_transition(req.status, RequestStatus.GRANTED, REQUEST_TRANSITIONS, RequestStatus)
    req.status = RequestStatus.GRANTED
    req.save(update_fields=["status"])
    _on_timeline("granted", grant, event, until=_until(grant.valid_until))
    _notify(
        [req.department_id],
        kind="data_grant.created",
        title=_("Access to %(dataset)s granted until %(until)s")
        % {"dataset": req.dataset.title, "until": timezone.localtime(grant.valid_until).strftime("%Y-%m-%d %H:%M")},
        key=f"data_grant.created:{grant.pk}",
        target=grant,
        link=reverse("portal:data-grant-detail", args=[grant.pk]),
    )
    return grant


def _grant_create(actor, **fields) -> tuple[DataGrant, object]:
    """The grant, its guardian permission and its ledger event (returned for the timeline)."""
    grant = DataGrant.objects.create(created_by=actor, **fields)
    assign_perm(PERM, grant.department.group, grant.dataset)
    event = audit_record(
        actor=actor,
        action="data_grant.create",
        target=grant,
        after={
            "dataset": grant.dataset_id,
            "department": grant.department_id,
            "fields": grant.fields,
            "masked": grant.masked_fields,
            "filter": grant.row_filter,
            "purpose": grant.purpose,
            "incident": grant.incident_id,
            "from": grant.valid_from,
            "until": grant.valid_until,
            "emergency": grant.is_emergency,
            "approved_by": grant.approved_by,
        },
    )
    return grant, event


def _drop_permission_if_unused(grant: DataGrant, now) -> None:
    """Remove the guardian permission unless another grant of the same department on the same
    dataset is still valid."""
    still = active_grants({grant.department_id}, now).filter(dataset_id=grant.dataset_id).exclude(pk=grant.pk)
    if not still.exists():
        remove_perm(PERM, grant.department.group, grant.dataset)
    DataGrant.objects.filter(pk=grant.pk).update(permission_removed_at=now)


@transaction.atomic
def grant_revoke(*, actor, grant: DataGrant, reason: str) -> DataGrant:
    authorize(actor, "revoke", grant)
    grant = (
        DataGrant.objects.select_for_update(of=("self",))
        .select_related("department__group", "dataset", "incident")
        .get(pk=grant.pk)
    )
    if grant.revoked_at is not None:
        return grant
    if not reason.strip():
        raise ServiceError(_("Give the reason for revoking."), field="reason")
    now = timezone.now()
    grant.revoked_at, grant.revoked_by, grant.revoke_reason = now, actor, reason.strip()
    grant.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    _drop_permission_if_unused(grant, now)
    if grant.request_id:
        DataRequest.objects.filter(pk=grant.request_id, status=RequestStatus.GRANTED).update(
            status=RequestStatus.REVOKED
        )
    event = audit_record(actor=actor, action="data_grant.revoke", target=grant, after={"reason": grant.revoke_reason})
    _on_timeline("revoked", grant, event)
    _notify(
        [grant.department_id],
        kind="data_grant.revoked",
        title=_("Access to %(dataset)s revoked") % {"dataset": grant.dataset.title},
        key=f"data_grant.revoked:{grant.pk}",
        target=grant,
    )
    return grant


# --- break-glass ---


@transaction.atomic
def emergency_access_open(
    *, actor, department: Department, dataset, incident, justification: str, hours: int
) -> DataGrant:
    """Break-glass (紧急调用): a department head opens time-boxed access (hours, not days) on an
    active severity I/II incident. The owner and the information office are told at once and
    must review it afterwards; every read through it is flagged in the ledger."""
    authorize(actor, "emergency_access", department)
    authorize(actor, "view", dataset)
    authorize(actor, "view", incident)
    if dataset.owner_id == department.pk:
        raise ServiceError(_("Your department owns this dataset."), field="dataset")
    if incident.severity > 2 or incident.status not in ACTIVE_INCIDENT or incident.is_drill:
        raise ServiceError(_("Emergency access needs an active, real incident of severity I or II."), field="incident")
    if not justification.strip():
        raise ServiceError(_("The justification is mandatory."), field="justification")
    if not isinstance(hours, int) or not 1 <= hours <= EMERGENCY_MAX_HOURS:
        raise ServiceError(
            _("Emergency access lasts 1 to %(max)d hours.") % {"max": EMERGENCY_MAX_HOURS}, field="hours"
        )
    now = timezone.now()
    Department.objects.select_for_update().filter(pk=department.pk).first()  # serialises double clicks
    open_already = active_grants({department.pk}, now).filter(dataset=dataset, incident=incident, is_emergency=True)
    existing = open_already.order_by("-valid_until").first()
    if existing is not None:
        return existing  # one break-glass per department, dataset and incident at a time
    grant, event = _grant_create(
        actor,
        department=department,
        dataset=dataset,
        fields=dataset.standard.field_names,
        masked_fields=[],
        row_filter=[],
        purpose=justification.strip(),
        incident=incident,
        valid_from=now,
        valid_until=now + timedelta(hours=hours),
        approved_by=[
            {
                "stage": "emergency",
                "user": actor.pk,
                "name": actor.display_name or actor.get_username(),
                "at": now.isoformat(),
            }
        ],
        is_emergency=True,
        justification=justification.strip(),
    )
    _on_timeline("emergency", grant, event, until=_until(grant.valid_until))
    link = reverse("portal:data-grant-detail", args=[grant.pk])
    title = _("Emergency access to %(dataset)s opened by %(dept)s: review it") % {
        "dataset": dataset.title,
        "dept": department.name,
    }
    _notify(
        [dataset.owner_id, *[d.pk for d in _offices_over(dataset, incident)]],
        kind="data_grant.emergency",
        title=title,
        key=f"data_grant.emergency:{grant.pk}",
        target=grant,
        link=link,
    )
    return grant


@transaction.atomic
def emergency_access_review(*, actor, grant: DataGrant, approve: bool, note: str) -> DataGrant:
    authorize(actor, "review", grant)
    grant = (
        DataGrant.objects.select_for_update(of=("self",))
        .select_related("department__group", "dataset", "incident")
        .get(pk=grant.pk)
    )
    if not grant.is_emergency:
        raise ServiceError(_("Only emergency access is reviewed afterwards."))
    if grant.reviewed_at is not None:
        raise Conflict(_("This emergency access has already been reviewed."))
    if not note.strip():
        raise ServiceError(_("Write the review note."), field="note")
    now = timezone.now()
    grant.reviewed_at, grant.reviewed_by, grant.review_note = now, actor, note.strip()
    grant.save(update_fields=["reviewed_at", "reviewed_by", "review_note"])
    event = audit_record(
        actor=actor,
        action="data_grant.emergency_review",
        target=grant,
        after={"approved": bool(approve), "note": grant.review_note},
    )
    _on_timeline("emergency_upheld" if approve else "emergency_overturned", grant, event)
    if not approve and grant.revoked_at is None:
        grant.revoked_at, grant.revoked_by, grant.revoke_reason = now, actor, grant.review_note
        grant.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        _drop_permission_if_unused(grant, now)
        event = audit_record(actor=actor, action="data_grant.revoke", target=grant, after={"reason": grant.review_note})
        _on_timeline("revoked", grant, event)
    return grant


# --- reads (every one in the ledger) ---


def read_record(
    *, actor, dataset, grant: DataGrant | None, query: dict, rows: int, export: bool = False, content: bytes = b""
) -> None:
    """Write one ledger event for one read of shared data (a page, a bulk pull, an export)."""
    from apps.core.scoping import principal_for
    from apps.datapool.services import dataset_use

    principal = principal_for(actor)
    mine = principal.department_ids() if principal else set()
    department_id = (
        grant.department_id if grant is not None else (dataset.owner_id if dataset.owner_id in mine else None)
    )
    after = {
        "dataset": dataset.pk,
        "grant": getattr(grant, "pk", None),
        "query": query,
        "rows": rows,
        "emergency": bool(grant is not None and grant.is_emergency),
    }
    if export:
        after["sha256"] = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="data.export" if export else "data.read",
            target=grant if grant is not None else dataset,
            after=after,
        )
        if department_id:
            dataset_use(dataset=dataset, department=Department(pk=department_id), rows=rows)


# --- the sweep (Celery beat) ---


def grants_sweep(*, now=None) -> dict[str, int]:
    """Tidy what reads already refuse: drop the guardian permissions of grants that expired or
    whose incident closed, mark their requests expired; remind holders a day before expiry."""
    now = now or timezone.now()
    done = {"expired": 0, "reminded": 0}
    ended = DataGrant.objects.filter(permission_removed_at__isnull=True).exclude(DataGrant.active_q(now))
    for pk in list(ended.values_list("pk", flat=True)[:1000]):
        with transaction.atomic():
            grant = DataGrant.objects.select_for_update(skip_locked=True, of=("self",)).filter(
                pk=pk, permission_removed_at__isnull=True
            )
            grant = grant.select_related("department__group", "dataset", "incident").first()
            if grant is None or grant.is_active(now):
                continue
            _drop_permission_if_unused(grant, now)
            if grant.request_id:
                DataRequest.objects.filter(pk=grant.request_id, status=RequestStatus.GRANTED).update(
                    status=RequestStatus.EXPIRED
                )
            event = audit_record(
                actor=None,
                action="data_grant.expire",
                target=grant,
                after={
                    "until": grant.valid_until,
                    "revoked": grant.revoked_at is not None,
                    "incident_closed": bool(grant.incident_id and grant.incident.status == "closed"),
                },
            )
            if grant.revoked_at is None:  # a revocation is on the timeline already
                if grant.valid_until <= now:
                    _on_timeline("expired", grant, event, until=_until(grant.valid_until))
                else:
                    _on_timeline("incident_closed", grant, event)
            done["expired"] += 1
    soon = DataGrant.objects.filter(
        DataGrant.active_q(now),
        reminded_at__isnull=True,
        valid_until__lte=now + timedelta(hours=RENEWAL_REMINDER_HOURS),
    ).select_related("dataset")
    for grant in list(soon[:1000]):
        with transaction.atomic():
            if not DataGrant.objects.filter(pk=grant.pk, reminded_at__isnull=True).update(reminded_at=now):
                continue
            _notify(
                [grant.department_id],
                kind="data_grant.expiring",
                title=_("Access to %(dataset)s ends at %(until)s; request again to extend")
                % {
                    "dataset": grant.dataset.title,
                    "until": timezone.localtime(grant.valid_until).strftime("%Y-%m-%d %H:%M"),
                },
                key=f"data_grant.expiring:{grant.pk}",
                target=grant,
            )
            done["reminded"] += 1
    return done


# --- matching supply and demand (匹配供求) ---


@transaction.atomic
def demand_post(
    *,
    actor,
    department: Department,
    title: str,
    description: str = "",
    standard_code: str = "",
    tags=(),
    incident=None,
):
    """Post what a department needs without knowing who has it; matching providers are told,
    and any dataset already in the catalog that fits is suggested at once."""
    from .models import DataDemand

    authorize(actor, "request_data", department)
    if not title.strip():
        raise ServiceError(_("Say what data is needed."), field="title")
    if incident is not None:
        authorize(actor, "view", incident)
    if standard_code:
        from apps.datapool.models import DataStandard

        if not DataStandard.objects.filter(code=standard_code).exists():
            raise ServiceError(_("Unknown standard."), field="standard_code")
    Department.objects.select_for_update().filter(pk=department.pk).first()  # serialises double posts
    same = DataDemand.objects.filter(department=department, title=title.strip(), status="open").first()
    if same is not None:
        return same  # the same need posted twice is one demand
    demand = DataDemand.objects.create(
        department=department,
        title=title.strip(),
        description=description.strip(),
        standard_code=standard_code,
        incident=incident,
        created_by=actor,
    )
    if tags:
        demand.tags.set(tags)
    audit_record(
        actor=actor,
        action="data_demand.post",
        target=demand,
        after={
            "title": demand.title,
            "standard": standard_code,
            "tags": [t.code for t in tags],
            "incident": getattr(incident, "pk", None),
        },
    )
    matches = _datasets_matching(demand)
    if matches:
        demand.suggested.add(*matches)
    providers = {d.owner_id for d in matches} - {department.pk}
    _notify(
        providers,
        kind="data_demand.match",
        title=_("A department needs data you hold: %(title)s") % {"title": demand.title},
        key=f"data_demand.match:{demand.pk}",
        target=demand,
        link=reverse("portal:data-demand-list"),
    )
    return demand


def _datasets_matching(demand) -> list:
    """Catalog datasets (open to discovery) whose standard or tags fit the demand."""
    from django.db.models import Q

    from apps.datapool.models import Dataset

    q = Q(pk__in=[])
    if demand.standard_code:
        q |= Q(standard__code=demand.standard_code)
    tag_ids = list(demand.tags.values_list("pk", flat=True))
    if tag_ids:
        q |= Q(tags__in=tag_ids)
    # only what the catalog shows the poster: a suggestion names the dataset
    return list(
        Dataset.objects.restrict(demand.created_by, "view")
        .filter(q)
        .exclude(classification=Classification.SECRET)
        .exclude(owner=demand.department)
        .distinct()
    )


def demand_suggest_for(dataset) -> int:
    """A dataset was published (or retagged): suggest it to every open demand it fits."""
    from django.db.models import Q

    from apps.datapool.models import Dataset

    from .choices import DemandStatus
    from .models import DataDemand

    if dataset.classification == Classification.SECRET:
        return 0
    tag_ids = list(dataset.tags.values_list("pk", flat=True))
    demands = (
        DataDemand.objects.filter(status=DemandStatus.OPEN)
        .exclude(department_id=dataset.owner_id)
        .filter(Q(standard_code=dataset.standard.code) | Q(tags__in=tag_ids))
        .exclude(suggested=dataset)
        .select_related("created_by")
        .distinct()
    )
    count = 0
    # only to a demand whose poster may see the dataset in the catalog: a suggestion names the
    # dataset, and must not reveal what the catalog hides from that department (asked once per poster)
    sees: dict[int, bool] = {}
    with transaction.atomic():
        for demand in demands:
            if demand.created_by_id not in sees:
                sees[demand.created_by_id] = (
                    Dataset.objects.restrict(demand.created_by, "view").filter(pk=dataset.pk).exists()
                )
            if not sees[demand.created_by_id]:
                continue
            demand.suggested.add(dataset)
            _notify(
                [demand.department_id],
                kind="data_demand.suggestion",
                title=_("A dataset may meet your demand “%(title)s”: %(dataset)s")
                % {"title": demand.title, "dataset": dataset.title},
                key=f"data_demand.suggestion:{demand.pk}:{dataset.pk}",
                target=demand,
                link=reverse("portal:data-demand-list"),
            )
            count += 1
    return count


@transaction.atomic
def demand_close(*, actor, demand, met: bool = True):
    from .choices import DemandStatus

    authorize(actor, "edit", demand)
    if demand.status != DemandStatus.OPEN:
        raise Conflict(_("This demand is already closed."))
    demand.status = DemandStatus.MET if met else DemandStatus.CLOSED
    demand.save(update_fields=["status"])
    audit_record(actor=actor, action="data_demand.close", target=demand, after={"status": demand.status})
    return demand


# --- subscriptions (数字订阅) ---


@transaction.atomic
def subscribe(*, actor, department: Department, dataset=None, incident=None):
    """Follow a dataset the department holds a valid grant on (or owns), or an incident it sees."""
    from .models import Subscription

    authorize(actor, "request_data", department)
    if (dataset is None) == (incident is None):
        raise ServiceError(_("Follow either a dataset or an incident."))
    if dataset is not None:
        owns = dataset.owner_id == department.pk
        if not owns and not active_grants({department.pk}).filter(dataset=dataset).exists():
            raise ServiceError(
                _("Only a dataset your department holds a grant on can be followed."), field="dataset", code="no_grant"
            )
    if incident is not None:
        authorize(actor, "view", incident)
    sub, created = Subscription.objects.get_or_create(
        department=department, dataset=dataset, incident=incident, defaults={"created_by": actor}
    )
    if created:
        audit_record(
            actor=actor,
            action="subscription.create",
            target=sub,
            after={"dataset": getattr(dataset, "pk", None), "incident": getattr(incident, "pk", None)},
        )
    return sub


@transaction.atomic
def unsubscribe(*, actor, subscription) -> None:
    authorize(actor, "edit", subscription)
    audit_record(
        actor=actor,
        action="subscription.delete",
        target=subscription,
        before={"dataset": subscription.dataset_id, "incident": subscription.incident_id},
    )
    subscription.delete()


def subscribers_notify_load(job) -> int:
    """New records arrived in a dataset: tell its followers that can still read it."""
    from .models import Subscription

    dataset = job.dataset
    subs = Subscription.objects.filter(dataset=dataset).values_list("department_id", flat=True)
    allowed = {dataset.owner_id} | set(
        active_grants(set(subs)).filter(dataset=dataset).values_list("department_id", flat=True)
    )
    targets = [d for d in subs if d in allowed and d != job.department_id]
    if targets:
        with transaction.atomic():
            _notify(
                targets,
                kind="subscription.dataset",
                title=_("%(n)s new records in %(dataset)s") % {"n": job.rows_accepted, "dataset": dataset.title},
                key=f"subscription.dataset:{job.pk}",
                target=dataset,
            )
    return len(targets)


def subscribers_notify_incident(incident, summary: str, key: str) -> int:
    from .models import Subscription

    targets = list(Subscription.objects.filter(incident=incident).values_list("department_id", flat=True))
    if targets:
        _notify(
            targets,
            kind="subscription.incident",
            title=_("%(incident)s: %(summary)s") % {"incident": incident.title, "summary": summary},
            key=f"subscription.incident:{key}",
            target=incident,
            link=reverse("portal:incident-detail", args=[incident.pk]),
        )
    return len(targets)
