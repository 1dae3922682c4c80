"""A grantee reads the grant's fields and nothing derived from the others (tags, load details)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.access import services
from tests.access.world import access_world

pytestmark = pytest.mark.django_db


def test_the_records_route_gives_a_grantee_only_masked_fields_and_the_owner_everything():
    a = access_world(rows=5)
    req = services.request_create(
        actor=a.health_steward,
        department=a.health,
        dataset=a.pool.dataset,
        fields=["gender"],
        masked_fields=["id_number"],
        purpose="随访",
        legal_basis="应急预案",
        duration_hours=24,
    )
    services.request_decide(actor=a.pool.head, request=req, decision="approve", second_factor=True)
    services.request_decide(actor=a.office_head, request=req, decision="approve", second_factor=True)
    url = reverse("api:dataset-records", args=[a.pool.dataset.pk])

    grantee = APIClient()
    grantee.force_authenticate(a.health_steward)
    rows = grantee.get(url).json()["results"]
    assert len(rows) == 5
    for row in rows:
        assert set(row) == {"id", "payload"}
        assert set(row["payload"]) == {"gender", "id_number"} and "*" * 16 in row["payload"]["id_number"]

    owner = APIClient()
    owner.force_authenticate(a.pool.staff)
    whole = owner.get(url).json()["results"][0]
    assert {"tags", "observed_at", "job", "line"} <= set(whole) and "*" not in whole["payload"]["id_number"]
