"""Permission matrix for the task portal pages (/tasks/…).

Who sees the target task (issued by `task_issuer`, a department of city A1 no state sits in, to the
target department): the accountable department only, so IN_SCOPE and LOWER_ROLE. The neighbouring
department does not (a task belongs to its issuer and its accountable department), nor does city
B1, guardian grant or not (a department grant opens the department, not its tasks).

Who may act: respond (accept, decline, request a transfer, dispute) and take_transfer are for the
heads of the accountable (or named) department: IN_SCOPE; work (start, progress, complete) and
comments for anyone in the accountable department: IN_SCOPE and LOWER_ROLE; control (verify, send
back, re-assign, overrule, cancel) is the issuer's head and rule the information office's: no state
holds either, so every state gets 403 (it sees the task) or 404 (tests/portal covers their
success). Each target sits in the state its action starts from, built through the services.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.permissions import Role
from apps.organizations import services as org_services
from apps.organizations.choices import LeadingGroupKind
from apps.tasking import services
from apps.tasking.models import Task, TaskComment
from tests import factories as f
from tests.matrix import tasking_world  # noqa: F401  (registers `task_issuer`, `task_issuer_head`, `task`)
from tests.matrix.harness import State, action, cases, check, detail, listing, world_object
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State

TASK_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE}  # the accountable department, head and staff
HEADS = {S.IN_SCOPE}  # respond, take_transfer
WORKERS = {S.IN_SCOPE, S.LOWER_ROLE}  # work and comments
NOBODY = ()  # control (the issuer's head) and rule (the information office): no state holds them
# A department is visible to its whole city and, through a grant, to the grantee.
DEPARTMENT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT, S.GUARDIAN_GRANT}
# The scorecard's period: wide enough for the target task's deadline (in four hours).
TODAY = timezone.localdate()
SCORECARD_PERIOD = {
    "start": (TODAY - timedelta(days=30)).isoformat(),
    "end": (TODAY + timedelta(days=30)).isoformat(),
}


# --- targets (new names; `task_issuer`, `task_issuer_head` and `task` come from tasking_world) ----


@world_object("portal_task_department_head")
def _department_head(w):
    """A head of the target department who moves targets into their starting state (no state's seat)."""
    return f.member(w.department, Role.HEAD, display_name="Portal-Department-Head")


def _dispatch(w, title: str, department=None):
    [task] = services.task_dispatch(
        actor=w.task_issuer_head,
        issuer_department=w.task_issuer,
        departments=[department or w.department],
        title=title,
        deadline=timezone.now() + timedelta(hours=4),
    )
    return task


@world_object("portal_accepted_task")
def _accepted_task(w):
    return services.task_accept(actor=w.portal_task_department_head, task=_dispatch(w, "Portal-Accepted-Task"))


@world_object("portal_completed_task")
def _completed_task(w):
    task = services.task_accept(actor=w.portal_task_department_head, task=_dispatch(w, "Portal-Completed-Task"))
    return services.task_complete(
        actor=w.portal_task_department_head, task=task, result="Done", evidence="照片存于指挥部"
    )


@world_object("portal_declined_task")
def _declined_task(w):
    task = _dispatch(w, "Portal-Declined-Task")
    return services.task_decline(actor=w.portal_task_department_head, task=task, reason="Not our remit")


@world_object("portal_transfer_task")
def _transfer_task(w):
    """Issued to another department of A1 (no state sits in it), which asks the target department to
    take it over: besides them, only the target department sees it."""
    source = f.department(region=w.region, name="Portal-Transfer-Source")
    source_head = f.member(source, Role.HEAD, display_name="Portal-Transfer-Source-Head")
    task = _dispatch(w, "Portal-Transfer-Task", department=source)
    return services.task_request_transfer(
        actor=source_head, task=task, to_department=w.department, reason="Their equipment"
    )


@world_object("portal_task_office")
def _task_office(w):
    return f.department(region=w.region, name="Portal-Task-Office")


@world_object("portal_task_group")
def _task_group(w):
    """A leading group over province A whose information office no state sits in."""
    return org_services.leading_group_create(
        actor=w.admin,
        name="Portal-Task-Group",
        kind=LeadingGroupKind.STANDING,
        regions=[w.province_a],
        information_office=w.portal_task_office,
        big_data_center=w.third_party,
    )


@world_object("portal_group_task")
def _group_task(w):
    """Issued by the leading group (from its information office) to the target department: disputable."""
    assert w.portal_task_group  # the office head's principal must know the office
    head = f.member(w.portal_task_office, Role.HEAD, display_name="Portal-Office-Head")
    [task] = services.task_dispatch(
        actor=head,
        issuer_department=w.portal_task_office,
        issuer_group=w.portal_task_group,
        departments=[w.department],
        title="Portal-Group-Task",
        deadline=timezone.now() + timedelta(hours=4),
    )
    return task


@world_object("portal_disputed_task")
def _disputed_task(w):
    return services.task_dispute(actor=w.portal_task_department_head, task=w.portal_group_task, reason="Not ours")


@world_object("portal_issued_task")
def _issued_task(w):
    """Issued BY the target department (to its neighbour): on the target department's board."""
    [task] = services.task_dispatch(
        actor=w.portal_task_department_head,
        issuer_department=w.department,
        departments=[w.neighbour],
        title="Portal-Issued-By-Target",
        deadline=timezone.now() + timedelta(hours=4),
    )
    return task


# --- probes and forms ----------------------------------------------------------------------------


def status_of(name: str):
    def probe(w):
        return Task.objects.values_list("status", "department_id", "transfer_to_id").get(pk=getattr(w, name).pk)

    return probe


def comments_on(name: str):
    def probe(w):
        return TaskComment.objects.filter(task=getattr(w, name)).count()

    return probe


def issued_by_department(w):
    return Task.objects.filter(issuer_department=w.department).count()


def dispatch_form(w):
    return {
        "issuer": f"department-{w.department.pk}",
        "departments": [w.neighbour.pk],
        "title": "Portal-Matrix-Dispatch",
        "priority": "high",
        "deadline": timezone.localtime(timezone.now() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "idempotency_key": "matrix-dispatch",
    }


def task_action(name: str, target: str, *, allowed_to, probe=None, data=None, **options):
    return action(
        name,
        "post",
        target=target,
        visible_to=TASK_VIEWERS,
        allowed_to=allowed_to,
        success=302,
        probe=probe or status_of(target),
        data=data,
        **options,
    )


ROUTES = register(
    "tasking-portal",
    [
        # --- lists and pages
        listing(
            "portal:task-inbox",
            role=Role.HEAD,
            marker=lambda w: w.task.title,
            visible_to=TASK_VIEWERS,
        ),
        listing(
            "portal:task-board",
            role=Role.HEAD,
            marker=lambda w: w.portal_issued_task.title,
            visible_to={S.IN_SCOPE, S.LOWER_ROLE},
            note="the board holds what my departments issued: the accountable neighbour sees it in its inbox, not here",
        ),
        listing(
            "portal:task-create",
            role=Role.HEAD,
            marker=lambda w: f'value="department-{w.department.pk}"',
            visible_to={S.IN_SCOPE},
            note="the issuer select offers only the departments the caller heads",
        ),
        action(
            "portal:task-create",
            "post",
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            allowed_to={S.IN_SCOPE},
            success=302,
            data=dispatch_form,
            probe=issued_by_department,
            denial_target=lambda w: w.department,
            note="the issuer is checked before the form: unseen 404, seen but not headed 403",
        ),
        listing(
            "portal:scorecard",
            role=Role.HEAD,
            marker=lambda w: w.task and w.department.name,
            visible_to=TASK_VIEWERS,
            query=SCORECARD_PERIOD,
            note="open to everyone logged in; the rows cover only the tasks the caller sees",
        ),
        listing(
            "portal:scorecard-csv",
            role=Role.HEAD,
            marker=lambda w: w.task and w.department.name,
            visible_to=TASK_VIEWERS,
            query=SCORECARD_PERIOD,
        ),
        detail(
            "portal:task-detail",
            role=Role.HEAD,
            target="task",
            visible_to=TASK_VIEWERS,
            # the accept button is on the page only for the accountable department's head
            marker=lambda w: reverse("portal:task-accept", kwargs={"pk": w.task.pk}),
            shows_marker_to=HEADS,
        ),
        # --- the accountable department
        task_action("portal:task-accept", "task", allowed_to=HEADS),
        task_action("portal:task-decline", "task", allowed_to=HEADS, data=lambda w: {"reason": "Not our remit"}),
        task_action(
            "portal:task-transfer-request",
            "task",
            allowed_to=HEADS,
            data=lambda w: {"to_department": w.neighbour.pk, "reason": "Their equipment"},
        ),
        task_action("portal:task-transfer-accept", "portal_transfer_task", allowed_to=HEADS),
        task_action(
            "portal:task-transfer-refuse",
            "portal_transfer_task",
            allowed_to=HEADS,
            data=lambda w: {"reason": "Not our equipment either"},
        ),
        task_action("portal:task-start", "portal_accepted_task", allowed_to=WORKERS),
        task_action(
            "portal:task-progress",
            "portal_accepted_task",
            allowed_to=WORKERS,
            data=lambda w: {"body": "Half done"},
            probe=comments_on("portal_accepted_task"),
        ),
        task_action(
            "portal:task-complete",
            "portal_accepted_task",
            allowed_to=WORKERS,
            data=lambda w: {"result": "All done", "evidence": "Photos at the post"},
        ),
        task_action(
            "portal:task-dispute", "portal_group_task", allowed_to=HEADS, data=lambda w: {"reason": "Not ours"}
        ),
        task_action(
            "portal:task-comment",
            "task",
            allowed_to=WORKERS,
            data=lambda w: {"body": "Matrix comment"},
            probe=comments_on("task"),
        ),
        # --- the issuer and the information office: no state holds these
        task_action("portal:task-verify", "portal_completed_task", allowed_to=NOBODY),
        task_action("portal:task-return", "portal_completed_task", allowed_to=NOBODY, data=lambda w: {"reason": "x"}),
        task_action(
            "portal:task-reassign",
            "portal_declined_task",
            allowed_to=NOBODY,
            data=lambda w: {"department": w.neighbour.pk, "note": "x"},
        ),
        task_action("portal:task-overrule", "portal_declined_task", allowed_to=NOBODY, data=lambda w: {"note": "x"}),
        task_action("portal:task-cancel", "task", allowed_to=NOBODY, data=lambda w: {"reason": "x"}),
        task_action(
            "portal:task-rule",
            "portal_disputed_task",
            allowed_to=NOBODY,
            data=lambda w: {"outcome": "order", "department": w.department.pk, "note": "x"},
        ),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
