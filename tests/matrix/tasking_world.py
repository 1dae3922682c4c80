"""World objects for the task routes, shared by the API and portal matrix modules.

The target task is issued by `task_issuer` (a department of city A1 no state sits in, through its
head `task_issuer_head`) to the target department: the accountable department is the one the
IN_SCOPE and LOWER_ROLE states sit in; nobody else in the world sees the task.
"""

from datetime import timedelta

from django.utils import timezone

from apps.core.permissions import Role
from apps.tasking import services
from tests import factories as f
from tests.matrix.harness import world_object


@world_object("task_issuer")
def _task_issuer(w):
    return f.department(region=w.region, name="Task-Issuer-Department")


@world_object("task_issuer_head")
def _task_issuer_head(w):
    return f.member(w.task_issuer, Role.HEAD, display_name="Task-Issuer-Head")


@world_object("task")
def _task(w):
    [task] = services.task_dispatch(
        actor=w.task_issuer_head,
        issuer_department=w.task_issuer,
        departments=[w.department],
        title="Target-Task",
        deadline=timezone.now() + timedelta(hours=4),
        instructions="Target-Task-Instructions",
    )
    return task
