"""Mass assignment through the portal's forms (issue 8).

Walks every form class the platform defines (the `forms`, `views` and `admin` modules of each app)
and every field it declares. A field whose name says it decides scope, ownership, authorship,
status or privilege (region, department, owner, issuer, group, status, created_by, is_staff, ...)
must be on `ALLOWED` with the reason it is there, and be of the kind the entry says:

- "scoped": a choice among objects (or values) the form fills per user in `__init__` from a
  restricted selector; declared on the class with an empty queryset (or no choices), so a form
  that forgets to narrow it offers nothing, and an id outside the choices is a form error;
- "static": a fixed choice the service checks (a status transition against the transition map, a
  filter over the caller's own rows);
- "text": free text that names no scope of the caller, validated where it is used;
- "admin": the admin console, for platform administrators only (saves through services).

A ModelForm outside the admin console lists its fields explicitly (no "__all__", no exclude), so a
new model column never becomes a form field by itself. Fields added in `__init__` (the row-filter
builder's `cond<n>_*`) are not seen by this walk; none of them names a protected thing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import pytest
from django import forms
from django.apps import apps as django_apps

PROTECTED_TOKENS = {
    "region",
    "regions",
    "department",
    "departments",
    "owner",
    "issuer",
    "group",
    "office",
    "grantee",
    "user",
    "author",
    "status",
    "state",
    "by",  # created_by, approved_by, reviewed_by, ...
    "staff",
    "superuser",
    "active",
    "id",
    "pk",
    "hash",
    "seq",
}


@dataclass(frozen=True)
class Allowed:
    kind: str  # scoped | static | text | admin
    reason: str


ACTING = "the acting department: the caller's own departments where their role may do this"
ALLOWED: dict[tuple[str, str], Allowed] = {
    ("apps.access.forms.DataRequestForm", "department"): Allowed("scoped", ACTING),
    ("apps.access.forms.DataRequestForm", "region_code"): Allowed(
        "text", "the row filter's division code (which rows of the requested data), six digits, checked by clean()"
    ),
    ("apps.access.forms.EmergencyAccessForm", "department"): Allowed("scoped", ACTING),
    ("apps.access.forms.DemandForm", "department"): Allowed("scoped", ACTING),
    ("apps.access.forms.DemandFilterForm", "status"): Allowed("static", "filters the demand board; writes nothing"),
    ("apps.access.forms.SubscribeForm", "department"): Allowed("scoped", ACTING),
    ("apps.datapool.forms.DatasetForm", "owner"): Allowed("scoped", "the caller's departments where they steward"),
    ("apps.datapool.forms.DatasetForm", "leading_group"): Allowed(
        "scoped", "leading groups the caller sees; the service checks the owner sits in it"
    ),
    ("apps.incidents.forms.IncidentReportForm", "department"): Allowed("scoped", ACTING),
    ("apps.incidents.forms.IncidentReportForm", "regions"): Allowed("scoped", "affected regions the caller sees"),
    ("apps.incidents.forms.SituationReportForm", "department"): Allowed("scoped", ACTING),
    ("apps.incidents.forms.IncidentPhotoForm", "department"): Allowed("scoped", ACTING),
    ("apps.incidents.forms.IncidentStatusForm", "status"): Allowed(
        "static", "the transition asked for; the service checks it against the transition map and the role"
    ),
    ("apps.incidents.forms.IncidentLeadingGroupForm", "group"): Allowed(
        "scoped", "leading groups the caller sees; the service checks the group covers the incident"
    ),
    ("apps.incidents.forms.WarningDraftForm", "issuer"): Allowed("scoped", ACTING),
    ("apps.incidents.forms.WarningDraftForm", "region"): Allowed("scoped", "regions the caller sees"),
    ("apps.monitoring.forms.MonitoringRuleForm", "department"): Allowed("scoped", ACTING),
    ("apps.monitoring.forms.MonitoringRuleForm", "notify_departments"): Allowed(
        "scoped", "departments the caller sees, told of alerts; they gain no access"
    ),
    ("apps.monitoring.forms.AlertHandleForm", "status"): Allowed(
        "static", "acknowledge or close; the service checks the transition and the role"
    ),
    ("apps.notifications.forms.WebhookEndpointForm", "department"): Allowed(
        "scoped", "departments where the caller is head"
    ),
    ("apps.reporting.forms.ReportScheduleForm", "is_active"): Allowed(
        "static", "switches the incident's report schedule itself (those who command the incident)"
    ),
    ("apps.tasking.forms.TaskTransferRequestForm", "to_department"): Allowed(
        "scoped", "departments the caller sees; the service checks the transition"
    ),
    ("apps.tasking.forms.TaskReassignForm", "department"): Allowed(
        "scoped", "departments the issuer reaches (the service's issue_targets_q)"
    ),
    ("apps.tasking.forms.TaskRuleForm", "department"): Allowed(
        "scoped", "departments the ruling office reaches (the service's issue_targets_q)"
    ),
    ("apps.tasking.forms.TaskDispatchForm", "issuer"): Allowed(
        "scoped", "the caller's departments as head and groups whose office they sit in, filled in __init__"
    ),
    ("apps.tasking.forms.TaskDispatchForm", "departments"): Allowed(
        "scoped", "departments any of the caller's issuers reaches; the service checks the chosen one"
    ),
    ("apps.organizations.admin.DepartmentAdminForm", "region"): Allowed("admin", "platform administrators"),
    ("apps.organizations.admin.LeadingGroupAdminForm", "regions"): Allowed("admin", "platform administrators"),
    ("apps.organizations.admin.LeadingGroupAdminForm", "information_office"): Allowed(
        "admin", "platform administrators"
    ),
    ("apps.organizations.admin.GrantAdminForm", "grantee"): Allowed("admin", "platform administrators"),
    # the response plans and the reporting-clock rules: configuration that platform administrators
    # edit in the console (LedgeredConfigAdmin: authorize, then one ledger event per save)
    **{
        ("apps.incidents.admin.ResponsePlanAdminForm", name): Allowed("admin", "platform administrators")
        for name in ("is_active", "lead_department_type", "notify_department_types")
    },
    **{
        ("apps.incidents.admin.ReportingRuleAdminForm", name): Allowed("admin", "platform administrators")
        for name in ("escalate_group_after_minutes", "escalate_region_after_minutes")
    },
}


def _import_interfaces() -> None:
    for config in django_apps.get_app_configs():
        if not config.name.startswith("apps."):
            continue
        for module in ("forms", "views", "admin"):
            try:
                importlib.import_module(f"{config.name}.{module}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.{module}":
                    raise


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def platform_forms() -> list[type[forms.BaseForm]]:
    _import_interfaces()
    found = {c for c in _subclasses(forms.BaseForm) if c.__module__.startswith("apps.")}
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def dotted(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def is_protected(name: str) -> bool:
    return bool(set(name.split("_")) & PROTECTED_TOKENS)


def protected_form_fields() -> dict[tuple[str, str], forms.Field]:
    return {
        (dotted(form), name): field
        for form in platform_forms()
        for name, field in form.base_fields.items()
        if is_protected(name)
    }


def test_the_walk_finds_the_portal_forms():
    names = {dotted(c) for c in platform_forms()}
    assert "apps.incidents.forms.IncidentReportForm" in names and "apps.tasking.forms.TaskDispatchForm" in names
    assert len(names) > 40, sorted(names)


def test_every_protected_form_field_is_allowed_with_a_reason():
    found = protected_form_fields()
    unexplained = sorted(f"{form}.{name}" for form, name in set(found) - set(ALLOWED))
    assert not unexplained, (
        f"form fields that name scope, ownership, status or privilege: {unexplained}. Let the service decide "
        "them, or make them a choice filled per user in __init__ and add them to ALLOWED with the reason"
    )
    stale = sorted(f"{form}.{name}" for form, name in set(ALLOWED) - set(found))
    assert not stale, f"ALLOWED names form fields that no longer exist: {stale}"


@pytest.mark.parametrize("key", sorted(ALLOWED), ids=lambda k: f"{k[0].rsplit('.', 1)[-1]}.{k[1]}")
def test_an_allowed_field_is_of_the_kind_its_entry_says(key):
    allowed = ALLOWED[key]
    field = protected_form_fields().get(key)
    assert field is not None, f"{key}: no such form field"
    assert allowed.reason.strip()
    if allowed.kind == "admin":
        assert key[0].split(".")[2] == "admin", f"{key}: only admin-console forms may be 'admin'"
    elif allowed.kind == "scoped":
        assert isinstance(field, forms.ChoiceField | forms.ModelChoiceField), f"{key}: not a choice field"
        if isinstance(field, forms.ModelChoiceField):
            queryset = field.queryset
            assert queryset is None or queryset.query.is_empty(), (
                f"{key}: the class offers {queryset.model.__name__} rows before __init__ narrows them; "
                "declare it with .none() and fill it from a restricted selector"
            )
        else:
            assert not list(field.choices), f"{key}: static choices on a field the entry says is filled per user"
    elif allowed.kind == "static":
        assert isinstance(field, forms.ChoiceField | forms.BooleanField), f"{key}: not a fixed choice or a flag"
        assert not isinstance(field, forms.ModelChoiceField), f"{key}: a model choice is 'scoped', not 'static'"
    elif allowed.kind == "text":
        assert isinstance(field, forms.CharField), f"{key}: not a text field"
        assert field.max_length, f"{key}: text without a length limit"
    else:  # pragma: no cover - a typo in the table
        raise AssertionError(f"{key}: unknown kind {allowed.kind!r}")


def test_portal_model_forms_list_their_fields_explicitly():
    loose = []
    for form in platform_forms():
        meta = getattr(form, "_meta", None)
        if not issubclass(form, forms.ModelForm) or meta is None or meta.model is None:
            continue
        if form.__module__.endswith(".admin"):
            continue
        if meta.fields == forms.ALL_FIELDS or meta.fields is None or meta.exclude:
            loose.append(dotted(form))
    assert not loose, f"ModelForms that take fields they do not name: {loose}; list Meta.fields explicitly"
