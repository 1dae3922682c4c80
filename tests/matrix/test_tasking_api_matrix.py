"""Permission matrix for the tasks API (/api/v1/tasks/, scorecard/, scorecard.csv).

Who sees the target task (issued by `task_issuer`, a department of city A1 no state sits in, to
the target department): the accountable department only, so IN_SCOPE and LOWER_ROLE. The
neighbouring department of the same city does not (a task is not a regional object: it belongs to
its issuer and its accountable department), nor does city B1, guardian grant or not.

Who may act: respond (accept, decline, request a transfer, dispute) and take_transfer are for the
heads of the accountable (or named) department, so IN_SCOPE only; work (start, progress, complete),
comments and files are for anyone in the accountable department, so IN_SCOPE and LOWER_ROLE;
control (verify, send back, re-assign, overrule, cancel) is the issuer's head and rule is the
information office's: no state is either, so every state gets 403 (it sees the task) or 404.
Each target sits in the state its action starts from (declined, completed, transfer requested to
the target department, disputed), built through the services.
"""

from dataclasses import dataclass, fields
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.organizations import services as org_services
from apps.organizations.choices import LeadingGroupKind
from apps.tasking import services
from apps.tasking.attachments import task_attach
from apps.tasking.models import Task, TaskAttachment, TaskComment
from tests import factories as f
from tests.matrix import tasking_world  # noqa: F401  (registers `task_issuer`, `task_issuer_head`, `task`)
from tests.matrix.harness import (
    GHOST_ID,
    HIDDEN,
    Route,
    State,
    action,
    cases,
    check,
    detail,
    listing,
    states_for,
    world_object,
)
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State

TASK_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE}  # the accountable department, head and staff
DEPARTMENT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT, S.GUARDIAN_GRANT}
HEADS = {S.IN_SCOPE}  # respond, take_transfer: the accountable (or named) department's head
WORKERS = {S.IN_SCOPE, S.LOWER_ROLE}  # work, comments, files: head or staff of the accountable department
NOBODY = ()  # control (the issuer's head) and rule (the information office): no state holds them
ATTACHMENT_TEXT = "Matrix-Attachment-Text"


# --- targets (new names; `task_issuer`, `task_issuer_head` and `task` come from tasking_world) ------


@world_object("api_task_department_head")
def _department_head(w):
    """A head of the target department who moves targets into their starting state (not a state's seat)."""
    return f.member(w.department, Role.HEAD, display_name="Task-Department-Head")


def _dispatch(w, title: str, department=None):
    [task] = services.task_dispatch(
        actor=w.task_issuer_head,
        issuer_department=w.task_issuer,
        departments=[department or w.department],
        title=title,
        deadline=timezone.now() + timedelta(hours=4),
    )
    return task


@world_object("api_accepted_task")
def _accepted_task(w):
    task = _dispatch(w, "Accepted-Task")
    return services.task_accept(actor=w.api_task_department_head, task=task)


@world_object("api_completed_task")
def _completed_task(w):
    task = _dispatch(w, "Completed-Task")
    task = services.task_accept(actor=w.api_task_department_head, task=task)
    return services.task_complete(
        actor=w.api_task_department_head, task=task, result="Done-Result", evidence="照片存于指挥部"
    )


@world_object("api_declined_task")
def _declined_task(w):
    task = _dispatch(w, "Declined-Task")
    return services.task_decline(actor=w.api_task_department_head, task=task, reason="Not our remit")


@world_object("api_transfer_task")
def _transfer_task(w):
    """Issued to another department of A1 (no state sits in it), which asks the target department to
    take it over: only the target department sees it besides them."""
    source = f.department(region=w.region, name="Transfer-Source-Department")
    source_head = f.member(source, Role.HEAD, display_name="Transfer-Source-Head")
    task = _dispatch(w, "Transfer-Task", department=source)
    return services.task_request_transfer(
        actor=source_head, task=task, to_department=w.department, reason="Their equipment"
    )


@world_object("api_task_office")
def _task_office(w):
    return f.department(region=w.region, name="Task-Office-Department")


@world_object("api_task_group")
def _task_group(w):
    """A leading group over province A whose information office no state sits in."""
    return org_services.leading_group_create(
        actor=w.admin,
        name="Task-Command-Group",
        kind=LeadingGroupKind.STANDING,
        regions=[w.province_a],
        information_office=w.api_task_office,
        big_data_center=w.third_party,
    )


@world_object("api_task_office_head")
def _office_head(w):
    assert w.api_task_group  # seated after the group exists, so the seat's principal knows the office
    return f.member(w.api_task_office, Role.HEAD, display_name="Task-Office-Head")


@world_object("api_group_task")
def _group_task(w):
    """Issued by the leading group (its information office) to the target department: disputable."""
    head = w.api_task_office_head
    [task] = services.task_dispatch(
        actor=head,
        issuer_department=w.api_task_office,
        issuer_group=w.api_task_group,
        departments=[w.department],
        title="Group-Task",
        deadline=timezone.now() + timedelta(hours=4),
    )
    return task


@world_object("api_disputed_task")
def _disputed_task(w):
    return services.task_dispute(actor=w.api_task_department_head, task=w.api_group_task, reason="Not ours")


@world_object("api_issued_task")
def _issued_task(w):
    """Issued BY the target department (to its neighbour): on the target department's board."""
    [task] = services.task_dispatch(
        actor=w.api_task_department_head,
        issuer_department=w.department,
        departments=[w.neighbour],
        title="Issued-By-Target",
        deadline=timezone.now() + timedelta(hours=4),
    )
    return task


@world_object("api_task_comment")
def _task_comment(w):
    return services.task_comment(actor=w.task_issuer_head, task=w.task, body="Target-Comment")


@world_object("api_task_attachment")
def _task_attachment(w):
    upload = SimpleUploadedFile("target.txt", ATTACHMENT_TEXT.encode(), content_type="text/plain")
    return task_attach(actor=w.task_issuer_head, task=w.task, uploaded_file=upload)


# --- probes ------------------------------------------------------------------------------------


def status_of(name: str):
    def probe(w):
        return Task.objects.values_list("status", "department_id").get(pk=getattr(w, name).pk)

    return probe


def issued_by_department(w):
    return Task.objects.filter(issuer_department=w.department).count()


def comments_on(name: str):
    def probe(w):
        return TaskComment.objects.filter(task=getattr(w, name)).count()

    return probe


def attachments_on_task(w):
    return TaskAttachment.objects.filter(task=w.task).count()


# --- routes under one task that are not one-object answers -------------------------------------


def _error(response) -> dict:
    return {k: v for k, v in response.json()["error"].items() if k != "request_id"}


def _denied(user, obj) -> bool:
    return AuditEvent.objects.filter(
        actor=user, action="access.denied", target_type=obj._meta.label_lower, target_id=str(obj.pk)
    ).exists()


def task_refusal(name: str, kwargs=lambda w, pk: {"pk": pk}):
    """check_extra for lists under the target task: a 404 is the hidden task (recorded, and answered
    exactly like a nonexistent task id)."""

    def check_extra(world, state, user, response):
        if user is None or response.status_code != 404:
            return
        where = f"{name} as {state.value}"
        assert _denied(user, world.task), f"{where}: the hidden task was not recorded in the ledger"
        client = APIClient()
        client.force_login(user)
        ghost = client.get(reverse(name, kwargs=kwargs(world, GHOST_ID)))
        assert ghost.status_code == 404, f"{where}: a nonexistent task answers {ghost.status_code}"
        assert _error(ghost) == _error(response), f"{where}: hidden and nonexistent tasks answer differently"

    return check_extra


def nested(name: str, *, target: str, visible_to, **options):
    """A list under the target task: 200 (holding `target` for `visible_to`) for those who see the
    task, 404 for everyone else, since the task is fetched through its scope first."""
    hidden = {s: HIDDEN for s in states_for(Role.HEAD) if s is not S.ANONYMOUS and s not in visible_to}
    return listing(
        name,
        target=target,
        visible_to=visible_to,
        role=Role.HEAD,
        kwargs=lambda w: {"pk": w.task.pk},
        overrides=hidden,
        check_extra=task_refusal(name),
        **options,
    )


def download_check(world, state, user, response):
    """The file's bytes for those who see the task; for the others the hidden task (see task_refusal)."""
    if response.status_code == 200:
        body = b"".join(response.streaming_content)
        assert body == ATTACHMENT_TEXT.encode(), f"download as {state.value}: wrong bytes {body[:80]!r}"
        assert response["Content-Type"] == "text/plain"
    task_refusal(
        "api:task-attachment-download",
        kwargs=lambda w, pk: {"pk": pk, "attachment_pk": w.api_task_attachment.pk},
    )(world, state, user, response)


@dataclass(frozen=True)
class MultipartRoute(Route):
    """A route whose writes are multipart uploads (the harness sends JSON)."""

    def send(self, client, url, world):
        if self.method == "get":
            return super().send(client, url, world)
        return getattr(client, self.method)(url, self.data(world), format="multipart")


def multipart(route: Route) -> MultipartRoute:
    return MultipartRoute(**{field.name: getattr(route, field.name) for field in fields(route)})


def task_action(name: str, *, target: str = "task", allowed_to=HEADS, data=None, success: int = 200, **options):
    """A transition on a task the accountable department sees (IN_SCOPE, LOWER_ROLE)."""
    return action(
        name,
        "post",
        target=target,
        role=Role.HEAD,
        visible_to=TASK_VIEWERS,
        allowed_to=allowed_to,
        data=data,
        success=success,
        probe=options.pop("probe", status_of(target)),
        **options,
    )


def scorecard_marker(w) -> str:
    """The target department has a row once it accepted a task (its median time to accept)."""
    assert w.api_accepted_task
    return w.department.name


ROUTES = register(
    "tasking-api",
    [
        # --- lists
        listing("api:task-list", target="task", visible_to=TASK_VIEWERS, role=Role.HEAD),
        listing("api:task-inbox", target="task", visible_to=TASK_VIEWERS, role=Role.HEAD),
        listing(
            "api:task-board",
            target="api_issued_task",
            visible_to=TASK_VIEWERS,
            role=Role.HEAD,
            note="the neighbour is accountable for this task, so it sees it, but not on its board",
        ),
        # --- dispatch: the issuing department comes in the body; seen but not headed is 403, unseen 404
        action(
            "api:task-list",
            "post",
            target="department",
            on_object=False,
            role=Role.HEAD,
            visible_to=DEPARTMENT_VIEWERS,
            success=201,
            data=lambda w: {
                "issuer_department": w.department.pk,
                "departments": [w.neighbour.pk],
                "title": "Matrix-Dispatch",
                "deadline": (timezone.now() + timedelta(hours=2)).isoformat(),
                "status": "verified",  # ignored: not an input field
            },
            probe=issued_by_department,
            denial_target=lambda w: w.department,
        ),
        detail("api:task-detail", target="task", visible_to=TASK_VIEWERS, role=Role.HEAD),
        # --- the accountable department (respond: heads)
        task_action("api:task-accept"),
        task_action("api:task-decline", data=lambda w: {"reason": "Not our remit"}),
        task_action(
            "api:task-transfer",
            data=lambda w: {"to_department": w.neighbour.pk, "reason": "Their equipment"},
        ),
        task_action("api:task-transfer-accept", target="api_transfer_task"),
        task_action(
            "api:task-transfer-refuse",
            target="api_transfer_task",
            data=lambda w: {"reason": "Not ours either"},
            success=204,
            note="after refusing, the target department no longer sees the task: 204",
        ),
        task_action(
            "api:task-dispute",
            target="api_group_task",
            data=lambda w: {"reason": "Outside our remit"},
            note="respond (heads) or control; staff hold neither",
        ),
        # --- work (head or staff)
        task_action("api:task-start", target="api_accepted_task", allowed_to=WORKERS),
        task_action(
            "api:task-progress",
            target="api_accepted_task",
            allowed_to=WORKERS,
            success=201,
            data=lambda w: {"body": "Half the bank cleared"},
            probe=comments_on("api_accepted_task"),
        ),
        task_action(
            "api:task-complete",
            target="api_accepted_task",
            allowed_to=WORKERS,
            data=lambda w: {
                "result": "Bank cleared",
                "evidence": "Photos at the post",
                "deadline": "2000-01-01T00:00:00Z",
            },
        ),
        # --- the issuer (control) and the information office (rule): no state holds them
        task_action("api:task-verify", target="api_completed_task", allowed_to=NOBODY),
        task_action(
            "api:task-return", target="api_completed_task", allowed_to=NOBODY, data=lambda w: {"reason": "Photos?"}
        ),
        task_action(
            "api:task-reassign",
            target="api_declined_task",
            allowed_to=NOBODY,
            data=lambda w: {"department": w.neighbour.pk, "note": "Neighbour instead"},
        ),
        task_action(
            "api:task-overrule", target="api_declined_task", allowed_to=NOBODY, data=lambda w: {"note": "It is yours"}
        ),
        task_action("api:task-cancel", allowed_to=NOBODY, data=lambda w: {"reason": "No longer needed"}),
        task_action(
            "api:task-rule",
            target="api_disputed_task",
            allowed_to=NOBODY,
            data=lambda w: {"department": w.department.pk, "note": "It is yours"},
        ),
        # --- comments and files (anyone in the accountable department)
        nested("api:task-comments", target="api_task_comment", visible_to=TASK_VIEWERS),
        task_action(
            "api:task-comments",
            allowed_to=WORKERS,
            success=201,
            data=lambda w: {"body": "Matrix-Comment"},
            probe=comments_on("task"),
        ),
        nested("api:task-attachments", target="api_task_attachment", visible_to=TASK_VIEWERS),
        multipart(
            task_action(
                "api:task-attachments",
                allowed_to=WORKERS,
                success=201,
                data=lambda w: {"file": SimpleUploadedFile("matrix.txt", b"Matrix upload", content_type="text/plain")},
                probe=attachments_on_task,
            )
        ),
        listing(
            # a file download is not JSON: visibility is checked on the bytes (check_extra)
            "api:task-attachment-download",
            role=Role.HEAD,
            kwargs=lambda w: {"pk": w.task.pk, "attachment_pk": w.api_task_attachment.pk},
            query={},
            overrides={s: HIDDEN for s in states_for(Role.HEAD) if s not in TASK_VIEWERS | {S.ANONYMOUS}},
            check_extra=download_check,
        ),
        # --- scorecards: rows for the departments of the tasks the caller sees
        listing("api:scorecard", marker=scorecard_marker, visible_to=TASK_VIEWERS, role=Role.HEAD),
        listing("api:scorecard-csv", marker=scorecard_marker, visible_to=TASK_VIEWERS, role=Role.HEAD, query={}),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
