"""Drive schemathesis against the in-process Django WSGI application, one operation at a time.

For every operation of the OpenAPI schema a Hypothesis run generates cases (positive: data the
schema allows; negative: data it forbids), sends them with one principal's credentials through
Django's real WSGI handler (every middleware, CSRF, sessions and the authentication classes as in
production; no server, and none of the test client's shortcuts) and checks each response:

- schemathesis' own checks: no 5xx, a documented status code and content type, a body that
  conforms to the documented schema, and (negative cases) a 4xx for data the schema forbids;
- the tenant checks: no body holds the marker of a tenant the principal has no access to, and an
  object private to the other tenant, addressed in the URL, never answers 2xx/3xx.

Path ids are drawn from the world's objects of both tenants as well as generated, so details,
nested routes and actions reach real rows (own ones, and the other tenant's, which must stay
hidden). Each case runs inside a savepoint that is rolled back, so every case sees the same world
(a fuzzed DELETE of the principal's own membership cannot lock the rest of the run out).

Failures are collected per operation, not raised at the first one, so one run lists them all.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import schemathesis
from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.world import FuzzWorld, Tenant

SCHEMA_URL = "/api/v1/schema/"
ID_PARAMETERS = ("id", "seq")  # path parameters that address a row of the operation's resource

# `positive_data_acceptance` is left out on purpose: the schema cannot say which ids exist or which
# state an object is in, so schema-valid input legitimately meets 400/404/409 from the services.
POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]


def load_schema():
    """The schema as the application serves it, bound to a fresh in-process WSGI handler."""
    return schemathesis.openapi.from_wsgi(SCHEMA_URL, WSGIHandler())


@contextmanager
def in_process_requests() -> Iterator[list[str]]:
    """Django closes "old" connections at the start and end of every request, which inside a test
    transaction would close the test's own connection; its test client disconnects the handler
    for the same reason. Also collects the tracebacks of unhandled exceptions (for 5xx findings)."""
    errors: list[str] = []

    def record(sender, request=None, **kwargs):
        errors.append(traceback.format_exc())

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    signals.got_request_exception.connect(record, weak=False)
    try:
        yield errors
    finally:
        signals.got_request_exception.disconnect(record)
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# --- principals -------------------------------------------------------------------------------


@dataclass
class Principal:
    """Who sends the requests: the credentials to send and the tenant they belong to."""

    name: str
    tenant: Tenant | None
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


def session_principal(name: str, user, tenant: Tenant) -> Principal:
    """A logged-in person (the `cookieAuth` scheme): session cookie plus the CSRF token pair that
    Django's middleware and DRF's SessionAuthentication require for unsafe methods."""
    client = Client()
    client.force_login(user)
    token = _get_new_csrf_string()
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return Principal(
        name=name,
        tenant=tenant,
        headers={"X-CSRFToken": token},
        cookies={settings.SESSION_COOKIE_NAME: session, settings.CSRF_COOKIE_NAME: token},
    )


def key_principal(name: str, tenant: Tenant) -> Principal:
    """The tenant department's integration key (the `IntegrationKey` scheme)."""
    return Principal(name=name, tenant=tenant, headers={"Authorization": f"Key {tenant.key_secret}"})


# --- findings -----------------------------------------------------------------------------------


@dataclass
class Finding:
    principal: str
    mode: str
    operation: str
    error: BaseException
    server_errors: list[str]

    def __str__(self) -> str:
        text = f"[{self.principal}/{self.mode}] {self.operation}: {type(self.error).__name__}: {self.error}"
        if self.server_errors:
            text += "\n--- server traceback ---\n" + self.server_errors[-1]
        return text


class TenantLeak(AssertionError):
    """A principal was shown, or allowed to act on, an object of a tenant it has no access to."""


# --- one operation ------------------------------------------------------------------------------


def resource_of(path: str) -> str:
    """`/incidents/{id}/reports/` → `incidents`; `/notifications/webhook-endpoints/{id}/` → the
    two-segment resource; the key of `Tenant.private` / `Tenant.public`."""
    parts = [p for p in path.strip("/").split("/") if p]
    if parts and parts[0] == "api":
        parts = parts[2:]
    head = []
    for part in parts:
        if part.startswith("{"):
            break
        head.append(part)
    if len(head) >= 2 and "/".join(head[:2]) in ("notifications/webhook-endpoints", "ledger/events"):
        return "/".join(head[:2])
    return head[0] if head else ""


def _id_parameter(operation) -> str | None:
    names = [p.name for p in operation.path_parameters]
    return next((n for n in ID_PARAMETERS if n in names), None)


def case_strategy(operation, world: FuzzWorld, mode: GenerationMode):
    """Generated cases; for operations on one row, two in three address a real row of either tenant
    instead. Negative cases keep a generated id when nothing else (body, query) can be made invalid."""
    generated = operation.as_strategy(generation_mode=mode)
    name = _id_parameter(operation)
    ids = sorted({pk for t in (world.a, world.b) for pk in t.ids(resource_of(operation.path))}) if name else []
    if not ids or (mode.is_negative and not (operation.body or list(operation.query))):
        return generated
    pinned = st.one_of([operation.as_strategy(generation_mode=mode, path_parameters={name: pk}) for pk in ids])
    return st.integers(0, 2).flatmap(lambda branch: generated if branch == 0 else pinned)


def _tenant_checks(case, response, principal: Principal, world: FuzzWorld) -> None:
    if principal.tenant is None:
        return
    other = world.other(principal.tenant)
    body = response.content.decode("utf-8", errors="replace")
    sent = repr((case.path_parameters, case.query, case.body, case.headers))
    if other.marker in body and other.marker not in sent:
        at = body.find(other.marker)
        raise TenantLeak(
            f"{principal.name} received an object of tenant {other.label} ({response.status_code}): "
            f"...{body[max(0, at - 200) : at + 100]}..."
        )
    name = _id_parameter(case.operation)
    if name is None:
        return
    pk = (case.path_parameters or {}).get(name)
    if pk in other.private.get(resource_of(case.operation.path), set()) and response.status_code < 400:
        raise TenantLeak(
            f"{principal.name} got {response.status_code} for {case.method} {case.formatted_path} "
            f"on an object private to tenant {other.label}"
        )


def _hypothesis_settings(max_examples: int):
    return hypothesis_settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time; cases are small anyway
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )


def fuzz_operation(operation, principal: Principal, world: FuzzWorld, errors: list[str], *, mode, max_examples):
    checks = NEGATIVE_CHECKS if mode.is_negative else POSITIVE_CHECKS

    @_hypothesis_settings(max_examples)
    @given(case=case_strategy(operation, world, mode))
    def run(case):
        errors.clear()
        with transaction.atomic():
            response = case.call(headers=dict(principal.headers), cookies=dict(principal.cookies))
            transaction.set_rollback(True)
        case.validate_response(response, checks=checks, headers=principal.headers)
        _tenant_checks(case, response, principal, world)

    run()


def fuzz(schema, principal: Principal, world: FuzzWorld, errors: list[str], *, mode, max_examples: int):
    """Every operation of `schema`, as `principal`, in one generation mode; returns the findings."""
    findings: list[Finding] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if mode.is_negative and not (list(operation.path_parameters) or list(operation.query) or operation.body):
            continue  # nothing in the request can be made invalid
        try:
            fuzz_operation(operation, principal, world, errors, mode=mode, max_examples=max_examples)
        except Unsatisfiable:
            continue  # negative mode: nothing in this operation can be made invalid
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every failure is a finding
            findings.append(Finding(principal.name, mode.value, operation.label, exc, list(errors)))
    return findings


def stateful_findings(
    schema, principal: Principal, world: FuzzWorld, errors: list[str], *, scenarios: int, steps: int
) -> list[Finding]:
    """Sequences of calls along the links schemathesis infers from the schema (a created object's
    id feeds the operations on it), as `principal`; each scenario in its own savepoint."""

    class Workflow(schema.as_state_machine()):
        def setup(self):
            self._savepoint = transaction.atomic()
            self._savepoint.__enter__()

        def teardown(self):
            transaction.set_rollback(True)
            self._savepoint.__exit__(None, None, None)

        def get_call_kwargs(self, case):
            errors.clear()
            return {"headers": dict(principal.headers), "cookies": dict(principal.cookies)}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=NEGATIVE_CHECKS, headers=principal.headers)
            _tenant_checks(case, response, principal, world)

    settings = hypothesis_settings(_hypothesis_settings(scenarios), stateful_step_count=steps)
    try:
        Workflow.run(settings=settings)
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001
        return [Finding(principal.name, "stateful", "links", exc, list(errors))]
    return []


def unauthenticated_findings(schema, world: FuzzWorld, errors: list[str], *, max_examples: int) -> list[Finding]:
    """Every operation without credentials (and with a forged key): 401 in the error format."""
    findings: list[Finding] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @_hypothesis_settings(max_examples)
        @given(case=case_strategy(operation, world, GenerationMode.POSITIVE), forged=st.booleans())
        def run(case, forged):
            errors.clear()
            headers = {"Authorization": "Key 000000000000.forged-secret"} if forged else {}
            with transaction.atomic():
                response = case.call(headers=headers, cookies={})
                transaction.set_rollback(True)
            assert response.status_code == 401, (
                f"{case.method} {case.formatted_path} without valid credentials answered {response.status_code}: "
                f"{response.content[:300]!r}"
            )
            assert response.json()["error"]["code"] in ("not_authenticated", "authentication_failed")
            case.validate_response(response, checks=POSITIVE_CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001
            findings.append(Finding("anonymous", "positive", operation.label, exc, list(errors)))
    return findings
