import pytest

from apps.organizations.models import Department
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_staff_sees_own_region_departments_and_not_another_region():
    province = f.region()
    city = f.region(parent=province)
    other = f.region()
    mine = f.department(region=city)
    sibling = f.department(region=city)
    foreign = f.department(region=other)
    user = f.member(mine)
    visible = set(Department.objects.restrict(user, "view").values_list("pk", flat=True))
    assert {mine.pk, sibling.pk} <= visible
    assert foreign.pk not in visible
