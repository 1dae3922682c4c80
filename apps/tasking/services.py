"""Task dispatch with accountability. Every transition: authorize → lock the row → check the
transition map → write → one TaskEvent + one ledger event → notifications (in the same
transaction, idempotent by key). The accountable department is always exactly `task.department`."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.permissions import Role
from apps.core.scoping import authorize, authorize_any, principal_for
from apps.core.transitions import ensure_transition
from apps.ledger.services import audit_record
from apps.notifications.services import message_for, notify, notify_bulk
from apps.organizations.choices import LeadingGroupRole
from apps.organizations.models import Department, LeadingGroup, LeadingGroupSeat

from .choices import (
    ACK_REMINDER_MINUTES,
    ACTION_STATUSES,
    ESCALATE_GROUP_AFTER_MINUTES,
    OPEN_STATUSES,
    TASK_TRANSITIONS,
    Priority,
    TaskEventKind,
    TaskStatus,
)
from .models import Task, TaskComment, TaskEvent

MAX_FAN_OUT = 500


def _task_link(task: Task) -> str:
    return f"/tasks/{task.pk}/"


def _record(task: Task, *, actor, kind: str, action: str, note: str = "", other=None, before=None, at=None, extra=None):
    """One ledger event and one task event for one transition (`extra` adds fields to the event)."""
    event = audit_record(
        actor=actor,
        action=action,
        target=task,
        region=task.department.region,
        before=before,
        after={
            "status": task.status,
            "department": task.department_id,
            "note": note,
            "other_department": getattr(other, "pk", None),
        }
        | (extra or {}),
    )
    TaskEvent.objects.create(
        task=task,
        kind=kind,
        at=at or event.created_at,
        department=task.department,
        other_department=other,
        actor_name=event.actor_name,
        note=note,
        ledger_seq=event.seq,
    )
    return event


def _lock(task: Task, actor=None, *actions: str) -> Task:
    """Lock the task row alone (no join: a join would also lock, and re-check, the related rows),
    then load its relations and re-check the permission on the row as it is now: the caller's
    earlier `authorize` saw the row before waiting for the lock."""
    Task.objects.select_for_update().only("pk").get(pk=task.pk)
    task = Task.objects.select_related("department__region", "issuer_department", "transfer_to").get(pk=task.pk)
    if actions:
        authorize_any(actor, actions, task)
    return task


def _ensure_no_pending_transfer(task: Task) -> None:
    """While a transfer is pending the task waits for the named department's answer."""
    if task.status == TaskStatus.TRANSFER_REQUESTED:
        raise ServiceError(
            _("A transfer to %(dept)s is pending; wait for its answer.") % {"dept": task.transfer_to.name},
            code="transfer_pending",
        )


def _ensure_transfer_pending(task: Task) -> None:
    if task.status != TaskStatus.TRANSFER_REQUESTED:
        raise ServiceError(_("No transfer is pending on this task."), code="invalid_transition")


def _move(task: Task, status: str, action: str) -> dict:
    """Change the locked task's status by `action`: the action must be open from the current status
    (`ACTION_STATUSES`) and the change must be an edge of the transition map."""
    _ensure_action(task, action)
    ensure_transition(task.status, status, TASK_TRANSITIONS, TaskStatus)
    before = {"status": task.status, "department": task.department_id}
    task.status = status
    return before


def _ensure_action(task: Task, action: str) -> None:
    if task.status not in ACTION_STATUSES[action]:
        raise ServiceError(
            _("This step is not possible while the task is “%(status)s”.") % {"status": task.get_status_display()},
            code="invalid_transition",
            field="status",
        )


# --- who may issue to whom --------------------------------------------------------------------


def issue_targets_q(*, actor, issuer_department: Department, issuer_group: LeadingGroup | None, incident=None) -> Q:
    """The departments `actor` may task on behalf of the issuer; raises AccessDenied when the actor
    may not issue at all. A department head tasks departments of its region (and below) and of
    regions whose active agreement shares tasks; a leading group's information office tasks the
    group's member departments and every department of the group's regions."""
    principal = principal_for(actor)
    if principal is None:
        raise AccessDenied(action="issue", target=issuer_department, hidden=True)
    if issuer_group is not None:
        if not principal.is_superuser and issuer_group.pk not in principal.office_group_ids({Role.HEAD, Role.STAFF}):
            raise AccessDenied(action="issue", target=issuer_group, hidden=False)
        office = issuer_group.seat_of(LeadingGroupRole.INFORMATION_OFFICE)
        if office is None or office.department_id != issuer_department.pk:
            raise ServiceError(
                _("A leading group's tasks are issued by its information office."), field="issuer_department"
            )
        q = Q(pk__in=LeadingGroupSeat.objects.filter(group=issuer_group).values("department_id"))
        for path in issuer_group.regions.values_list("path", flat=True):
            q |= Q(region__path__startswith=path)
        return q
    if not principal.is_superuser and issuer_department.pk not in principal.department_ids({Role.HEAD}):
        raise AccessDenied(action="issue", target=issuer_department, hidden=False)
    q = Q(region__path__startswith=issuer_department.region.path)
    for path in principal.agreement_paths.get("share_tasks", set()):
        q |= Q(region__path__startswith=path)
    if (
        incident is not None
        and incident.leading_group_id
        and issuer_department.leading_group_seats.filter(group_id=incident.leading_group_id).exists()
    ):
        q |= Q(pk__in=LeadingGroupSeat.objects.filter(group_id=incident.leading_group_id).values("department_id"))
    return q


@transaction.atomic
def task_dispatch(
    *,
    actor,
    issuer_department: Department,
    departments: list[Department],
    title: str,
    deadline: datetime,
    instructions: str = "",
    priority: str = Priority.NORMAL,
    incident=None,
    issuer_group: LeadingGroup | None = None,
    now: datetime | None = None,
    idempotency_key: str = "",
) -> list[Task]:
    """Issue one task to each department (fan-out: one child task per department, one batch).

    A constant number of queries plus bulk statements, whatever the number of departments.
    """
    now = now or timezone.now()
    if idempotency_key:
        # the issuer's row serialises concurrent duplicates: the second waits, then finds the first
        Department.objects.select_for_update().filter(pk=issuer_department.pk).first()
        earlier = list(Task.objects.filter(issued_by=actor, dispatch_key=idempotency_key).order_by("pk"))
        if earlier:
            return earlier
    targets = list({d.pk: d for d in departments}.values())
    if not targets:
        raise ServiceError(_("Choose at least one department."), field="departments")
    if len(targets) > MAX_FAN_OUT:
        raise ServiceError(_("At most %(n)d departments per dispatch.") % {"n": MAX_FAN_OUT}, field="departments")
    if not title.strip():
        raise ServiceError(_("Give the task a title."), field="title")
    if deadline <= now:
        raise ServiceError(_("The deadline must be in the future."), field="deadline")
    if priority not in Priority.values:
        raise ServiceError(_("Unknown priority."), field="priority")
    if incident is not None:
        authorize(actor, "view", incident)
    allowed = issue_targets_q(
        actor=actor, issuer_department=issuer_department, issuer_group=issuer_group, incident=incident
    )
    ids = [d.pk for d in targets]
    reachable = dict(Department.objects.filter(allowed, pk__in=ids, is_active=True).select_related("region").in_bulk())
    refused = [pk for pk in ids if pk not in reachable]
    if refused:
        raise ServiceError(
            _("You cannot task %(n)d of the chosen departments.") % {"n": len(refused)},
            field="departments",
            code="department_out_of_reach",
        )
    batch = uuid.uuid4() if len(ids) > 1 else None
    tasks = Task.objects.bulk_create(
        [
            Task(
                incident=incident,
                batch=batch,
                issuer_department=issuer_department,
                issuer_group=issuer_group,
                department=reachable[pk],
                title=title,
                instructions=instructions,
                priority=priority,
                deadline=deadline,
                issued_at=now,
                issued_by=actor,
                dispatch_key=idempotency_key,
            )
            for pk in ids
        ]
    )
    event = audit_record(
        actor=actor,
        action="task.dispatch",
        region=issuer_department.region,
        target=tasks[0] if len(tasks) == 1 else None,
        target_repr=title,
        after={
            "tasks": [t.pk for t in tasks],
            "departments": ids,
            "deadline": deadline,
            "priority": priority,
            "incident": getattr(incident, "pk", None),
            "issuer_group": getattr(issuer_group, "pk", None),
            "batch": str(batch) if batch else None,
        },
    )
    TaskEvent.objects.bulk_create(
        [
            TaskEvent(
                task=t,
                kind=TaskEventKind.ISSUED,
                at=now,
                department=t.department,
                actor_name=event.actor_name,
                ledger_seq=event.seq,
            )
            for t in tasks
        ]
    )
    _notify_issued(tasks)
    if incident is not None:
        from apps.incidents.services import timeline_add

        timeline_add(
            incident=incident,
            kind="task",
            event=event,
            target=tasks[0],
            message=N_("Task “%(title)s” issued; departments: %(n)s"),
            args={"title": title, "n": len(tasks)},
        )
    return tasks


def task_dispatch_planned(*, actor, activation) -> list[Task]:
    """Turn a plan activation's planned dispatches into tasks (called by the incidents services)."""
    incident = activation.incident
    rows = list(activation.dispatches.select_related("department__region").filter(task_id__isnull=True))
    if not rows:
        return []
    group = incident.leading_group
    office = group.seat_of(LeadingGroupRole.INFORMATION_OFFICE) if group else None
    issuer = office.department if office else incident.reporting_department
    now = timezone.now()
    tasks = Task.objects.bulk_create(
        [
            Task(
                incident=incident,
                batch=activation.pk and uuid.uuid5(uuid.NAMESPACE_OID, f"activation:{activation.pk}"),
                issuer_department=issuer,
                issuer_group=group if office else None,
                department=row.department,
                title=row.title,
                instructions=row.template.instructions,
                priority=Priority.HIGH,
                deadline=row.deadline,
                issued_at=now,
                issued_by=actor,
                planned_dispatch=row,
            )
            for row in rows
        ]
    )
    for row, task in zip(rows, tasks, strict=True):
        row.task_id = task.pk
    type(rows[0]).objects.bulk_update(rows, ["task_id"])
    event = audit_record(
        actor=actor,
        action="task.dispatch",
        target=incident,
        target_repr=str(activation),
        after={"tasks": [t.pk for t in tasks], "activation": activation.pk},
    )
    TaskEvent.objects.bulk_create(
        [
            TaskEvent(
                task=t,
                kind=TaskEventKind.ISSUED,
                at=now,
                department=t.department,
                actor_name=event.actor_name,
                ledger_seq=event.seq,
            )
            for t in tasks
        ]
    )
    _notify_issued(tasks)
    return tasks


def _notify_issued(tasks: list[Task]) -> None:
    notify_bulk(
        [
            message_for(
                department=t.department_id,
                kind="task.issued",
                title=_("New task: %(title)s") % {"title": t.title},
                key=f"task.issued:{t.pk}",
                target=t,
                link=_task_link(t),
            )
            for t in tasks
        ]
    )


# --- the accountable department -------------------------------------------------------------------


@transaction.atomic
def task_accept(*, actor, task: Task) -> Task:
    """The accountable department takes on an issued task. A declined or disputed task is no longer
    the department's to accept: the issuer (re-assign, overrule) or the information office decides."""
    authorize(actor, "respond", task)
    task = _lock(task, actor, "respond")
    _ensure_no_pending_transfer(task)
    if task.status != TaskStatus.ISSUED:
        raise ServiceError(_("Only an issued task can be accepted."), code="invalid_transition")
    before = _move(task, TaskStatus.ACCEPTED, "accept")
    task.accepted_at = timezone.now()
    task.save(update_fields=["status", "accepted_at"])
    _record(task, actor=actor, kind=TaskEventKind.ACCEPTED, action="task.accept", before=before)
    return task


@transaction.atomic
def task_decline(*, actor, task: Task, reason: str) -> Task:
    """Decline with a reason; the issuer must re-assign or overrule. The department stays accountable."""
    authorize(actor, "respond", task)
    if not reason.strip():
        raise ServiceError(_("A reason is required to decline a task."), field="reason")
    task = _lock(task, actor, "respond")
    before = _move(task, TaskStatus.DECLINED, "decline")
    task.decline_reason = reason
    task.awaiting_answer_since, task.answer_reminded_at = timezone.now(), None
    task.save(update_fields=["status", "decline_reason", "awaiting_answer_since", "answer_reminded_at"])
    _record(task, actor=actor, kind=TaskEventKind.DECLINED, action="task.decline", note=reason, before=before)
    notify(
        departments=[task.issuer_department],
        kind="task.declined",
        title=_("Task declined by %(dept)s: %(title)s") % {"dept": task.department.name, "title": task.title},
        body=reason,
        link=_task_link(task),
        target=task,
        key=f"task.declined:{task.pk}:{task.events.count()}",
    )
    return task


@transaction.atomic
def task_request_transfer(*, actor, task: Task, to_department: Department, reason: str) -> Task:
    """Ask `to_department` to take the task over. Until it accepts, this department stays accountable."""
    authorize(actor, "respond", task)
    if not reason.strip():
        raise ServiceError(_("A reason is required to request a transfer."), field="reason")
    task = _lock(task, actor, "respond")
    if to_department.pk == task.department_id:
        raise ServiceError(_("Choose another department."), field="to_department")
    if not to_department.is_active:
        raise ServiceError(_("That department is not active."), field="to_department")
    if not Department.objects.restrict(actor, "view").filter(pk=to_department.pk).exists():
        raise ServiceError(
            _("You cannot reach that department."), field="to_department", code="department_out_of_reach"
        )
    previous = task.status
    before = _move(task, TaskStatus.TRANSFER_REQUESTED, "transfer_request")
    task.status_before_transfer, task.transfer_to, task.transfer_reason = previous, to_department, reason
    task.awaiting_answer_since, task.answer_reminded_at = timezone.now(), None
    task.save(
        update_fields=[
            "status",
            "status_before_transfer",
            "transfer_to",
            "transfer_reason",
            "awaiting_answer_since",
            "answer_reminded_at",
        ]
    )
    _record(
        task,
        actor=actor,
        kind=TaskEventKind.TRANSFER_REQUESTED,
        action="task.transfer_request",
        note=reason,
        other=to_department,
        before=before,
    )
    notify(
        departments=[to_department],
        kind="task.transfer_requested",
        title=_("%(dept)s asks you to take over: %(title)s") % {"dept": task.department.name, "title": task.title},
        body=reason,
        link=_task_link(task),
        target=task,
        key=f"task.transfer:{task.pk}:{task.events.count()}",
        audience_role=Role.HEAD,
    )
    return task


@transaction.atomic
def task_transfer_accept(*, actor, task: Task) -> Task:
    """The named department takes over and is accountable from now on; the deadline is unchanged."""
    authorize(actor, "take_transfer", task)
    task = _lock(task, actor, "take_transfer")
    _ensure_transfer_pending(task)
    before = _move(task, TaskStatus.ACCEPTED, "transfer_accept")
    previous = task.department
    task.department, task.transfer_to, task.status_before_transfer = task.transfer_to, None, ""
    task.accepted_at = timezone.now()
    task.reminded_at = task.escalated_head_at = None  # the new department's own ladder; the deadline stays
    task.save(
        update_fields=[
            "status",
            "department",
            "transfer_to",
            "status_before_transfer",
            "accepted_at",
            "reminded_at",
            "escalated_head_at",
        ]
    )
    task.department = Department.objects.select_related("region").get(pk=task.department_id)
    _record(
        task,
        actor=actor,
        kind=TaskEventKind.TRANSFER_ACCEPTED,
        action="task.transfer_accept",
        other=previous,
        before=before,
    )
    return task


@transaction.atomic
def task_transfer_refuse(*, actor, task: Task, reason: str) -> Task:
    authorize(actor, "take_transfer", task)
    if not reason.strip():
        raise ServiceError(_("A reason is required to refuse a transfer."), field="reason")
    task = _lock(task, actor, "take_transfer")
    _ensure_transfer_pending(task)
    refused_by = task.transfer_to
    before = _move(task, task.status_before_transfer or TaskStatus.ISSUED, "transfer_refuse")
    task.transfer_to, task.status_before_transfer = None, ""
    task.save(update_fields=["status", "transfer_to", "status_before_transfer"])
    _record(
        task,
        actor=actor,
        kind=TaskEventKind.TRANSFER_REFUSED,
        action="task.transfer_refuse",
        note=reason,
        other=refused_by,
        before=before,
    )
    return task


@transaction.atomic
def task_start(*, actor, task: Task) -> Task:
    authorize(actor, "work", task)
    task = _lock(task, actor, "work")
    _ensure_no_pending_transfer(task)
    before = _move(task, TaskStatus.IN_PROGRESS, "start")
    task.save(update_fields=["status"])
    _record(task, actor=actor, kind=TaskEventKind.STARTED, action="task.start", before=before)
    return task


@transaction.atomic
def task_progress(*, actor, task: Task, body: str) -> TaskComment:
    authorize(actor, "work", task)
    if not body.strip():
        raise ServiceError(_("Write the progress update."), field="body")
    task = _lock(task, actor, "work")
    if task.status not in (TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS):
        raise ServiceError(_("Progress can only be reported on an accepted task."), code="invalid_transition")
    comment = TaskComment.objects.create(
        task=task, author=actor, department=task.department, body=body, is_progress=True
    )
    _record(task, actor=actor, kind=TaskEventKind.PROGRESS, action="task.progress", note=body[:500])
    return comment


@transaction.atomic
def task_comment(*, actor, task: Task, body: str) -> TaskComment:
    """A comment by the issuer or the accountable department (both see the task)."""
    authorize(actor, "view", task)
    if not body.strip():
        raise ServiceError(_("Write a comment."), field="body")
    principal = principal_for(actor)
    mine = principal.department_ids()
    department_id = next(
        (d for d in (task.department_id, task.issuer_department_id, task.transfer_to_id) if d in mine), None
    )
    if department_id is None and not principal.is_superuser:
        office = task.issuer_group.seat_of(LeadingGroupRole.INFORMATION_OFFICE) if task.issuer_group_id else None
        department_id = office.department_id if office and office.department_id in mine else None
    if department_id is None:
        department_id = task.issuer_department_id
    comment = TaskComment.objects.create(task=task, author=actor, department_id=department_id, body=body)
    audit_record(actor=actor, action="task.comment", target=task, after={"comment": comment.pk})
    return comment


@transaction.atomic
def task_complete(*, actor, task: Task, result: str, evidence: str = "") -> Task:
    """The accountable department reports the result with its evidence: files attached to the task
    as evidence by the department, or a statement of what proves the result (or both). The ledger
    event names both, so the issuer's verification and any later review see what was offered."""
    authorize(actor, "work", task)
    if not result.strip():
        raise ServiceError(_("Describe the result."), field="result")
    task = _lock(task, actor, "work")
    _ensure_action(task, "complete")
    evidence_files = list(
        task.attachments.filter(is_evidence=True, department_id=task.department_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not evidence.strip() and not evidence_files:
        raise ServiceError(
            _(
                "Give the evidence: attach it to the task as evidence, "
                "or say what proves the result and where it is kept."
            ),
            field="evidence",
            code="evidence_required",
        )
    before = _move(task, TaskStatus.COMPLETED, "complete")
    task.result, task.evidence, task.completed_at = result, evidence, timezone.now()
    task.save(update_fields=["status", "result", "evidence", "completed_at"])
    _record(
        task,
        actor=actor,
        kind=TaskEventKind.COMPLETED,
        action="task.complete",
        note=result[:500],
        before=before,
        extra={"evidence": evidence[:500], "evidence_attachments": evidence_files},
    )
    notify(
        departments=[task.issuer_department],
        kind="task.completed",
        title=_("Task completed by %(dept)s: %(title)s") % {"dept": task.department.name, "title": task.title},
        link=_task_link(task),
        target=task,
        key=f"task.completed:{task.pk}:{task.events.count()}",
    )
    return task


# --- the issuer -----------------------------------------------------------------------------------


@transaction.atomic
def task_verify(*, actor, task: Task) -> Task:
    authorize(actor, "control", task)
    task = _lock(task, actor, "control")
    before = _move(task, TaskStatus.VERIFIED, "verify")
    task.verified_at = timezone.now()
    task.save(update_fields=["status", "verified_at"])
    _record(task, actor=actor, kind=TaskEventKind.VERIFIED, action="task.verify", before=before)
    return task


@transaction.atomic
def task_return(*, actor, task: Task, reason: str) -> Task:
    """The issuer sends a completed task back for more work."""
    authorize(actor, "control", task)
    if not reason.strip():
        raise ServiceError(_("Say what is missing."), field="reason")
    task = _lock(task, actor, "control")
    before = _move(task, TaskStatus.IN_PROGRESS, "return")
    task.completed_at = None
    task.save(update_fields=["status", "completed_at"])
    _record(task, actor=actor, kind=TaskEventKind.RETURNED, action="task.return", note=reason, before=before)
    return task


@transaction.atomic
def task_reassign(*, actor, task: Task, department: Department, note: str = "") -> Task:
    """After a decline the issuer names another department; the deadline does not restart."""
    authorize(actor, "control", task)
    task = _lock(task, actor, "control")
    _ensure_action(task, "reassign")
    allowed = issue_targets_q(
        actor=actor, issuer_department=task.issuer_department, issuer_group=task.issuer_group, incident=task.incident
    )
    if not Department.objects.filter(allowed, pk=department.pk, is_active=True).exists():
        raise ServiceError(_("You cannot task that department."), field="department", code="department_out_of_reach")
    if department.pk == task.department_id:
        raise ServiceError(_("Choose another department, or overrule the decline."), field="department")
    previous = task.department
    before = _move(task, TaskStatus.ISSUED, "reassign")
    task.department, task.decline_reason, task.accepted_at = department, "", None
    task.reminded_at = task.escalated_head_at = None
    task.save(
        update_fields=["status", "department", "decline_reason", "accepted_at", "reminded_at", "escalated_head_at"]
    )
    task.department = Department.objects.select_related("region").get(pk=department.pk)
    _record(
        task,
        actor=actor,
        kind=TaskEventKind.REASSIGNED,
        action="task.reassign",
        note=note,
        other=previous,
        before=before,
    )
    notify(
        departments=[department],
        kind="task.issued",
        title=_("New task: %(title)s") % {"title": task.title},
        link=_task_link(task),
        target=task,
        key=f"task.issued:{task.pk}:{department.pk}",
    )
    return task


@transaction.atomic
def task_overrule(*, actor, task: Task, note: str) -> Task:
    """The issuer rejects the decline: the department must do the task (it may dispute)."""
    authorize(actor, "control", task)
    if not note.strip():
        raise ServiceError(_("Explain why the decline is overruled."), field="note")
    task = _lock(task, actor, "control")
    before = _move(task, TaskStatus.ACCEPTED, "overrule")
    task.accepted_at = timezone.now()
    task.save(update_fields=["status", "accepted_at"])
    _record(task, actor=actor, kind=TaskEventKind.OVERRULED, action="task.overrule", note=note, before=before)
    notify(
        departments=[task.department],
        kind="task.overruled",
        title=_("Your decline was overruled: %(title)s") % {"title": task.title},
        body=note,
        link=_task_link(task),
        target=task,
        key=f"task.overruled:{task.pk}:{task.events.count()}",
        audience_role=Role.HEAD,
    )
    return task


@transaction.atomic
def task_cancel(*, actor, task: Task, reason: str) -> Task:
    authorize(actor, "control", task)
    if not reason.strip():
        raise ServiceError(_("A reason is required to cancel a task."), field="reason")
    task = _lock(task, actor, "control")
    before = _move(task, TaskStatus.CANCELLED, "cancel")
    task.transfer_to = None
    task.save(update_fields=["status", "transfer_to"])
    _record(task, actor=actor, kind=TaskEventKind.CANCELLED, action="task.cancel", note=reason, before=before)
    return task


# --- disputes -------------------------------------------------------------------------------------


def _ruling_office(task: Task):
    group = task.issuer_group or (task.incident.leading_group if task.incident_id else None)
    return group.seat_of(LeadingGroupRole.INFORMATION_OFFICE) if group else None


@transaction.atomic
def task_dispute(*, actor, task: Task, reason: str) -> Task:
    """The accountable department (or the issuer) takes the disagreement to the information office."""
    authorize_any(actor, ("respond", "control"), task)
    if not reason.strip():
        raise ServiceError(_("A reason is required to dispute a task."), field="reason")
    task = _lock(task, actor, "respond", "control")
    office = _ruling_office(task)
    if office is None:
        raise ServiceError(_("No leading group's information office can rule on this task."), code="no_office")
    before = _move(task, TaskStatus.DISPUTED, "dispute")
    task.dispute_reason = reason
    task.save(update_fields=["status", "dispute_reason"])
    _record(task, actor=actor, kind=TaskEventKind.DISPUTED, action="task.dispute", note=reason, before=before)
    notify(
        departments=[office.department],
        kind="task.disputed",
        title=_("A task needs your ruling: %(title)s") % {"title": task.title},
        body=reason,
        link=_task_link(task),
        target=task,
        key=f"task.disputed:{task.pk}:{task.events.count()}",
    )
    return task


@transaction.atomic
def task_rule(*, actor, task: Task, department: Department | None, note: str) -> Task:
    """The information office rules: `department` must do the task (accepted), or None cancels it."""
    authorize(actor, "rule", task)
    if not note.strip():
        raise ServiceError(_("Give the grounds of the ruling."), field="note")
    task = _lock(task, actor, "rule")
    if task.status != TaskStatus.DISPUTED:
        raise ServiceError(_("Only a disputed task can be ruled on."), code="invalid_transition", field="status")
    if department is not None:
        office = _ruling_office(task)
        allowed = issue_targets_q(
            actor=actor,
            issuer_department=office.department,
            issuer_group=task.issuer_group or task.incident.leading_group,
        )
        if not Department.objects.filter(allowed, pk=department.pk, is_active=True).exists():
            raise ServiceError(
                _("You cannot task that department."), field="department", code="department_out_of_reach"
            )
    previous = task.department
    if department is None:
        before = _move(task, TaskStatus.CANCELLED, "rule")
        task.transfer_to = None
        task.save(update_fields=["status", "transfer_to"])
    else:
        before = _move(task, TaskStatus.ACCEPTED, "rule")
        task.department, task.transfer_to, task.accepted_at = department, None, timezone.now()
        task.save(update_fields=["status", "department", "transfer_to", "accepted_at"])
        task.department = Department.objects.select_related("region").get(pk=department.pk)
    _record(task, actor=actor, kind=TaskEventKind.RULED, action="task.rule", note=note, other=previous, before=before)
    notify(
        departments={previous.pk: previous, task.department.pk: task.department}.values(),
        kind="task.ruled",
        title=_("Ruling on: %(title)s") % {"title": task.title},
        body=note,
        link=_task_link(task),
        target=task,
        key=f"task.ruled:{task.pk}:{task.events.count()}",
    )
    return task


# --- escalation (beat job) ----------------------------------------------------------------------


STEP_FIELDS = {
    TaskEventKind.REMINDED: "reminded_at",
    TaskEventKind.ANSWER_REMINDED: "answer_reminded_at",
    TaskEventKind.ESCALATED_HEAD: "escalated_head_at",
    TaskEventKind.ESCALATED_GROUP: "escalated_group_at",
}


def tasks_escalate(*, now: datetime | None = None) -> dict[str, int]:
    """Remind unacknowledged tasks, escalate overdue ones to the department head, then to the
    issuing leading group. Each step once per task (claimed by a conditional UPDATE), so re-runs
    and duplicate deliveries of the beat job change nothing."""
    now = now or timezone.now()
    counts = dict.fromkeys(STEP_FIELDS, 0)
    candidates = (
        Task.objects.filter(
            status__in=[
                TaskStatus.ISSUED,
                TaskStatus.ACCEPTED,
                TaskStatus.IN_PROGRESS,
                TaskStatus.DECLINED,
                TaskStatus.TRANSFER_REQUESTED,
                TaskStatus.DISPUTED,
            ]
        )
        .filter(_due_q(now))
        .select_related(
            "department__region", "issuer_department", "transfer_to", "issuer_group", "incident__leading_group"
        )
    )
    for task in candidates.iterator(chunk_size=500):
        due = {
            TaskEventKind.REMINDED: task.issued_at + _minutes(ACK_REMINDER_MINUTES[task.priority])
            if task.status == TaskStatus.ISSUED
            else None,
            TaskEventKind.ANSWER_REMINDED: task.awaiting_answer_since + _minutes(ACK_REMINDER_MINUTES[task.priority])
            if task.status in AWAITING_ANSWER and task.awaiting_answer_since
            else None,
            TaskEventKind.ESCALATED_HEAD: task.deadline,
            TaskEventKind.ESCALATED_GROUP: task.deadline + _minutes(ESCALATE_GROUP_AFTER_MINUTES[task.priority]),
        }
        for step, at in due.items():
            if at is not None and now >= at and task_escalation_step(task=task, step=step, now=now):
                counts[step] += 1
    return counts


# statuses in which someone other than the accountable department must answer
AWAITING_ANSWER = (TaskStatus.TRANSFER_REQUESTED, TaskStatus.DECLINED)


def _due_q(now: datetime) -> Q:
    """Only tasks with a step due now, in SQL (a quiet beat run reads no rows)."""
    q = Q(deadline__lte=now, escalated_head_at__isnull=True)
    for priority in Priority.values:
        q |= Q(
            priority=priority,
            status=TaskStatus.ISSUED,
            reminded_at__isnull=True,
            issued_at__lte=now - _minutes(ACK_REMINDER_MINUTES[priority]),
        )
        q |= Q(
            priority=priority,
            status__in=AWAITING_ANSWER,
            answer_reminded_at__isnull=True,
            awaiting_answer_since__lte=now - _minutes(ACK_REMINDER_MINUTES[priority]),
        )
        q |= Q(
            priority=priority,
            escalated_group_at__isnull=True,
            deadline__lte=now - _minutes(ESCALATE_GROUP_AFTER_MINUTES[priority]),
        )
    return q


def _minutes(n: int):
    from datetime import timedelta

    return timedelta(minutes=n)


@transaction.atomic
def task_escalation_step(*, task: Task, step: str, now: datetime) -> bool:
    field = STEP_FIELDS[step]
    # a reminder asks for acknowledgement: only while still issued (it may have been accepted since
    # the beat job read its candidates); escalations apply to every open task
    statuses = {
        TaskEventKind.REMINDED: [TaskStatus.ISSUED],
        TaskEventKind.ANSWER_REMINDED: [task.status] if task.status in AWAITING_ANSWER else [],
    }.get(step, list(OPEN_STATUSES))
    # the department too: a transfer or re-assignment accepted since the candidates were read makes
    # the step the new department's (its ladder was reset), and the next run takes it for that one;
    # an answer reminder is for the request that was read (a new request starts its own wait)
    same_wait = {"awaiting_answer_since": task.awaiting_answer_since} if step == TaskEventKind.ANSWER_REMINDED else {}
    claimed = Task.objects.filter(
        pk=task.pk, department_id=task.department_id, status__in=statuses, **same_wait, **{f"{field}__isnull": True}
    ).update(**{field: now})
    if not claimed:
        return False
    args = {
        "title": task.title,
        "dept": task.department.name,
        "deadline": timezone.localtime(task.deadline).strftime("%Y-%m-%d %H:%M"),
    }
    if step == TaskEventKind.REMINDED:
        recipients, role, title = [task.department], "", _("Please acknowledge the task: %(title)s") % args
    elif step == TaskEventKind.ANSWER_REMINDED and task.status == TaskStatus.TRANSFER_REQUESTED:
        recipients, role = [task.transfer_to], Role.HEAD
        title = _("%(dept)s is waiting for your answer to its transfer request: %(title)s") % args
    elif step == TaskEventKind.ANSWER_REMINDED:
        office = _ruling_office(task) if task.issuer_group_id else None
        recipients, role = ([office.department] if office else [task.issuer_department]), Role.HEAD
        title = _("%(dept)s declined a task; re-assign it or overrule the decline: %(title)s") % args
    elif step == TaskEventKind.ESCALATED_HEAD:
        recipients, role = [task.department], Role.HEAD
        title = _("Overdue task (deadline %(deadline)s): %(title)s") % args
    else:
        office = _ruling_office(task)
        recipients, role = ([office.department] if office else [task.issuer_department]), ""
        title = _("%(dept)s is overdue on: %(title)s (deadline %(deadline)s)") % args
    notify(
        departments=recipients,
        kind=f"task.{step}",
        title=title,
        link=_task_link(task),
        target=task,
        key=f"task.{step}:{task.pk}:{task.department_id}"
        + (f":{task.awaiting_answer_since:%Y%m%d%H%M%S%f}" if step == TaskEventKind.ANSWER_REMINDED else ""),
        audience_role=role,
    )
    event = audit_record(
        actor=None,
        action=f"task.{step}",
        target=task,
        region=task.department.region,
        after={"department": task.department_id, "recipients": sorted(d.pk for d in recipients)},
    )
    TaskEvent.objects.create(task=task, kind=step, at=now, department=task.department, ledger_seq=event.seq)
    return True
