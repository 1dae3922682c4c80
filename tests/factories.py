"""factory-boy factories. Organisation objects are created through their services, so the
ledger and the department groups are exactly as production makes them."""

import factory
from django.contrib.auth import get_user_model

from apps.core.permissions import Role
from apps.organizations import services
from apps.organizations.choices import DepartmentType, RegionLevel
from apps.organizations.models import Region

PASSWORD = "Test-password-2026"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"用户{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def admin_user():
    user, _ = get_user_model().objects.get_or_create(
        username="root", defaults={"is_superuser": True, "is_staff": True, "display_name": "管理员"}
    )
    return user


_codes = iter(range(110000, 990000))  # department name suffixes: the full suite needs thousands


def _free_code(level: str, parent: Region | None) -> str:
    """The first division code free in the database that fits the region tree: PP0000 for a
    province, PPCC00 under province PP, PPCCDD under city PPCC (CC, DD from 01)."""
    if level == RegionLevel.PROVINCE:
        candidates = (f"{p:02d}0000" for p in range(11, 100))
    elif level == RegionLevel.CITY:
        candidates = (f"{parent.code[:2]}{c:02d}00" for c in range(1, 100))
    else:
        candidates = (f"{parent.code[:4]}{c:02d}" for c in range(1, 100))
    taken = set(Region.objects.values_list("code", flat=True))
    return next(c for c in candidates if c not in taken)


def region(*, parent: Region | None = None, name: str | None = None, code: str | None = None, level=None) -> Region:
    """A region that fits the tree: a province without a parent, a city under a province, a
    county under a city (the level follows the parent unless given)."""
    if level is None:
        level = {None: RegionLevel.PROVINCE, RegionLevel.PROVINCE: RegionLevel.CITY}.get(
            parent.level if parent else None, RegionLevel.COUNTY
        )
    if code is None or Region.objects.filter(code=code).exists():
        code = _free_code(level, parent)
    return services.region_create(actor=admin_user(), code=code, name=name or f"区域{code}", level=level, parent=parent)


def department(*, region: Region, type: str = DepartmentType.EMERGENCY, name: str | None = None):
    return services.department_create(
        actor=admin_user(), region=region, name=name or f"{region.name}{type}{next(_codes)}", type=type
    )


def member(department, role: str = Role.STAFF, user=None, **user_kwargs):
    """A user seated in `department` with `role` (through the membership service)."""
    user = user or UserFactory(**user_kwargs)
    services.membership_add(actor=admin_user(), department=department, user=user, role=role)
    return user
