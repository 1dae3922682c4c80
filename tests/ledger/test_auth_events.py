"""Logins, failed logins and permission denials land in the ledger."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.ledger.selectors import ledger_verify
from tests import factories as f

pytestmark = pytest.mark.django_db


def _events(action):
    return AuditEvent.objects.filter(action=action).order_by("seq")


def test_portal_login_records_auth_login_with_the_user_as_actor(client):
    user = f.UserFactory(username="zhang.wei")
    response = client.post(reverse("portal:login"), {"username": "zhang.wei", "password": f.PASSWORD})
    assert response.status_code == 302
    events = list(_events("auth.login"))
    assert len(events) == 1
    event = events[0]
    assert (event.actor_id, event.actor_name, event.target_id, event.target_repr) == (
        user.pk,
        "zhang.wei",
        str(user.pk),
        "zhang.wei",
    )
    assert event.request_id  # the request id of the login request
    assert ledger_verify().ok


def test_wrong_password_records_auth_login_failed_with_the_username_and_no_login(client):
    f.UserFactory(username="li.na")
    response = client.post(reverse("portal:login"), {"username": "li.na", "password": "wrong-password-0"})
    assert response.status_code == 200  # the form again
    events = list(_events("auth.login_failed"))
    assert len(events) == 1
    event = events[0]
    assert event.actor_id is None
    assert event.after == {"username": "li.na"}
    assert "wrong-password-0" not in str(event.after)
    assert not _events("auth.login").exists()


def test_staff_patching_own_department_gets_403_and_a_denial_but_no_update_event():
    department = f.department(region=f.region(), name="应急管理局")
    staff = f.member(department, role=Role.STAFF)
    api = APIClient()
    api.force_authenticate(staff)
    response = api.patch(f"/api/v1/departments/{department.pk}/", {"name": "篡改名称"}, format="json")
    assert response.status_code == 403
    denials = list(_events("access.denied"))
    assert len(denials) == 1
    denial = denials[0]
    assert (denial.actor_id, denial.target_type, denial.target_id) == (
        staff.pk,
        "organizations.department",
        str(department.pk),
    )
    assert denial.after == {"action": "change", "model": "organizations.department"}
    assert not _events("department.update").exists()
    department.refresh_from_db()
    assert department.name == "应急管理局"


def test_user_of_another_region_getting_a_department_gets_404_and_a_denial():
    department = f.department(region=f.region())
    outsider = f.member(f.department(region=f.region()), role=Role.HEAD)
    api = APIClient()
    api.force_authenticate(outsider)
    response = api.get(f"/api/v1/departments/{department.pk}/")
    assert response.status_code == 404
    denials = list(_events("access.denied"))
    assert len(denials) == 1
    denial = denials[0]
    assert (denial.actor_id, denial.target_type, denial.target_id) == (
        outsider.pk,
        "organizations.department",
        str(department.pk),
    )
    assert denial.after == {"action": "view", "model": "organizations.department"}


def test_getting_a_department_id_that_does_not_exist_is_404_without_a_denial():
    outsider = f.member(f.department(region=f.region()), role=Role.HEAD)
    api = APIClient()
    api.force_authenticate(outsider)
    response = api.get("/api/v1/departments/999999/")
    assert response.status_code == 404
    assert not _events("access.denied").exists()


def test_portal_post_by_staff_to_own_department_gets_403_and_a_denial_but_no_update_event(client):
    department = f.department(region=f.region(), name="应急管理局")
    staff = f.member(department, role=Role.STAFF)
    client.force_login(staff)
    url = reverse("portal:department-detail", kwargs={"pk": department.pk})
    response = client.post(url, {"name": "篡改名称", "contact_phone": ""})
    assert response.status_code == 403
    denials = list(_events("access.denied"))
    assert len(denials) == 1
    assert (denials[0].actor_id, denials[0].target_id) == (staff.pk, str(department.pk))
    assert denials[0].after == {"action": "change", "model": "organizations.department"}
    assert not _events("department.update").exists()
    department.refresh_from_db()
    assert department.name == "应急管理局"


def test_portal_get_of_a_department_in_another_region_is_404_and_a_denial(client):
    department = f.department(region=f.region())
    outsider = f.member(f.department(region=f.region()), role=Role.STAFF)
    client.force_login(outsider)
    response = client.get(reverse("portal:department-detail", kwargs={"pk": department.pk}))
    assert response.status_code == 404
    denials = list(_events("access.denied"))
    assert len(denials) == 1
    assert (denials[0].actor_id, denials[0].target_id) == (outsider.pk, str(department.pk))
    assert denials[0].after == {"action": "view", "model": "organizations.department"}
