"""Every project task is routed by name to one of the three named queues (config/settings/base.py),
so a task cannot land in a queue no worker pool consumes; `make worker` consumes all of them and
`make worker QUEUES=…` some; eager mode ignores routing.

The test settings switch routing off (real-worker tests give each test a queue of its own), so the
production table is read from `config.settings.base` and run through Celery's own router here;
tests/worker/test_queues.py runs it with real workers.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest
from celery.app.routes import MapRoute, Router, prepare

from apps.ledger.checkpoints import read_checkpoints
from apps.ledger.tasks import ledger_checkpoint_task
from config.celery import app
from config.settings import base
from tests.factories import region

ROOT = Path(__file__).resolve().parents[2]
NAMED_QUEUES = {"dispatch", "ingest", "reports"}


def registered_tasks() -> list[str]:
    """The project's tasks as the worker sees them: autodiscovery over the installed apps.

    Tasks the test suite itself defines (tests.worker.crash_tasks and the like) register in this
    process only when an earlier test imported them; they are not part of the deployment.
    """
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if not name.startswith(("celery.", "tests.")))


def declared_tasks() -> set[str]:
    """`module.function` of every function decorated with `shared_task` in apps/*/tasks.py."""
    names = set()
    for path in sorted((ROOT / "apps").glob("*/tasks.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any(
                "shared_task" in ast.unparse(d) or "app.task" in ast.unparse(d) for d in node.decorator_list
            ):
                names.add(f"{module}.{node.name}")
    return names


def explicit_route(name: str) -> str | None:
    """The queue the production routing table names for `name` (None: no pattern matches)."""
    route = MapRoute(base.CELERY_TASK_ROUTES)(name)
    return route["queue"] if route else None


def production_router() -> Router:
    """Celery's router over the production routes and queues (what a publisher does with them)."""
    return Router(prepare(base.CELERY_TASK_ROUTES), app.amqp.Queues(base.CELERY_TASK_QUEUES), app=app)


def test_autodiscovery_registers_every_task_the_apps_declare():
    declared = declared_tasks()
    assert len(declared) >= 19
    assert declared <= set(registered_tasks())


def test_the_three_queues_are_declared_and_the_default_is_one_of_them():
    assert {q.name for q in base.CELERY_TASK_QUEUES} == NAMED_QUEUES
    for queue in base.CELERY_TASK_QUEUES:
        assert (queue.exchange.name, queue.routing_key) == (queue.name, queue.name)
    assert base.CELERY_TASK_DEFAULT_QUEUE in NAMED_QUEUES


def test_every_registered_project_task_has_an_explicit_route_to_a_named_queue():
    unrouted = {name: explicit_route(name) for name in registered_tasks() if explicit_route(name) not in NAMED_QUEUES}
    assert unrouted == {}, "add a pattern for these tasks to CELERY_TASK_ROUTES in config/settings/base.py"


def test_celerys_router_sends_each_task_to_its_apps_queue():
    router = production_router()
    routed = {name: router.route({}, name)["queue"].name for name in registered_tasks()}
    assert set(routed.values()) == NAMED_QUEUES
    for name, queue in routed.items():
        app_label = name.split(".")[1]
        expected = {"datapool": "ingest", "reporting": "reports"}.get(app_label, "dispatch")
        assert queue == expected, name
    assert routed["apps.datapool.tasks.ingestion_run_task"] == "ingest"
    assert routed["apps.datapool.tasks.sync_run_task"] == "ingest"
    assert routed["apps.reporting.tasks.report_generate_task"] == "reports"
    assert routed["apps.reporting.tasks.incident_close_task"] == "reports"
    assert routed["apps.tasking.tasks.tasks_escalate_task"] == "dispatch"
    assert routed["apps.notifications.tasks.deliver_notification_task"] == "dispatch"


def test_every_beat_job_names_a_registered_task_with_a_route():
    registered = set(registered_tasks())
    for entry in base.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in registered
        assert explicit_route(entry["task"]) in NAMED_QUEUES


def test_a_task_outside_the_known_apps_would_be_reported_unrouted():
    # the check above can fail: a new app's task matches no pattern
    assert explicit_route("apps.newapp.tasks.something_task") is None
    assert production_router().route({}, "apps.newapp.tasks.something_task")["queue"].name == "celery"


def test_an_explicit_queue_still_wins_over_the_route():
    # what the real-worker tests rely on: `apply_async(queue=…)` is not rerouted
    route = production_router().route({"queue": "test-own-queue"}, "apps.datapool.tasks.ingestion_run_task")
    assert route["queue"].name == "test-own-queue"


def make_worker_command(*args: str) -> str:
    out = subprocess.run(
        ["make", "-n", "worker", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return next(line for line in out.stdout.splitlines() if "celery -A config worker" in line)


def test_make_worker_consumes_every_queue_unless_told_which():
    assert " -Q " not in make_worker_command()
    assert make_worker_command("QUEUES=ingest").endswith("-Q ingest -n ingest@%h")
    assert make_worker_command("QUEUES=dispatch,reports").endswith("-Q dispatch,reports -n dispatch-reports@%h")


@pytest.mark.django_db
def test_eager_mode_runs_a_task_in_process_whatever_the_routes(settings, tmp_path):
    # `make run`: no broker, tasks run eagerly; the production routes must not get in the way
    settings.LEDGER_CHECKPOINT_DIR = tmp_path
    region()
    saved = {k: app.conf[k] for k in ("task_routes", "task_always_eager")}
    app.conf.update(task_routes=base.CELERY_TASK_ROUTES, task_always_eager=True)
    try:
        result = ledger_checkpoint_task.delay()
    finally:
        app.conf.update(saved)
    assert result.successful()
    assert len(read_checkpoints(tmp_path / "checkpoints.jsonl")) == 1
