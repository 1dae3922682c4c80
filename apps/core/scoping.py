"""The permission path. Every read starts from `Model.objects.restrict(user, action)`; every
write calls `authorize(user, action, target)` inside its service. Nothing else filters by region
or department. Deny by default; an object outside the user's scope is hidden (404).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models
from django.db.models import Q

from .display import choice_display
from .exceptions import AccessDenied
from .permissions import roles_for

NOTHING = Q(pk__in=[])


@dataclass(frozen=True)
class Seat:
    """One membership: the user holds `role` in `department_id`, which sits in region `region_path`."""

    department_id: int
    region_id: int
    region_path: str
    role: str
    department_type: str = ""


@dataclass
class Principal:
    """What the permission rules need to know about a user, loaded once per user object."""

    user_id: int | None
    is_superuser: bool = False
    seats: list[Seat] = field(default_factory=list)
    # leading group id -> True when one of the user's departments is its information office
    leading_groups: dict[int, set[int]] = field(default_factory=dict)  # group id -> my dept ids in it
    office_groups: dict[int, set[int]] = field(default_factory=dict)  # groups whose information office I sit in
    office_region_paths: set[str] = field(default_factory=set)  # regions of those groups
    # region paths opened to me by active agreements, per shared scope flag
    agreement_paths: dict[str, set[str]] = field(default_factory=dict)

    def seats_for(self, roles) -> list[Seat]:
        return [s for s in self.seats if s.role in roles]

    def department_ids(self, roles=None) -> set[int]:
        return {s.department_id for s in self.seats if roles is None or s.role in roles}

    def region_paths(self, roles=None, department_types=None) -> set[str]:
        return {
            s.region_path
            for s in self.seats
            if (roles is None or s.role in roles)
            and (department_types is None or s.department_type in department_types)
        }

    def leading_group_ids(self, roles=None) -> set[int]:
        mine = self.department_ids(roles)
        return {g for g, depts in self.leading_groups.items() if depts & mine}

    def office_group_ids(self, roles=None) -> set[int]:
        """Leading groups whose information office (信息办) is one of my departments (with `roles`)."""
        mine = self.department_ids(roles)
        return {g for g, depts in self.office_groups.items() if depts & mine}


def subtree_q(lookup: str, paths) -> Q:
    """Rows whose region path starts with one of `paths` (the region and everything below it)."""
    q = NOTHING
    for p in sorted(set(paths)):
        q |= Q(**{f"{lookup}__startswith": p})
    return q


def principal_for(user) -> Principal | None:
    """The cached Principal of an authenticated, active user; None denies everything."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    cached = getattr(user, "_principal_cache", None)
    if cached is not None:
        return cached
    from apps.organizations.selectors import principal_load

    principal = principal_load(user=user)
    user._principal_cache = principal
    return principal


def forget_principal(user) -> None:
    """Drop the cached Principal after the user's memberships changed."""
    if hasattr(user, "_principal_cache"):
        del user._principal_cache


class ScopedQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view"):
        """Rows `user` may `action`: the only place scope is computed. Deny by default."""
        principal = principal_for(user)
        if principal is None:
            return self.none()
        if principal.is_superuser:
            return self
        model = self.model
        roles = roles_for(model, action)
        allowed = model.scope_q(principal, action, roles) if roles else NOTHING
        granted = granted_pks(user, model, action)
        if granted is not None:
            allowed |= Q(pk__in=granted)
        return self.filter(allowed)


class ScopedManager(models.Manager.from_queryset(ScopedQuerySet)):
    pass


class ScopedModel(models.Model):
    """A tenant-owned model. Subclasses define `scope_q(principal, action, roles)`."""

    objects = ScopedManager()

    class Meta:
        abstract = True

    @classmethod
    def scope_q(cls, principal: Principal, action: str, roles) -> Q:  # pragma: no cover - abstract
        raise NotImplementedError

    def _get_FIELD_display(self, field):  # Django's hook behind every get_<field>_display()
        return choice_display(self, field)  # the same answer, without rebuilding the choice map per call


def granted_pks(user, model, action: str):
    """Primary keys granted to the user's department groups by django-guardian, as a subquery.

    Only models that declare a direct-foreign-key group permission table take part, and only for
    the actions they list in `GUARDIAN_GRANTS`; guardian never holds a row per member (grants go
    to department groups).
    """
    if action not in getattr(model, "GUARDIAN_GRANTS", ()):
        return None
    from guardian.shortcuts import get_objects_for_user

    perm = f"{model._meta.app_label}.{action}_{model._meta.model_name}"
    return get_objects_for_user(
        user,
        perm,
        klass=model.objects.all(),
        use_groups=True,
        with_superuser=False,
        accept_global_perms=False,
    ).values("pk")


def authorize(user, action: str, target) -> None:
    """Raise AccessDenied unless `user` may `action` on `target`.

    `target` is a saved instance (checked against the database row, not memory) or a model class
    (model-level actions such as creating a region: platform administrators only unless a rule
    says otherwise). An instance the user cannot even see is reported hidden (404).
    """
    principal = principal_for(user)
    if principal is None:
        raise AccessDenied(action=action, target=target, hidden=True)
    if isinstance(target, type):
        if principal.is_superuser:
            return
        raise AccessDenied(action=action, target=target, hidden=False)
    if principal.is_superuser:
        return
    model = type(target)
    if model.objects.restrict(user, action).filter(pk=target.pk).exists():
        return
    visible = action != "view" and model.objects.restrict(user, "view").filter(pk=target.pk).exists()
    raise AccessDenied(action=action, target=target, hidden=not visible)


def authorize_any(user, actions, target) -> str:
    """Like `authorize`, for a write several actions allow (the issuer *or* the department);
    returns the first action that passes, or raises the refusal of the last one."""
    *first, last = actions
    for action in first:
        try:
            authorize(user, action, target)
            return action
        except AccessDenied:
            continue
    authorize(user, last, target)
    return last


def ensure_in_scope(user, obj, action: str = "view") -> None:
    """After a write, inside the transaction: the saved row must still be in the user's scope."""
    principal = principal_for(user)
    if principal is not None and principal.is_superuser:
        return
    if not type(obj).objects.restrict(user, action).filter(pk=obj.pk).exists():
        raise AccessDenied(action=action, target=obj, hidden=False)
