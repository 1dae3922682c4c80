"""Integration keys rotate (new secret, old one dead at once) and revoke; both in the ledger."""

import pytest
from rest_framework.test import APIClient

from apps.accounts import services
from apps.accounts.models import IntegrationKey
from apps.core.exceptions import AccessDenied, Conflict
from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def dept():
    return f.department(region=f.region())


@pytest.fixture
def head(dept):
    return f.member(dept, Role.HEAD)


def _me(secret):
    return APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Key {secret}")


def test_rotating_issues_a_new_secret_and_the_old_one_stops_at_once(dept, head):
    key, old = services.integration_key_create(actor=head, department=dept, name="区县上报系统")
    assert _me(old).status_code == 200
    rotated, new = services.integration_key_rotate(actor=head, key=key)
    assert rotated.pk == key.pk and rotated.user_id == key.user_id and new != old
    assert new.split(".")[0] == rotated.prefix != old.split(".")[0]
    assert rotated.key_hash == IntegrationKey.hash_secret(new.split(".", 1)[1])
    assert _me(old).status_code == 401
    assert _me(new).status_code == 200
    event = AuditEvent.objects.get(action="integration_key.rotate")
    assert (event.actor_id, event.target_id) == (head.pk, str(key.pk))
    assert event.before == {"prefix": old.split(".")[0]} and event.after == {"prefix": rotated.prefix}
    assert new.split(".", 1)[1] not in str(event.after)


def test_a_revoked_key_cannot_be_rotated(dept, head):
    key, _secret = services.integration_key_create(actor=head, department=dept, name="系统")
    services.integration_key_revoke(actor=head, key=key)
    with pytest.raises(Conflict):
        services.integration_key_rotate(actor=head, key=key)


def test_only_heads_of_the_keys_department_rotate_it(dept, head):
    key, _secret = services.integration_key_create(actor=head, department=dept, name="系统")
    for user in (f.member(dept, Role.STAFF), f.member(f.department(region=f.region()), Role.HEAD)):
        with pytest.raises(AccessDenied):
            services.integration_key_rotate(actor=user, key=key)
    assert not AuditEvent.objects.filter(action="integration_key.rotate").exists()


def test_the_api_rotates_and_shows_the_secret_once(dept, head):
    key, old = services.integration_key_create(actor=head, department=dept, name="系统")
    api = APIClient()
    api.force_login(head)
    response = api.post(f"/api/v1/integration-keys/{key.pk}/rotate/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == key.pk and body["secret"].startswith(body["prefix"] + ".")
    assert "secret" not in api.get(f"/api/v1/integration-keys/{key.pk}/").json()
    assert _me(body["secret"]).status_code == 200 and _me(old).status_code == 401


def test_the_api_revokes_and_the_key_stops_working(dept, head):
    key, secret = services.integration_key_create(actor=head, department=dept, name="系统")
    api = APIClient()
    api.force_login(head)
    assert api.post(f"/api/v1/integration-keys/{key.pk}/revoke/").status_code == 200
    assert _me(secret).status_code == 401
    assert AuditEvent.objects.filter(action="integration_key.revoke", target_id=str(key.pk)).count() == 1
    assert api.post(f"/api/v1/integration-keys/{key.pk}/rotate/").status_code == 409


def test_a_key_cannot_rotate_itself(dept, head):
    key, secret = services.integration_key_create(actor=head, department=dept, name="系统")
    response = APIClient().post(f"/api/v1/integration-keys/{key.pk}/rotate/", HTTP_AUTHORIZATION=f"Key {secret}")
    assert response.status_code in (403, 404)
    assert _me(secret).status_code == 200
