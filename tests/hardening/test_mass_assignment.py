"""Mass assignment through every writable API operation (issue 8).

The operations come from the OpenAPI schema drf-spectacular generates (every POST, PUT and PATCH),
so a new endpoint cannot slip past: `OPERATIONS` is keyed by operationId and must name exactly the
schema's writable operations, each with a way to perform it.

Each operation runs twice in one permission-matrix world (tests/matrix/harness.py), by a principal
the matrix says may perform it, with the matrix entry's valid payload:

1. clean, inside a savepoint that is rolled back afterwards, noting every row of every project table;
2. hostile: the same payload plus every protected field the operation does not declare, each naming
   something the caller must not be able to choose: a region and a department of a third province,
   a user and a leading group there, a status (``closed``, ``granted``, ``verified``, ...),
   ``is_staff``/``is_superuser``, flipped flags, an ``id``, ledger hash and sequence fields and
   timestamps. The field names are read from the models, so a new column is attacked too.

The hostile run must be refused (4xx, nothing written) or leave exactly the rows the clean run left
(new rows' ids, timestamps and a few values drawn at random aside): the server decides, not the
payload. A planted hole (a serializer and service taking `is_active` from the payload) proves the
comparison sees one.

A protected name an operation declares in its request body (an incident's reporting
``department``, a status transition's ``status``) is input on purpose: each is stated in
`OPERATIONS` with the check that keeps it honest, and every declared reference to a department,
region or leading group is sent pointing into a province nobody reaches, which must be refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import datetime
from functools import cache
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import Max
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.core.permissions import Role
from apps.incidents import services as incident_services
from apps.ledger.models import AuditEvent
from apps.organizations import services as org_services
from apps.organizations.choices import LeadingGroupKind
from apps.organizations.models import Department, LeadingGroup, Region
from tests import factories as f
from tests.matrix import registry
from tests.matrix.harness import State, World

registry.load_all()  # every matrix entry (and the world objects their modules register)

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch")

# --- the hostile values -------------------------------------------------------------------------

SENTINEL_ID = 1_999_999_937  # no row has it; a row that does took it from the payload
SENTINEL_HASH = "f00d" * 16
SENTINEL_TIME = "2001-02-03T04:05:06+00:00"
SENTINEL_SEQ = 987_654_321


def hostile_department(w: World) -> Department:
    """A department of city C1 in no leading group (the world's `third_party` sits in some)."""
    if not hasattr(w, "_hostile_department"):
        w._hostile_department = f.department(region=w.city_c1, name="Hostile-Department")
    return w._hostile_department


def hostile_user(w: World):
    if not hasattr(w, "_hostile_user"):
        w._hostile_user = f.member(hostile_department(w), Role.HEAD, display_name="Hostile-Head")
    return w._hostile_user


def hostile_group(w: World) -> LeadingGroup:
    if not hasattr(w, "_hostile_group"):
        w._hostile_group = org_services.leading_group_create(
            actor=w.admin,
            name="Hostile-Group",
            kind=LeadingGroupKind.STANDING,
            regions=[w.province_c],
            information_office=f.department(region=w.city_c1, name="Hostile-Office"),
            big_data_center=f.department(region=w.city_c1, name="Hostile-Data-Center"),
        )
    return w._hostile_group


def project_models() -> list[type[models.Model]]:
    """Every table of the platform's own apps, many-to-many link tables included."""
    return [m for m in django_apps.get_models(include_auto_created=True) if m._meta.app_config.name.startswith("apps.")]


RELATION_KINDS = {"department": Department, "region": Region, "group": LeadingGroup}


@cache
def protected_fields() -> dict[str, str]:
    """Every protected field a payload might smuggle (name -> kind of hostile value), by the names
    the models use: keys to departments, regions, users and leading groups, statuses, flags,
    timestamps, ledger hashes and sequence numbers, ids."""
    kinds = {
        "id": "id",
        "pk": "id",
        "is_staff": "true",
        "is_superuser": "true",
        "is_active": "false",
        "status": "status",
        "state": "status",
        "region": "region_code",  # the API names regions by division code
        "region_id": "region",
        "regions": "region_codes",
        "department": "department",
        "owner": "department",
        "created_by": "user",
        "approved_by": "user",
        "hash": "hash",
        "prev_hash": "hash",
        "sha256": "hash",
        "seq": "seq",
        "ledger_seq": "seq",
        "created_at": "time",
        "updated_at": "time",
    }
    related_kinds = {Department: "department", Region: "region", get_user_model(): "user", LeadingGroup: "group"}
    for model in project_models():
        for column in model._meta.concrete_fields:
            if column.primary_key:
                continue
            if column.is_relation:
                kind = related_kinds.get(column.related_model)
                if kind is not None:
                    kinds.setdefault(column.name, kind)
                    kinds.setdefault(column.attname, kind)
            elif isinstance(column, models.BooleanField):
                kinds.setdefault(column.name, "false" if column.default is True else "true")
            elif isinstance(column, models.DateTimeField):
                kinds.setdefault(column.name, "time")
            elif column.name == "status" or column.name.endswith("_status"):
                kinds.setdefault(column.name, "status")
            elif "hash" in column.name:
                kinds.setdefault(column.name, "hash")
            elif column.name.endswith("_seq"):
                kinds.setdefault(column.name, "seq")
    return kinds


def hostile_value(w: World, kind: str, status: str) -> Any:
    """Something the caller must not be able to choose: objects of a third province nobody in the
    world sits in, sentinels no row holds."""
    return {
        "id": lambda: SENTINEL_ID,
        "true": lambda: True,
        "false": lambda: False,
        "status": lambda: status,
        "region_code": lambda: w.city_c1.code,
        "region_codes": lambda: [w.city_c1.code],
        "region": lambda: w.city_c1.pk,
        "department": lambda: hostile_department(w).pk,
        "user": lambda: hostile_user(w).pk,
        "group": lambda: hostile_group(w).pk,
        "hash": lambda: SENTINEL_HASH,
        "seq": lambda: SENTINEL_SEQ,
        "time": lambda: SENTINEL_TIME,
    }[kind]()


def hostile_fields(w: World, status: str, leave_out=frozenset()) -> dict[str, Any]:
    return {name: hostile_value(w, kind, status) for name, kind in protected_fields().items() if name not in leave_out}


# --- the operations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """How to perform one operation. By default: the matrix entry's target and payload, as the first
    principal state the matrix lets perform it; `actor`/`target` name someone or something else."""

    status: str = "closed"  # the hostile status: one the written model has, but the server does not set here
    actor: Callable[[World], Any] | None = None
    target: Callable[[World], Any] | None = None
    # protected names the operation declares as input (field -> how the server checks it); the
    # schema's declared protected fields must be exactly these
    inputs: dict[str, str] = dataclass_field(default_factory=dict)
    note: str = ""


def _task_issuer_head(w):
    return w.task_issuer_head


def _office_head(w):
    """A head of the information office of a leading group over province A (covers city A1)."""
    return w.api_task_office_head


def _reviewed_warning(w):
    return incident_services.warning_review(actor=_office_head(w), warning=w.warning)


ISSUER = {"actor": _task_issuer_head, "note": "the issuing department's head (no matrix state is the issuer)"}
OFFICE = {"actor": _office_head, "note": "an information-office head over the region (no matrix state is one)"}

ACTING = "the acting department: one of the caller's (an unseen one is 404), authorized by the service"
GROUP = "a leading group: must be visible to the caller (400), and the service checks the department sits in it"
REACH = "the department issued to: the service refuses one outside the issuer's reach (400)"

OPERATIONS: dict[str, Case] = {
    "alerts_acknowledge_create": Case(),
    "alerts_close_create": Case(status="acknowledged"),
    "data_demands_create": Case(inputs={"department": ACTING}),
    "data_demands_close_create": Case(status="open"),
    "data_grants_review_create": Case(status="revoked"),
    "data_grants_revoke_create": Case(status="granted"),
    "data_grants_emergency_create": Case(status="revoked", inputs={"department": ACTING}),
    "data_requests_create": Case(status="granted", inputs={"department": ACTING}),
    "data_requests_decide_create": Case(status="granted"),
    "data_requests_submit_create": Case(status="approved"),
    "data_requests_withdraw_create": Case(status="approved"),
    "datasets_create": Case(inputs={"department": ACTING, "leading_group": GROUP}),
    "datasets_partial_update": Case(),
    "datasets_mappings_create": Case(),
    "datasets_records_batch_create": Case(status="succeeded"),
    "datasets_share_create": Case(status="succeeded"),
    "datasets_sync_sources_create": Case(),
    "datasets_uploads_create": Case(status="succeeded"),
    "departments_partial_update": Case(),
    "departments_grants_create": Case(),
    "departments_members_create": Case(),
    "incidents_create": Case(
        status="closed",
        inputs={
            "department": ACTING,
            "regions": "affected regions: each must be visible to the caller (400 otherwise)",
            "first_seen_at": "the reporter's observation; the service starts the reporting clocks from it",
            "is_drill": "the reporter says whether it is an exercise",
            "intake_seen_at": "the reporter states when an intake channel first saw the event: only with a "
            "channel, never in the future; the reporting clocks run from the earliest sighting",
        },
    ),
    "incidents_leading_group_create": Case(status="closed", inputs={"group": GROUP}),
    "incidents_report_requests_create": Case(status="done"),
    "incidents_report_schedule_update": Case(status="done", inputs={"is_active": "switches the schedule itself"}),
    "incidents_reports_create": Case(status="closed", inputs={"department": ACTING}),
    "incidents_severity_create": Case(status="closed"),
    "incidents_status_create": Case(
        status="closed", inputs={"status": "the transition asked for, checked by the transition map"}
    ),
    "incidents_verify_create": Case(status="closed"),
    "integration_keys_create": Case(inputs={"department": ACTING}),
    "integration_keys_revoke_create": Case(),
    "integration_keys_rotate_create": Case(),
    "monitoring_rules_create": Case(inputs={"department": ACTING}),
    "monitoring_rules_activate_create": Case(),
    "monitoring_rules_deactivate_create": Case(),
    "notifications_read_create": Case(),
    "notifications_preferences_create": Case(
        inputs={name: "the caller's own delivery preference" for name in ("in_app", "email", "daily_digest")}
    ),
    "notifications_webhook_endpoints_create": Case(inputs={"department": ACTING}),
    "notifications_webhook_endpoints_partial_update": Case(
        inputs={"is_active": "switches the endpoint itself (heads)"}
    ),
    "subscriptions_create": Case(inputs={"department": ACTING}),
    "sync_sources_partial_update": Case(inputs={"enabled": "switches the source itself (stewards)"}),
    "sync_sources_run_create": Case(status="succeeded"),
    "tasks_create": Case(
        status="verified",
        inputs={
            "issuer_department": ACTING,
            "issuer_group": GROUP,
            "deadline": "the issuer sets the deadline; nobody changes it afterwards",
        },
    ),
    "tasks_accept_create": Case(status="verified"),
    "tasks_attachments_create": Case(
        status="verified", inputs={"is_evidence": "evidence is refused unless the uploader's department is accountable"}
    ),
    "tasks_cancel_create": Case(status="verified", **ISSUER),
    "tasks_comments_create": Case(status="verified"),
    "tasks_complete_create": Case(status="verified"),
    "tasks_decline_create": Case(status="verified"),
    "tasks_dispute_create": Case(status="verified"),
    "tasks_overrule_create": Case(status="verified", **ISSUER),
    "tasks_progress_create": Case(status="verified"),
    "tasks_reassign_create": Case(status="verified", inputs={"department": REACH}, **ISSUER),
    "tasks_return_create": Case(status="verified", **ISSUER),
    "tasks_rule_create": Case(
        status="verified", inputs={"department": "the department ruled to do the task: must be visible (400)"}, **OFFICE
    ),
    "tasks_start_create": Case(status="verified"),
    "tasks_transfer_create": Case(status="verified"),
    "tasks_transfer_accept_create": Case(status="verified"),
    "tasks_transfer_refuse_create": Case(status="verified"),
    "tasks_verify_create": Case(status="cancelled", **ISSUER),
    "warnings_create": Case(
        status="published",
        inputs={
            "issuer": ACTING,
            "region": "the region warned: must be visible to the caller (400 otherwise)",
            "starts_at": "when the warning takes effect, the issuer's to say",
        },
    ),
    "warnings_publish_create": Case(status="withdrawn", target=_reviewed_warning, **OFFICE),
    "warnings_return_create": Case(status="published", target=_reviewed_warning, **OFFICE),
    "warnings_review_create": Case(status="published", **OFFICE),
    "warnings_withdraw_create": Case(status="published"),
}


@cache
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    url_name: str
    declared: frozenset[str]  # the request body's properties


@cache
def writable_operations() -> dict[str, Operation]:
    doc = schema()
    found: dict[str, Operation] = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in WRITE_METHODS:
                continue
            match = resolve(re.sub(r"\{[^}]+\}", "1", path))
            declared: set[str] = set()
            for content in op.get("requestBody", {}).get("content", {}).values():
                ref = content.get("schema", {}).get("$ref", "")
                component = doc["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) if ref else {}
                declared |= set(component.get("properties", {}))
            found[op["operationId"]] = Operation(
                op["operationId"], method, path, f"{match.namespace}:{match.url_name}", frozenset(declared)
            )
    return found


def test_the_table_names_exactly_the_schemas_writable_operations():
    schema_ids = set(writable_operations())
    assert len(schema_ids) > 50, f"the schema lists only {len(schema_ids)} writable operations"
    missing = sorted(schema_ids - set(OPERATIONS))
    stale = sorted(set(OPERATIONS) - schema_ids)
    assert not missing, f"writable operations without a mass-assignment case (add them to OPERATIONS): {missing}"
    assert not stale, f"OPERATIONS names operations the schema no longer has: {stale}"


def test_every_operation_has_a_matrix_entry_someone_may_perform():
    routes = {route.key: route for route in registry.all_routes()}
    for op_id, op in writable_operations().items():
        route = routes.get((op.url_name, op.method))
        assert route is not None, f"{op_id}: no permission-matrix entry for {op.url_name} {op.method.upper()}"
        allowed = [s for s, e in route.expect.items() if 200 <= e.status < 300]
        assert allowed or OPERATIONS[op_id].actor, f"{op_id}: nobody may perform it; give the case an actor"


# --- the database, row by row -------------------------------------------------------------------

# Values drawn afresh on every run (secrets and their prefixes, the ledger's chain over timestamps),
# compared by the sentinel scan only.
RANDOM_FIELDS = {
    ("accounts", "integrationkey"): {"prefix", "secret_hash", "key_hash"},
    ("accounts", "user"): {"password"},  # a service account's unusable password
    ("ledger", "auditevent"): {"hash", "prev_hash", "request_id"},
    ("ledger", "ledgerhead"): {"hash"},
    ("notifications", "webhookendpoint"): {"secret"},
    ("datapool", "syncsource"): {"url_encrypted"},  # Fernet: a fresh IV each time
    # stored file names: the storage adds a random suffix when the clean run's file is still there
    ("datapool", "ingestionjob"): {"file"},
    ("tasking", "taskattachment"): {"file"},
}
# In a new row, text that names other new rows ("task.issued:6:337", "/tasks/6/") or random
# values ("svc-205-fcfcdcc6") differs between the runs by those numbers alone.
NEW_ROW_NUMBERS = re.compile(r"[0-9a-f]{6,}|\d+")


def _int_pk(model) -> bool:
    return isinstance(model._meta.pk, models.AutoField | models.BigAutoField | models.SmallAutoField)


def high_water_marks() -> dict[type[models.Model], int]:
    return {model: model._base_manager.aggregate(m=Max("pk"))["m"] or 0 for model in project_models() if _int_pk(model)}


def _generic_target(row: dict):
    """The model a (target_type, target_id) pair points at, when the id is a row's id."""
    label, pk = row.get("target_type"), row.get("target_id")
    if not label or not isinstance(pk, str) or not pk.isdigit() or "." not in label:
        return None
    try:
        return django_apps.get_model(label)
    except (LookupError, ValueError):
        return None


@dataclass
class Snapshot:
    rows: dict[str, list[tuple]]
    sentinels: list[str]


def snapshot(marks: dict, hostile_code: str) -> Snapshot:
    """Every row of every project table; a new row's id (and keys to new rows) read as "new" and
    timestamps and random values left out, so two runs of one request compare equal."""
    rows: dict[str, list[tuple]] = {}
    sentinels: list[str] = []
    for model in project_models():
        label = model._meta.label_lower
        random = RANDOM_FIELDS.get((model._meta.app_label, model._meta.model_name), set())
        fields = list(model._meta.concrete_fields)
        values = model._base_manager.order_by("pk").values_list(*[fl.attname for fl in fields])
        table = []
        for raw in values:
            row = []
            generic = _generic_target(dict(zip([fl.name for fl in fields], raw, strict=True)))
            new_row = _int_pk(model) and raw[fields.index(model._meta.pk)] > marks.get(model, 0)
            for field, value in zip(fields, raw, strict=True):
                if value == SENTINEL_ID or value == SENTINEL_SEQ or (isinstance(value, str) and SENTINEL_HASH in value):
                    sentinels.append(f"{label}.{field.name}={value!r}")
                if isinstance(field, models.DateTimeField | models.DurationField):  # read off the clock
                    if isinstance(value, datetime) and value.isoformat().startswith("2001-02-03"):
                        sentinels.append(f"{label}.{field.name}={value!r}")
                    continue
                if isinstance(field, models.JSONField):
                    text = json.dumps(value, default=str)
                    if str(SENTINEL_ID) in text or SENTINEL_HASH in text:
                        sentinels.append(f"{label}.{field.name} holds a sentinel")
                    continue
                if field.name in random:
                    continue
                target = field.related_model if field.is_relation else (model if field.primary_key else None)
                if field.name == "target_id" and generic is not None:
                    target, value = generic, int(value)
                if target is not None and isinstance(value, int) and value > marks.get(target, value):
                    value = "new"
                elif new_row and isinstance(value, str):
                    if value == hostile_code:
                        sentinels.append(f"{label}.{field.name}={value!r} (the hostile region code)")
                    value = NEW_ROW_NUMBERS.sub("#", value)
                row.append((field.name, value))
            table.append(tuple(row))
        rows[label] = table
    return Snapshot(rows, sentinels)


def differences(clean: Snapshot, hostile: Snapshot) -> list[str]:
    found = []
    for label, clean_rows in clean.rows.items():
        hostile_rows = hostile.rows[label]
        if len(clean_rows) != len(hostile_rows):
            found.append(
                f"{label}: {len(clean_rows)} rows after the clean request, {len(hostile_rows)} after the hostile"
            )
            continue
        for a, b in zip(clean_rows, hostile_rows, strict=True):
            if a != b:
                changed = {name: (x, y) for (name, x), (_, y) in zip(a, b, strict=True) if x != y}
                found.append(f"{label} {dict(a).get('id')}: {changed} (clean, hostile)")
    return found


# --- the runner ---------------------------------------------------------------------------------

ORDER = (State.IN_SCOPE, State.LOWER_ROLE, State.SAME_REGION_OTHER_DEPT, State.GUARDIAN_GRANT, State.OTHER_REGION)


def _actor(w: World, route, case: Case):
    if case.actor is not None:
        return case.actor(w)
    for state in ORDER:
        expect = route.expect.get(state)
        if expect is not None and 200 <= expect.status < 300:
            return w.user(state, route.role)
    raise AssertionError(f"{route.id}: nobody may perform it")


def _last_seq(snap: Snapshot) -> int:
    return max((dict(row)["seq"] for row in snap.rows["ledger.auditevent"]), default=0)


def _send(route, client, url, w, extra: dict | None):
    if extra is None:
        return route.send(client, url, w)
    base = route.data

    def data(world):
        payload = dict(base(world)) if base else {}
        return {**extra, **payload}

    return replace(route, data=data).send(client, url, w)


def _route(op: Operation):
    return next(r for r in registry.all_routes() if r.key == (op.url_name, op.method))


@dataclass
class Outcome:
    where: str
    hostile: dict
    before: Snapshot
    clean_response: Any
    clean: Snapshot
    response: Any
    after: Snapshot


def run(op_id: str, world: World) -> Outcome:
    """The operation's valid request, rolled back, then the same request with the hostile fields."""
    case = OPERATIONS[op_id]
    op = writable_operations()[op_id]
    route = _route(op)

    # build everything the two runs share before the savepoint, so neither run creates it
    user = _actor(world, route, case)
    target = case.target(world) if case.target else route.target_of(world)
    url = route.url(world, target)
    if route.data:
        route.data(world)
    if route.probe:
        route.probe(world)  # some targets are only complete once their probe has looked (a load run)
    hostile = hostile_fields(world, case.status, leave_out=op.declared)
    client = APIClient()
    client.force_login(user)
    marks = high_water_marks()
    before = snapshot(marks, world.city_c1.code)

    with transaction.atomic():
        clean_response = _send(route, client, url, world, None)
        clean = snapshot(marks, world.city_c1.code)
        transaction.set_rollback(True)

    response = _send(route, client, url, world, hostile)
    after = snapshot(marks, world.city_c1.code)
    where = f"{op.method.upper()} {op.path} ({op_id})"
    return Outcome(where, hostile, before, clean_response, clean, response, after)


@pytest.mark.parametrize("op_id", sorted(OPERATIONS))
def test_protected_fields_the_operation_declares_are_its_stated_inputs(op_id):
    """A protected name in the request body is input on purpose, with the check that keeps it
    honest written down, or it must go (a declared field is not covered by the hostile run)."""
    declared = writable_operations()[op_id].declared & set(protected_fields())
    stated = set(OPERATIONS[op_id].inputs)
    assert declared == stated, (
        f"{op_id}: declares protected fields {sorted(declared)}, the table states {sorted(stated)}; "
        "drop the field from the serializer (the server decides it) or state in OPERATIONS how it is checked"
    )


@pytest.mark.parametrize("op_id", sorted(OPERATIONS))
def test_protected_fields_in_a_payload_change_nothing(op_id, world):
    out = run(op_id, world)
    assert 200 <= out.clean_response.status_code < 300, (
        f"{out.where}: the valid payload was refused ({out.clean_response.status_code}): "
        f"{out.clean_response.content[:400]!r}"
    )
    assert out.clean.rows != out.before.rows, f"{out.where}: the valid request changed nothing; the test proves nothing"
    assert out.response.status_code < 500, f"{out.where}: the hostile payload broke the server"
    assert not out.after.sentinels, f"{out.where}: stored values taken from the payload: {out.after.sentinels}"
    if 400 <= out.response.status_code < 500:  # refused: then nothing may have been written
        assert not differences(out.before, out.after), f"{out.where}: refused ({out.response.status_code}) but wrote"
        return
    assert out.response.status_code == out.clean_response.status_code, (
        f"{out.where}: hostile answered {out.response.status_code}, clean {out.clean_response.status_code}"
    )
    found = differences(out.clean, out.after)
    assert not found, f"{out.where}: {len(out.hostile)} hostile fields changed what was stored:\n" + "\n".join(found)


def test_the_comparison_catches_a_field_taken_from_the_payload(world, monkeypatch):
    """The detector itself: plant a mass-assignment hole (the department update applying an
    `is_active` it reads from the payload) and the hostile run must differ from the clean one."""
    from rest_framework import serializers

    from apps.organizations import services as org_services_module
    from apps.organizations.api import views as org_views

    class LeakySerializer(org_views.DepartmentUpdateSerializer):
        is_active = serializers.BooleanField(required=False)

    monkeypatch.setattr(org_views, "DepartmentUpdateSerializer", LeakySerializer)
    monkeypatch.setattr(org_services_module, "DEPARTMENT_EDITABLE", ("name", "contact_phone", "is_active"))
    out = run("departments_partial_update", world)
    assert out.response.status_code == 200
    found = differences(out.clean, out.after)
    assert any(line.startswith("organizations.department ") and "is_active" in line for line in found), found


# --- declared references that point out of scope ------------------------------------------------

OUT_OF_SCOPE_KINDS = {"department", "region", "region_code", "region_codes", "group"}
REFERENCE_INPUTS = sorted(
    (op_id, name)
    for op_id, case in OPERATIONS.items()
    for name in case.inputs
    if protected_fields().get(name) in OUT_OF_SCOPE_KINDS
)


def test_reference_inputs_exist():
    assert len(REFERENCE_INPUTS) >= 15, REFERENCE_INPUTS


@pytest.mark.parametrize(("op_id", "name"), REFERENCE_INPUTS, ids=[f"{o}-{n}" for o, n in REFERENCE_INPUTS])
def test_a_declared_reference_to_another_province_is_refused_and_writes_nothing(op_id, name, world):
    """The other half of "ignored or rejected": where a payload does name a department, region or
    leading group, one of a province nobody in the world reaches is refused (4xx), and nothing but
    the refusal's ledger record is written."""
    case = OPERATIONS[op_id]
    op = writable_operations()[op_id]
    route = _route(op)
    user = _actor(world, route, case)
    target = case.target(world) if case.target else route.target_of(world)
    url = route.url(world, target)
    if route.probe:
        route.probe(world)
    poison = hostile_value(world, protected_fields()[name], case.status)
    assert route.data(world).get(name) != poison
    client = APIClient()
    client.force_login(user)
    marks = high_water_marks()
    before = snapshot(marks, world.city_c1.code)
    base = route.data
    response = replace(route, data=lambda w: {**base(w), name: poison}).send(client, url, world)
    after = snapshot(marks, world.city_c1.code)
    where = f"{op.method.upper()} {op.path} ({op_id}) with {name}={poison!r}"
    assert 400 <= response.status_code < 500, f"{where}: answered {response.status_code}: {response.content[:300]!r}"
    ledger = ("ledger.auditevent", "ledger.ledgerhead")
    written = [line for line in differences(before, after) if not line.startswith(ledger)]
    assert not written, f"{where}: refused but wrote: {written}"
    actions = set(AuditEvent.objects.filter(seq__gt=_last_seq(before)).values_list("action", flat=True))
    assert actions <= {"access.denied"}, f"{where}: ledger events of a refused request: {actions}"
