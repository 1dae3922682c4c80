"""A demand's suggestions name datasets, so they stay inside what the catalog shows its poster:
a department of another province, with no agreement sharing the catalog, is never told of an
internal or sensitive dataset, at posting time or when one is published later."""

import pytest

from apps.access import services
from apps.datapool.choices import Classification
from apps.notifications.models import Notification
from tests.access.world import access_world

pytestmark = pytest.mark.django_db


def post(world, user, department):
    return services.demand_post(
        actor=user, department=department, title="常住人口名单", standard_code=world.pool.standard.code
    )


def test_a_demand_from_another_province_is_not_told_of_a_dataset_its_catalog_hides():
    a = access_world(rows=2)
    # the sensitive resident register of public security in province A
    assert a.pool.dataset.classification == Classification.SENSITIVE
    far = a.stranger.memberships.get().department

    stranger_demand = post(a, a.stranger, far)
    neighbour_demand = post(a, a.health_steward, a.health)

    assert list(stranger_demand.suggested.all()) == []
    assert list(neighbour_demand.suggested.all()) == [a.pool.dataset]
    # re-publishing the dataset suggests it again to whoever may see it, and still not to the stranger
    Notification.objects.all().delete()
    services.demand_suggest_for(a.pool.dataset)
    assert not Notification.objects.filter(department=far).exists()
    assert list(stranger_demand.suggested.all()) == []


def test_an_open_dataset_is_suggested_to_every_department_that_needs_it():
    a = access_world(rows=2)
    a.pool.dataset.classification = Classification.OPEN
    a.pool.dataset.save(update_fields=["classification"])
    far = a.stranger.memberships.get().department
    demand = post(a, a.stranger, far)
    assert list(demand.suggested.all()) == [a.pool.dataset]
