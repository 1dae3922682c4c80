"""An unhandled exception answers in the platform's error formats: JSON under /api/, the portal's
offline 500 page elsewhere; never a traceback, always the request id."""

import pytest
from django.test import Client

from apps.core.permissions import Role
from apps.organizations.api.views import DepartmentViewSet
from apps.portal.views import DepartmentListView
from tests import factories as f

pytestmark = pytest.mark.django_db


def _boom(*, user):
    raise RuntimeError("secret internals: do not show")


@pytest.fixture
def staff():
    return f.member(f.department(region=f.region(), name="南京市应急管理局"), Role.STAFF)


def test_an_exception_in_an_api_view_answers_500_in_the_api_error_format(monkeypatch, staff):
    monkeypatch.setattr(DepartmentViewSet, "list_selector", _boom)
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    response = client.get("/api/v1/departments/", HTTP_ACCEPT_LANGUAGE="en", HTTP_X_REQUEST_ID="req-500-api")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {"code": "server_error", "message": "A server error occurred.", "request_id": "req-500-api"}
    }
    assert response["X-Request-ID"] == "req-500-api"
    assert b"secret internals" not in response.content and b"Traceback" not in response.content


def test_the_api_500_message_follows_the_language_of_the_request(monkeypatch, staff):
    monkeypatch.setattr(DepartmentViewSet, "list_selector", _boom)
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    message = client.get("/api/v1/departments/").json()["error"]["message"]
    assert message != "A server error occurred." and "错误" in message


@pytest.mark.parametrize(("language", "heading"), [("zh-hans", "服务器错误"), ("en", "Server error")])
def test_an_exception_in_a_portal_view_answers_the_portal_500_page(monkeypatch, staff, language, heading):
    monkeypatch.setattr(DepartmentListView, "list_selector", _boom)
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    response = client.get("/departments/", HTTP_ACCEPT_LANGUAGE=language, HTTP_X_REQUEST_ID="req-500-portal")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert heading in page and "req-500-portal" in page
    assert "secret internals" not in page and "Traceback" not in page
    assert "http://" not in page and "https://" not in page  # nothing from outside the intranet
