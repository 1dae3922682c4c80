"""A small scene for the notification tests: one department with a head and two staff (with
addresses), a service account and an inactive member (never mailed), and a second department."""

from __future__ import annotations

import http.server
import json
import threading
from dataclasses import dataclass, field

import pytest

from apps.core.permissions import Role
from config.celery import app
from tests import factories as f


@pytest.fixture
def scene(db):
    province = f.region(name="Notify-Province")
    city = f.region(parent=province, name="Notify-City")
    department = f.department(region=city, name="Notify-Department")
    other = f.department(region=city, name="Other-Department")
    head = f.member(department, Role.HEAD, email="head@example.org")
    staff = f.member(department, Role.STAFF, email="staff@example.org")
    staff2 = f.member(department, Role.STAFF, email="staff2@example.org")
    f.member(department, Role.STAFF)  # no address: never mailed
    service = f.member(department, Role.STAFF, email="svc@example.org")
    service.is_service = True
    service.save(update_fields=["is_service"])
    gone = f.member(department, Role.STAFF, email="gone@example.org")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    outsider = f.member(other, Role.HEAD, email="outsider@example.org")
    return {
        "city": city,
        "department": department,
        "other": other,
        "head": head,
        "staff": staff,
        "staff2": staff2,
        "outsider": outsider,
    }


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 answering with the scripted statuses (then 200)."""

    statuses: list[int] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status = state.statuses.pop(0) if state.statuses else 200
            if 300 <= status < 400:
                self.send_response(status)
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.end_headers()
                return
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"nope")

        def log_message(self, *args):
            pass

    state.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=state.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.server.shutdown()
        state.server.server_close()


@pytest.fixture
def eager_retries():
    """Run tasks eagerly *with* their retries (the project propagates a task's Retry to the caller
    instead). Yields the countdowns the retries asked for; eagerly they run at once."""
    from celery.signals import task_retry

    countdowns: list[float] = []

    def record(sender=None, request=None, reason=None, **kwargs):
        countdowns.append(reason.when)

    saved = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    task_retry.connect(record, weak=False)
    try:
        yield countdowns
    finally:
        task_retry.disconnect(record)
        app.conf.task_eager_propagates = saved
