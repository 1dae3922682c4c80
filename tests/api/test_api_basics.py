"""API wiring: one error format, integration keys, pagination, offline docs, ignored fields."""

import pytest
from django.urls import reverse

from apps.accounts.models import IntegrationKey
from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def dept(admin):
    return f.department(region=f.region(), name="南京市应急管理局")


@pytest.fixture
def head(dept):
    return f.member(dept, Role.HEAD)


def test_unauthenticated_requests_get_401_in_the_error_format(api_client):
    response = api_client.get("/api/v1/departments/")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert error["request_id"] == response["X-Request-ID"]


def test_an_out_of_scope_object_is_a_404_in_the_error_format(api_client, dept):
    outsider = f.member(f.department(region=f.region()))
    api_client.force_authenticate(outsider)
    response = api_client.get(f"/api/v1/departments/{dept.pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_invalid_input_is_a_400_listing_the_fields(api_client, dept, head):
    api_client.force_authenticate(head)
    response = api_client.patch(f"/api/v1/departments/{dept.pk}/", {"name": "x" * 500}, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid" and "name" in body["fields"]


def test_a_well_formed_request_id_is_echoed_and_lands_in_the_ledger(api_client, dept, head):
    api_client.force_authenticate(head)
    response = api_client.patch(
        f"/api/v1/departments/{dept.pk}/", {"contact_phone": "025-1"}, format="json", HTTP_X_REQUEST_ID="req-123"
    )
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-123"
    assert AuditEvent.objects.get(action="department.update").request_id == "req-123"


def test_fields_outside_the_writable_set_are_ignored_on_patch(api_client, dept, head):
    other_region = f.region()
    api_client.force_authenticate(head)
    response = api_client.patch(
        f"/api/v1/departments/{dept.pk}/",
        {"contact_phone": "025-2", "region": other_region.pk, "type": "ngo", "is_active": False, "id": 999},
        format="json",
    )
    assert response.status_code == 200
    dept.refresh_from_db()
    assert (dept.contact_phone, dept.region_id, dept.type, dept.is_active) == (
        "025-2",
        dept.region_id,
        "emergency",
        True,
    )
    assert dept.region_id != other_region.pk


def test_lists_are_paginated(api_client, admin):
    region = f.region()
    for _ in range(3):
        f.department(region=region)
    user = f.member(f.department(region=region))
    api_client.force_authenticate(user)
    body = api_client.get("/api/v1/departments/?page_size=2").json()
    assert body["count"] == 4 and len(body["results"]) == 2 and body["next"]


def test_integration_key_is_shown_once_stored_hashed_and_acts_for_its_department(api_client, dept, head):
    api_client.force_authenticate(head)
    response = api_client.post(
        "/api/v1/integration-keys/", {"name": "区县上报系统", "department": dept.pk}, format="json"
    )
    assert response.status_code == 201
    secret = response.json()["secret"]
    key = IntegrationKey.objects.get(pk=response.json()["id"])
    assert secret.split(".", 1)[1] not in key.key_hash and key.key_hash == IntegrationKey.hash_secret(
        secret.split(".", 1)[1]
    )

    api_client.force_authenticate(None)
    me = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Key {secret}")
    assert me.status_code == 200
    assert [m["department"] for m in me.json()["memberships"]] == [dept.pk]
    listed = api_client.get("/api/v1/departments/", HTTP_AUTHORIZATION=f"Key {secret}").json()
    assert dept.pk in [d["id"] for d in listed["results"]]


def test_a_revoked_or_wrong_key_is_refused(api_client, dept, head):
    from apps.accounts import services

    key, secret = services.integration_key_create(actor=head, department=dept, name="系统")
    wrong = secret[:-2] + ("aa" if not secret.endswith("aa") else "bb")
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Key {wrong}").status_code == 401
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION="Key nonsense").status_code == 401
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION="Key 0123456789ab.guess").status_code == 401
    services.integration_key_revoke(actor=head, key=key)
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Key {secret}").status_code == 401

    # one `auth.key_failed` per refused attempt, with the public prefix only, never the secret
    failures = list(AuditEvent.objects.filter(action="auth.key_failed").order_by("seq"))
    assert [(e.after["prefix"], e.after["reason"]) for e in failures] == [
        (key.prefix, "wrong_secret"),
        ("", "malformed"),
        ("0123456789ab", "unknown"),
        (key.prefix, "revoked"),
    ]
    assert all(e.actor_id is None for e in failures)
    assert [e.target_id for e in failures] == [str(key.pk), "", "", str(key.pk)]
    assert failures[0].region_id == dept.region_id  # the department's heads see attempts on its keys
    secret_part = secret.split(".", 1)[1]
    for event in failures:
        stored = str(event.after) + event.target_repr
        assert secret_part[:8] not in stored and "nonsense" not in stored and "guess" not in stored


@pytest.mark.django_db(transaction=True)
def test_a_refused_key_stays_in_the_ledger_although_the_request_fails(api_client):
    # no test transaction around the request: what is visible afterwards was committed
    assert api_client.get("/api/v1/me/", HTTP_AUTHORIZATION="Key 0123456789ab.guess").status_code == 401
    assert list(AuditEvent.objects.values_list("action", "after")) == [
        ("auth.key_failed", {"prefix": "0123456789ab", "reason": "unknown"})
    ]


def test_staff_cannot_issue_keys_for_their_department(api_client, dept):
    staff = f.member(dept, Role.STAFF)
    api_client.force_authenticate(staff)
    response = api_client.post("/api/v1/integration-keys/", {"name": "x", "department": dept.pk}, format="json")
    assert response.status_code == 403
    assert not IntegrationKey.objects.exists()


def test_schema_and_swagger_ui_are_served_without_any_external_asset(client, head):
    client.force_login(head)
    schema = client.get(reverse("api:schema"))
    assert schema.status_code == 200 and b"/api/v1/departments/" in schema.content
    page = client.get(reverse("api:docs")).content.decode()
    assert "swagger-ui" in page
    assert "cdn." not in page and "https://" not in page.replace("https://swagger.io", "")
