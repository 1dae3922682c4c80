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


_codes = iter(range(110000, 990000))  # the full suite needs more than 8,800 codes


def region(*, parent: Region | None = None, name: str | None = None, code: str | None = None, level=None) -> Region:
    code = code or str(next(_codes))
    while Region.objects.filter(code=code).exists():
        code = str(next(_codes))
    level = level or (RegionLevel.PROVINCE if parent is None else RegionLevel.CITY)
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
