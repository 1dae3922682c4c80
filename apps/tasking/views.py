"""Portal pages for tasks: the department's inbox, the issuer's board, the task page with its
history and the actions the caller may take, the dispatch form and the scorecard.

The same shape as the incident pages: every write is a POST that finds its task through the list
selector (out of scope: 404), refuses a caller who may not act before it reads the form (403,
whatever they post), calls one service and redirects with a message (post/redirect/get). A form
with errors is rendered again with the messages on their fields, answering 400 (409 for a
conflict); a button without fields redirects back with the service's message instead.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.generic import TemplateView

from apps.core.csv import csv_cell, csv_writer
from apps.core.exceptions import ServiceError
from apps.core.scoping import authorize_any
from apps.core.views import (
    INVALID,
    ObjectActionMixin,
    ScopedDetailView,
    ScopedListView,
    ScopedViewMixin,
    attach_error,
    hidden_lookup,
)
from apps.organizations import selectors as org_selectors
from apps.organizations.models import Department, LeadingGroup

from . import selectors, services
from .attachments import task_attachments
from .choices import ACTION_STATUSES, OPEN_STATUSES, TaskEventKind, TaskStatus
from .filters import TaskFilter
from .forms import (
    DEPARTMENT_ISSUER,
    ScorecardPeriodForm,
    TaskCancelForm,
    TaskCommentForm,
    TaskCompleteForm,
    TaskDeclineForm,
    TaskDispatchForm,
    TaskDisputeForm,
    TaskOverruleForm,
    TaskProgressForm,
    TaskReassignForm,
    TaskReturnForm,
    TaskRuleForm,
    TaskTransferRefuseForm,
    TaskTransferRequestForm,
    may_dispatch,
    office_department_id,
    parse_issuer,
    style_task_filter,
)

S = TaskStatus
# Tiles and board groups: what needs someone's attention first.
STATUS_ORDER = [
    S.ISSUED,
    S.TRANSFER_REQUESTED,
    S.DECLINED,
    S.DISPUTED,
    S.ACCEPTED,
    S.IN_PROGRESS,
    S.COMPLETED,
    S.VERIFIED,
    S.CANCELLED,
]
OPEN = frozenset(OPEN_STATUSES)

# Each action on the task page: the permissions that allow it (any of them, checked through
# `selectors.task_can` for the page and `authorize` for the POST) and the statuses in which the
# page offers it (`ACTION_STATUSES`, which the service checks again under the row lock).
PERMISSIONS_FOR_ACTION: dict[str, tuple[str, ...]] = {
    "accept": ("respond",),
    "decline": ("respond",),
    "transfer_request": ("respond",),
    "transfer_accept": ("take_transfer",),
    "transfer_refuse": ("take_transfer",),
    "start": ("work",),
    "progress": ("work",),
    "complete": ("work",),
    "verify": ("control",),
    "return": ("control",),
    "reassign": ("control",),
    "overrule": ("control",),
    "cancel": ("control",),
    "dispute": ("respond", "control"),
    "rule": ("rule",),
    "comment": ("view",),  # the issuer and the accountable department talk
}
ACTIONS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    name: (permissions, ACTION_STATUSES[name]) for name, permissions in PERMISSIONS_FOR_ACTION.items()
}
# History entries in which `other_department` is the department the task came from.
FROM_TO_KINDS = [TaskEventKind.REASSIGNED, TaskEventKind.TRANSFER_ACCEPTED, TaskEventKind.RULED]
PERMISSIONS = ("respond", "work", "take_transfer", "control", "rule")
FORMS = {
    form.name: form
    for form in (
        TaskDeclineForm,
        TaskTransferRequestForm,
        TaskTransferRefuseForm,
        TaskProgressForm,
        TaskCompleteForm,
        TaskReturnForm,
        TaskReassignForm,
        TaskOverruleForm,
        TaskCancelForm,
        TaskDisputeForm,
        TaskRuleForm,
        TaskCommentForm,
    )
}


def is_overdue(task, now) -> bool:
    return task.status in OPEN and task.deadline < now


def has_ruling_office(task) -> bool:
    """Someone can rule on a dispute: the issuing leading group or the incident's (the service
    names the office; this only keeps a button off the page that could never succeed)."""
    return bool(task.issuer_group_id or (task.incident_id and task.incident.leading_group_id))


# --- lists ---------------------------------------------------------------------------------------


class TaskListView(ScopedListView):
    """A task list with the shared TaskFilter and the counts by state of the unfiltered list."""

    filterset_class = TaskFilter
    paginate_by = 25  # like the incident list: a screenful on a phone, and half the rendering per page

    def get_filterset(self, filterset_class):
        filterset = super().get_filterset(filterset_class)
        style_task_filter(filterset.form, tasks=filterset.queryset)
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        counts = selectors.task_counts(self.filterset.queryset)
        active = self.request.GET.get("status", "")
        context |= {
            "tiles": [(s.value, s.label, counts[s.value], active == s.value) for s in STATUS_ORDER],
            "overdue_count": counts["overdue"],
            "overdue_active": self.request.GET.get("overdue", "") in ("true", "True", "1", "2"),
            "now": timezone.now(),
            "open_statuses": list(OPEN),
            "may_dispatch": may_dispatch(self.request.user),
        }
        return context


class TaskInboxView(TaskListView):
    """Tasks my departments are accountable for or are asked to take over."""

    list_selector = selectors.task_inbox
    template_name = "tasking/task_inbox.html"


class TaskBoardView(TaskListView):
    """Tasks my departments or my leading groups issued, across departments, grouped by state."""

    list_selector = selectors.task_board
    template_name = "tasking/task_board.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        order = {s: i for i, s in enumerate(STATUS_ORDER)}
        rows = sorted(context["object_list"], key=lambda t: (order.get(t.status, 99), t.deadline, t.pk))
        groups: list[tuple[str, str, list]] = []
        for task in rows:
            if not groups or groups[-1][0] != task.status:
                groups.append((task.status, task.get_status_display(), []))
            groups[-1][2].append(task)
        context["groups"] = groups
        return context


# --- one task ------------------------------------------------------------------------------------


class TaskDetailView(ScopedDetailView):
    """Facts, instructions, history, comments and attachments; the forms of the actions the
    caller may take in the task's current state, and only those."""

    list_selector = selectors.task_list
    template_name = "tasking/task_detail.html"
    context_object_name = "task"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, task = self.request.user, self.object
        can = {p: selectors.task_can(user=user, task=task, action=p) for p in PERMISSIONS} | {"view": True}
        offered = {
            name
            for name, (perms, statuses) in ACTIONS.items()
            if task.status in statuses and any(can[p] for p in perms)
        }
        if not has_ruling_office(task):
            offered.discard("dispute")
        bound = {name: kwargs[f"{name}_form"] for name in FORMS if kwargs.get(f"{name}_form") is not None}
        offered |= set(bound)  # a refused form stays on the page with its errors
        now = timezone.now()
        context |= {
            "events": selectors.task_events(task=task),
            "comments": selectors.task_comments(task=task),
            "attachments": task_attachments(task=task),
            "offered": offered,
            "forms": {
                name: bound.get(name) or form_class(user=user, task=task)
                for name, form_class in FORMS.items()
                if name in offered
            },
            "has_actions": bool(offered - {"comment"}),
            "from_to_kinds": FROM_TO_KINDS,
            "now": now,
            "overdue": is_overdue(task, now),
        }
        return context


class TaskActionView(ObjectActionMixin, TaskDetailView):
    """A POST on one task. The form of the same name in FORMS, if any, is read after the check."""

    action = ""
    success_message = gettext_lazy("Saved.")

    def check(self) -> None:
        """403 (visible) or 404 before the form is read; any of the action's permissions will do."""
        authorize_any(self.request.user, ACTIONS[self.action][0], self.object)

    def make_form(self):
        form_class = FORMS.get(self.action)
        return form_class(self.request.POST, user=self.request.user, task=self.object) if form_class else None

    def invalid(self, form, status: int):
        return self.render_to_response(self.get_context_data(**{f"{self.action}_form": form}), status=status)

    def detail_url(self):
        return reverse("portal:task-detail", kwargs={"pk": self.object.pk})

    def done_url(self):
        if selectors.task_can(user=self.request.user, task=self.object, action="view"):
            return self.detail_url()
        return reverse("portal:task-inbox")  # e.g. a refused transfer: the task is no longer ours


class TaskAcceptView(TaskActionView):
    action = "accept"
    success_message = gettext_lazy("Task accepted: your department is accountable for it.")

    def perform(self, form):
        services.task_accept(actor=self.request.user, task=self.object)


class TaskDeclineView(TaskActionView):
    action = "decline"
    success_message = gettext_lazy("Task declined. The issuer re-assigns it or overrules the decline.")

    def perform(self, form):
        services.task_decline(actor=self.request.user, task=self.object, reason=form.cleaned_data["reason"])


class TaskTransferRequestView(TaskActionView):
    action = "transfer_request"
    success_message = gettext_lazy("Transfer requested. Your department stays accountable until it is accepted.")

    def perform(self, form):
        services.task_request_transfer(
            actor=self.request.user,
            task=self.object,
            to_department=form.cleaned_data["to_department"],
            reason=form.cleaned_data["reason"],
        )


class TaskTransferAcceptView(TaskActionView):
    action = "transfer_accept"
    success_message = gettext_lazy("Transfer accepted: your department is now accountable for the task.")

    def perform(self, form):
        services.task_transfer_accept(actor=self.request.user, task=self.object)


class TaskTransferRefuseView(TaskActionView):
    action = "transfer_refuse"
    success_message = gettext_lazy("Transfer refused. The task stays with the department that asked.")

    def perform(self, form):
        services.task_transfer_refuse(actor=self.request.user, task=self.object, reason=form.cleaned_data["reason"])


class TaskStartView(TaskActionView):
    action = "start"
    success_message = gettext_lazy("Work on the task started.")

    def perform(self, form):
        services.task_start(actor=self.request.user, task=self.object)


class TaskProgressView(TaskActionView):
    action = "progress"
    success_message = gettext_lazy("Progress update recorded.")

    def perform(self, form):
        services.task_progress(actor=self.request.user, task=self.object, body=form.cleaned_data["body"])


class TaskCompleteView(TaskActionView):
    action = "complete"
    success_message = gettext_lazy("Task completed. The issuer verifies the result.")

    def perform(self, form):
        services.task_complete(
            actor=self.request.user,
            task=self.object,
            result=form.cleaned_data["result"],
            evidence=form.cleaned_data["evidence"],
        )


class TaskVerifyView(TaskActionView):
    action = "verify"
    success_message = gettext_lazy("Result verified; the task is done.")

    def perform(self, form):
        services.task_verify(actor=self.request.user, task=self.object)


class TaskReturnView(TaskActionView):
    action = "return"
    success_message = gettext_lazy("Task sent back for more work.")

    def perform(self, form):
        services.task_return(actor=self.request.user, task=self.object, reason=form.cleaned_data["reason"])


class TaskReassignView(TaskActionView):
    action = "reassign"
    success_message = gettext_lazy("Task re-assigned. The deadline is unchanged.")

    def perform(self, form):
        services.task_reassign(
            actor=self.request.user,
            task=self.object,
            department=form.cleaned_data["department"],
            note=form.cleaned_data["note"],
        )


class TaskOverruleView(TaskActionView):
    action = "overrule"
    success_message = gettext_lazy("Decline overruled: the department must do the task.")

    def perform(self, form):
        services.task_overrule(actor=self.request.user, task=self.object, note=form.cleaned_data["note"])


class TaskCancelView(TaskActionView):
    action = "cancel"
    success_message = gettext_lazy("Task cancelled.")

    def perform(self, form):
        services.task_cancel(actor=self.request.user, task=self.object, reason=form.cleaned_data["reason"])


class TaskDisputeView(TaskActionView):
    action = "dispute"
    success_message = gettext_lazy("Dispute sent to the information office for a ruling.")

    def perform(self, form):
        services.task_dispute(actor=self.request.user, task=self.object, reason=form.cleaned_data["reason"])


class TaskRuleView(TaskActionView):
    action = "rule"
    success_message = gettext_lazy("Ruling recorded.")

    def perform(self, form):
        services.task_rule(
            actor=self.request.user,
            task=self.object,
            department=form.cleaned_data["department"],
            note=form.cleaned_data["note"],
        )


class TaskCommentView(TaskActionView):
    action = "comment"
    success_message = gettext_lazy("Comment added.")

    def perform(self, form):
        services.task_comment(actor=self.request.user, task=self.object, body=form.cleaned_data["body"])


# --- dispatch ------------------------------------------------------------------------------------


class TaskCreateView(ScopedViewMixin, TemplateView):
    """Dispatch a task to one or more departments.

    The issuer a POST names is looked up among what the caller sees (unseen: 404, recorded like
    any probe) and checked with the service's own issuer rule before the rest of the form is read
    (visible but not theirs to issue for: 403). The hidden idempotency key goes to the dispatch
    service: a double click or a reload lands on the first dispatch's tasks instead of a second set.
    """

    list_selector = org_selectors.department_list
    template_name = "tasking/task_form.html"

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=TaskDispatchForm(user=request.user)))

    def check_issuer(self) -> None:
        parsed = parse_issuer(self.request.POST.get("issuer", ""))
        if parsed is None:
            return  # missing or malformed: the form says so
        kind, pk = parsed
        user = self.request.user
        if kind == DEPARTMENT_ISSUER:
            try:
                department = org_selectors.department_get(user=user, pk=pk)
            except Department.DoesNotExist:
                hidden_lookup(self.request, Department, "pk", pk)
                raise Http404 from None
            services.issue_targets_q(actor=user, issuer_department=department, issuer_group=None)
            return
        group = org_selectors.leading_group_list(user=user).filter(pk=pk).first()
        if group is None:
            hidden_lookup(self.request, LeadingGroup, "pk", pk)
            raise Http404
        office = Department(pk=office_department_id(group))  # the group issues from its information office
        try:
            services.issue_targets_q(actor=user, issuer_department=office, issuer_group=group)
        except ServiceError:
            return  # a group without an office: not among the form's choices, so the form says so

    @staticmethod
    def result(task_ids: list[int]):
        if len(task_ids) == 1:
            return redirect("portal:task-detail", pk=task_ids[0])
        return redirect("portal:task-board")

    def post(self, request, *args, **kwargs):
        self.check_issuer()
        form = TaskDispatchForm(request.POST, user=request.user)
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            issuer_department, issuer_group = data["issuer"]
            try:
                tasks = services.task_dispatch(
                    actor=request.user,
                    issuer_department=issuer_department,
                    issuer_group=issuer_group,
                    departments=list(data["departments"]),
                    title=data["title"],
                    instructions=data["instructions"],
                    priority=data["priority"],
                    deadline=data["deadline"],
                    incident=data["incident"],
                    idempotency_key=data["idempotency_key"],
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
            else:
                ids = [t.pk for t in tasks]
                issued = ngettext(
                    "Task “%(title)s” issued to %(n)d department.",
                    "Task “%(title)s” issued to %(n)d departments.",
                    len(ids),
                )
                messages.success(request, issued % {"title": data["title"], "n": len(ids)})
                return self.result(ids)
        return self.render_to_response(self.get_context_data(form=form), status=status)


# --- scorecard -----------------------------------------------------------------------------------


def _percent(rate) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def _minutes(value) -> str:
    return "" if value is None else f"{value:g}"


class ScorecardView(ScopedViewMixin, TemplateView):
    """Per-department evidence over a period (whole days, Beijing time), ranked: lowest overdue
    rate first, then fastest acceptance. Anyone logged in may open it; the rows cover only the
    tasks the caller can see (the selector reads through `task_list`)."""

    list_selector = selectors.task_list
    template_name = "tasking/scorecard.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {"may_dispatch": may_dispatch(self.request.user)}

    def period_form(self) -> ScorecardPeriodForm:
        if "start" in self.request.GET or "end" in self.request.GET:
            return ScorecardPeriodForm(self.request.GET)
        start, end = ScorecardPeriodForm.default_period()
        return ScorecardPeriodForm({"start": start.isoformat(), "end": end.isoformat()})

    def rows(self, form) -> list[dict]:
        start, end = form.bounds()
        scores = selectors.scorecard(user=self.request.user, start=start, end=end)
        prefetch_related_objects([row.department for row in scores], "region")  # one query, not one per row
        return [
            {
                "rank": rank,
                "row": row,
                "overdue_percent": _percent(row.overdue_rate),
                "accept": _minutes(row.median_accept_minutes),
                "complete": _minutes(row.median_completion_minutes),
            }
            for rank, row in enumerate(scores, 1)
        ]

    def get(self, request, *args, **kwargs):
        form = self.period_form()
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form, rows=[]), status=INVALID)
        return self.render_to_response(self.get_context_data(form=form, rows=self.rows(form)))


class ScorecardCsvView(ScorecardView):
    """The same ranked table as CSV (UTF-8 with BOM for spreadsheet programs; formula-safe cells)."""

    def get(self, request, *args, **kwargs):
        form = self.period_form()
        if not form.is_valid():
            errors = " ".join(str(e) for errs in form.errors.values() for e in errs)
            return HttpResponse(errors, status=INVALID, content_type="text/plain; charset=utf-8")
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="scorecard-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
        response.write("\ufeff")
        writer = csv_writer(response)
        writer.writerow(
            [
                _("Rank"),
                _("Department"),
                _("Region"),
                _("Tasks due"),
                _("Median minutes to accept"),
                _("Declines"),
                _("Transfer requests"),
                _("Overdue"),
                _("Overdue rate"),
                _("Median minutes to complete"),
            ]
        )
        for item in self.rows(form):
            row = item["row"]
            writer.writerow(
                csv_cell(value)
                for value in (
                    item["rank"],
                    row.department.name,
                    row.department.region.name,
                    row.tasks,
                    item["accept"],
                    row.declines,
                    row.transfers,
                    row.overdue,
                    item["overdue_percent"],
                    item["complete"],
                )
            )
        return response
