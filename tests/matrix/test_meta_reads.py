"""Interfaces read tenant objects only through `restrict`: an AST walk over every view, API module,
form and filter module (portal included).

`test_meta.py` proves routes sit on the scoped base classes and never override `get_queryset`; a
view or form could still read `Dataset.objects.filter(owner_id__in=...)` by hand, or narrow a list
by the caller's department ids, and leak the day someone forgets a clause. So here, in every
interface module:

- a scoped model's manager (`objects`, `_default_manager`, `_base_manager`) is used only as
  `.restrict(user, action)` (or `.none()`, which reads nothing: the empty placeholder of a form
  field whose queryset `__init__` sets from a selector);
- nobody calls `principal_for`: the principal is the permission core's input, and a view that
  filters by `principal.department_ids()` computes scope by hand. Selectors do that, next to
  `restrict`.

Anything else moves to the app's `selectors.py`, or goes on the allow-list below with its reason.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

from apps.core.scoping import ScopedModel

APPS_DIR = Path(settings.BASE_DIR) / "apps"
INTERFACE_GLOBS = ("*/views.py", "*/views/*.py", "*/api/*.py", "*/forms.py", "*/filters.py")
INTERFACE_FILES = ("portal/context_processors.py",)
MANAGERS = {"objects", "_default_manager", "_base_manager"}
READS_NOTHING = {"restrict", "none"}
HAND_SCOPING = "principal_for"

# "<path under apps/>::<enclosing qualname>" -> why it may read outside `restrict`. Keep it short.
ALLOWED: dict[str, str] = {
    "organizations/api/serializers.py::DepartmentGrantSerializer": (
        "the grantee is any active department by id, in any region (granting reveals nothing about it); "
        "the service authorizes the grantor on the granted department"
    ),
    "tasking/api/views.py::_reach_candidates": (
        "a dispatch's targets may lie outside the caller's view (decision 0007): loaded only to be handed "
        "to the service, which refuses every one out of reach before writing; nothing is rendered"
    ),
    "tasking/forms.py::TaskReassignForm.setup": (
        "the choices are the issuer's reach, a Q the service computes (`issue_targets_q`, decision 0007)"
    ),
    "tasking/forms.py::TaskDispatchForm.__init__": (
        "the choices are the issuer's reach, a Q the service computes (`issue_targets_q`, decision 0007)"
    ),
    "tasking/forms.py::TaskDispatchForm.clean_issuer": (
        "loads the information office of a leading group the caller issues for (chosen from "
        "`leading_group_list`); the service authorizes the dispatch"
    ),
    "tasking/forms.py::TaskRuleForm.setup": (
        "the office's visible departments plus the two parties to the dispute, who may lie outside its view"
    ),
    "tasking/forms.py::style_task_filter": (
        "labels the departments of the tasks on the caller's restricted list (a task names its department)"
    ),
    "incidents/forms.py::office_groups": (
        "narrows the restricted leading-group list to the groups whose information office the caller sits in"
    ),
    "tasking/forms.py::issuing_groups": (
        "narrows the restricted leading-group list to the groups whose information office the caller sits in"
    ),
    "tasking/forms.py::may_dispatch": "whether to show a link, from the caller's own seats; reads no tenant rows",
}


@dataclass(frozen=True)
class Offence:
    where: str  # "<path>::<qualname>"
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.where} (line {self.line}): {self.what}"


def _resolve(node: ast.AST, namespace: dict):
    """The object a dotted name stands for in the module's namespace (None when it is not a name)."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, namespace)
        return getattr(base, node.attr, None) if base is not None else None
    return None


def _is_scoped_model(obj) -> bool:
    return isinstance(obj, type) and issubclass(obj, ScopedModel) and not obj._meta.abstract


class _Walker(ast.NodeVisitor):
    def __init__(self, path: str, namespace: dict):
        self.path, self.namespace = path, namespace
        self.stack: list[str] = []
        self.offences: list[Offence] = []

    def _scope(self, node):
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _scope

    def _add(self, node, what: str) -> None:
        where = f"{self.path}::{'.'.join(self.stack) or '<module>'}"
        self.offences.append(Offence(where, node.lineno, what))

    def visit_Attribute(self, node: ast.Attribute):
        # `Model.objects.<method>`: the outer Attribute names the method, its value the manager
        manager = node.value
        if isinstance(manager, ast.Attribute) and manager.attr in MANAGERS:
            model = _resolve(manager.value, self.namespace)
            if _is_scoped_model(model) and node.attr not in READS_NOTHING:
                self._add(node, f"{model.__name__}.{manager.attr}.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name == HAND_SCOPING:
            self._add(node, f"{HAND_SCOPING}(...) (scope computed by hand)")
        self.generic_visit(node)


def _bare_managers(tree: ast.AST, walker: _Walker) -> None:
    """`Model.objects` not followed by a method (handed on whole, e.g. `queryset=Model.objects`)."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in MANAGERS
            and _is_scoped_model(_resolve(node.value, walker.namespace))
        ):
            parent = parents.get(node)
            if not (isinstance(parent, ast.Attribute) and parent.value is node):
                walker.stack = _qualname_of(node, parents)
                walker._add(node, f"{_resolve(node.value, walker.namespace).__name__}.{node.attr} (the whole table)")
    walker.stack = []


def _qualname_of(node, parents) -> list[str]:
    names = []
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(node.name)
    return list(reversed(names))


def offences_in(source: str, path: str, namespace: dict) -> list[Offence]:
    tree = ast.parse(source)
    walker = _Walker(path, namespace)
    walker.visit(tree)
    _bare_managers(tree, walker)
    return walker.offences


def interface_modules() -> list[Path]:
    found = {p for pattern in INTERFACE_GLOBS for p in APPS_DIR.glob(pattern)}
    found |= {APPS_DIR / name for name in INTERFACE_FILES if (APPS_DIR / name).exists()}
    return sorted(p for p in found if p.name != "__init__.py")


def _module_offences(path: Path) -> list[Offence]:
    relative = path.relative_to(APPS_DIR).as_posix()
    dotted = "apps." + relative[: -len(".py")].replace("/", ".")
    module = importlib.import_module(dotted)
    return offences_in(path.read_text(encoding="utf-8"), relative, vars(module))


ALL_OFFENCES = [o for path in interface_modules() for o in _module_offences(path)]


def test_the_walk_finds_the_interfaces_and_the_scoped_models():
    names = {p.relative_to(APPS_DIR).as_posix() for p in interface_modules()}
    assert {"access/views.py", "access/api/views.py", "access/forms.py", "portal/views.py"} <= names
    assert any(_is_scoped_model(m) for m in apps.get_models())


@pytest.mark.parametrize("path", interface_modules(), ids=lambda p: p.relative_to(APPS_DIR).as_posix())
def test_interfaces_read_scoped_models_only_through_restrict(path):
    relative = path.relative_to(APPS_DIR).as_posix()
    found = [str(o) for o in ALL_OFFENCES if o.where.startswith(f"{relative}::") and o.where not in ALLOWED]
    assert not found, (
        "interfaces read tenant objects only through `Model.objects.restrict(user, action)`: move these "
        "reads into the app's selectors.py (or allow-list them in tests/matrix/test_meta_reads.py with a "
        f"reason): {found}"
    )


def test_the_allow_list_is_not_stale_and_gives_reasons():
    used = {o.where for o in ALL_OFFENCES}
    stale = sorted(set(ALLOWED) - used)
    assert not stale, f"allow-list entries with nothing to allow (remove them): {stale}"
    assert all(reason.strip() for reason in ALLOWED.values())


# --- the checker can fail ------------------------------------------------------------------------


def test_the_checker_catches_hand_filtering():
    from apps.datapool.models import Dataset, Tag

    source = """
class V:
    def narrow(self, qs):
        mine = Dataset.objects.filter(owner_id__in=[1])
        everything = models.Dataset._default_manager.all()
        principal = principal_for(self.request.user)
        field = Field(queryset=Dataset.objects)
        fine = Dataset.objects.restrict(self.request.user, "view").filter(pk=1)
        empty = Dataset.objects.none()
        vocabulary = Tag.objects.all()
        return mine
"""

    class models:  # noqa: N801 - stands for `from apps.datapool import models`
        pass

    models.Dataset = Dataset
    found = offences_in(source, "x/views.py", {"Dataset": Dataset, "Tag": Tag, "models": models})
    assert sorted((o.where, o.what) for o in found) == sorted(
        [
            ("x/views.py::V.narrow", "Dataset.objects.filter"),
            ("x/views.py::V.narrow", "Dataset._default_manager.all"),
            ("x/views.py::V.narrow", "principal_for(...) (scope computed by hand)"),
            ("x/views.py::V.narrow", "Dataset.objects (the whole table)"),
        ]
    ), found
