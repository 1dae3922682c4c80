"""The matrix covers everything: a new route, view or scoped model cannot skip it.

Walks the URL resolver; every named `api:` and `portal:` route must have a matrix entry for every
HTTP method it answers (or be on the short public list), and every view behind those routes must
be built on the scoped base classes (or be on the reasoned allow-list in `registry.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from guardian.models import GroupObjectPermission
from guardian.utils import get_group_obj_perms_model

from apps.core.api.views import ScopedViewSetMixin
from apps.core.permissions import ROLE_ACTIONS
from apps.core.scoping import ScopedModel
from apps.core.views import ScopedViewMixin
from tests.matrix import registry
from tests.matrix.harness import states_for

registry.load_all()

TENANT_NAMESPACES = ("api", "portal")
IGNORED_METHODS = {"head", "options", "trace"}


@dataclass(frozen=True)
class Endpoint:
    namespace: str | None  # full namespace path, e.g. "api" or "admin"
    name: str | None
    pattern: str
    callback: object

    @property
    def full_name(self) -> str | None:
        if self.name is None:
            return None
        return f"{self.namespace}:{self.name}" if self.namespace else self.name

    @property
    def top_namespace(self) -> str | None:
        return self.namespace.split(":")[0] if self.namespace else None

    @property
    def is_tenant(self) -> bool:
        return self.top_namespace in TENANT_NAMESPACES


def _walk(patterns, namespace=None, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = ":".join(x for x in (namespace, p.namespace) if x) or None
            yield from _walk(p.url_patterns, ns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield Endpoint(namespace, p.name, prefix + str(p.pattern), p.callback)


ENDPOINTS = list(_walk(get_resolver().url_patterns))
TENANT = [e for e in ENDPOINTS if e.is_tenant]


def view_class(callback):
    """The class behind a route: DRF sets `cls` (viewsets and APIViews), Django CBVs `view_class`."""
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def dotted(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def methods(callback) -> set[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route: the methods the router bound (DRF adds "head" on first request)
        return set(actions) - IGNORED_METHODS
    cls = view_class(callback)
    if cls is None:
        return set()
    return {m for m in cls.http_method_names if m not in IGNORED_METHODS and hasattr(cls, m)}


def tenant_routes() -> dict[str, set[str]]:
    """name -> methods, over every named api/portal route."""
    routes: dict[str, set[str]] = {}
    for e in TENANT:
        routes.setdefault(e.full_name, set()).update(methods(e.callback))
    return routes


def test_the_resolver_walk_finds_both_namespaces():
    names = tenant_routes()
    assert any(n.startswith("api:") for n in names) and any(n.startswith("portal:") for n in names)
    assert registry.apps_registered(), "no matrix module registered entries"


def test_every_api_and_portal_route_is_named():
    unnamed = [e.pattern for e in TENANT if e.name is None]
    assert not unnamed, f"unnamed routes cannot be reversed, so the matrix cannot cover them: {unnamed}"


def test_routes_outside_api_and_portal_are_known_non_tenant_routes():
    stray = [
        e.full_name or e.pattern
        for e in ENDPOINTS
        if not e.is_tenant
        and e.top_namespace not in registry.NON_TENANT_NAMESPACES
        and e.full_name not in registry.NON_TENANT_ROUTES
    ]
    assert not stray, (
        f"routes outside the api/portal namespaces escape the matrix: {stray}; mount them under api: or portal:"
    )


def test_every_route_and_method_has_a_matrix_entry():
    covered = {route.key for route in registry.all_routes()}
    missing = sorted(
        f"{name} {method.upper()}"
        for name, verbs in tenant_routes().items()
        if name not in registry.PUBLIC_ROUTES
        for method in verbs
        if (name, method) not in covered
    )
    assert not missing, (
        f"routes without a permission-matrix entry (add them to tests/matrix/test_<app>_matrix.py): {missing}"
    )


def test_every_route_answers_at_least_one_method():
    silent = sorted(name for name, verbs in tenant_routes().items() if not verbs)
    assert not silent, f"cannot tell which methods these routes answer (function views?): {silent}"


def test_matrix_entries_and_allow_lists_are_not_stale():
    routes = tenant_routes()
    stale = [r.id for r in registry.all_routes() if r.method not in routes.get(r.name, set())]
    assert not stale, f"matrix entries for routes or methods that no longer exist: {stale}"
    gone = [n for n in registry.PUBLIC_ROUTES if n not in routes]
    assert not gone, f"public allow-list names routes that no longer exist: {gone}"
    doubled = [r.id for r in registry.all_routes() if r.name in registry.PUBLIC_ROUTES]
    assert not doubled, f"a public route has matrix entries; drop one or the other: {doubled}"
    in_use = {dotted(view_class(e.callback)) for e in TENANT if view_class(e.callback) is not None}
    unused = [v for v in registry.UNSCOPED_VIEWS if v not in in_use]
    assert not unused, f"unscoped-view allow-list names views no route uses: {unused}"


def test_every_entry_states_an_expectation_for_every_state():
    for route in registry.all_routes():
        assert set(route.expect) == set(states_for(route.role)), f"{route.id}: expectations for {sorted(route.expect)}"


@pytest.mark.parametrize("endpoint", TENANT, ids=lambda e: e.full_name or e.pattern)
def test_views_are_built_on_the_scoped_base_classes(endpoint):
    cls = view_class(endpoint.callback)
    assert cls is not None, f"{endpoint.full_name}: a function view cannot be checked; use a scoped class"
    if issubclass(cls, ScopedViewSetMixin):
        base = ScopedViewSetMixin
    elif issubclass(cls, ScopedViewMixin):
        base = ScopedViewMixin
    else:
        assert dotted(cls) in registry.UNSCOPED_VIEWS, (
            f"{endpoint.full_name}: {dotted(cls)} is neither a ScopedViewMixin nor a ScopedViewSetMixin; "
            "derive it from the scoped base classes (or allow-list it in registry.UNSCOPED_VIEWS with a reason)"
        )
        return
    assert cls.list_selector is not None, f"{dotted(cls)}: no list_selector"
    assert cls.get_queryset is base.get_queryset, (
        f"{dotted(cls)} overrides get_queryset: reads must come only from list_selector"
    )
    assert getattr(cls, "queryset", None) is None, f"{dotted(cls)} sets a class-level queryset next to list_selector"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(registry.PUBLIC_ROUTES))
def test_public_routes_answer_anonymous_users(name):
    verbs = tenant_routes()[name]
    method = "get" if "get" in verbs else sorted(verbs)[0]
    response = getattr(Client(), method)(reverse(name))
    assert response.status_code < 400, f"{name} is allow-listed as public but answers {response.status_code}"


SCOPED_MODELS = [m for m in apps.get_models() if issubclass(m, ScopedModel)]


def test_scoped_models_exist():
    assert SCOPED_MODELS


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m._meta.label)
def test_every_scoped_model_defines_its_own_scope_rule(model):
    owner = next(k for k in model.__mro__ if "scope_q" in vars(k))
    assert owner is not ScopedModel, f"{model._meta.label} inherits the abstract scope_q (deny-all by error)"


@pytest.mark.django_db  # guardian resolves the table through ContentType
@pytest.mark.parametrize(
    "model", [m for m in apps.get_models() if getattr(m, "GUARDIAN_GRANTS", False)], ids=lambda m: m._meta.label
)
def test_granted_models_have_a_direct_foreign_key_grant_table(model):
    assert issubclass(model, ScopedModel), f"{model._meta.label}: grants only make sense on scoped models"
    table = get_group_obj_perms_model(model)
    assert table is not GroupObjectPermission, (
        f"{model._meta.label} uses guardian's generic GroupObjectPermission; declare a "
        "<Model>GroupObjectPermission(GroupObjectPermissionBase) with a content_object foreign key"
    )
    assert table._meta.get_field("content_object").related_model is model


def test_the_role_table_only_names_scoped_models():
    labels = {m._meta.label_lower: m for m in apps.get_models()}
    unknown = sorted({label for label, _action in ROLE_ACTIONS if label not in labels})
    assert not unknown, f"ROLE_ACTIONS names models that do not exist (dead rules): {unknown}"
    unscoped = sorted({label for label, _action in ROLE_ACTIONS if not issubclass(labels[label], ScopedModel)})
    assert not unscoped, f"ROLE_ACTIONS names models restrict() never reads: {unscoped}"
