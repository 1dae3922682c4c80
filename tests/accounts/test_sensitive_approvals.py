"""Approving access to sensitive or secret data needs a second factor (decision 0012): the
service refuses without it, the portal sends the approver to verify, the API refuses integration
keys and unverified sessions. Other data, and rejections, need nothing more than before."""

import pytest
from rest_framework.test import APIClient

from apps.access import services
from apps.access.models import DataApproval, DataGrant
from apps.accounts import services as accounts
from apps.core.exceptions import SecondFactorRequired
from apps.core.permissions import Role
from apps.datapool.models import Dataset
from apps.ledger.models import AuditEvent
from apps.organizations.models import Membership
from tests.access.world import access_world
from tests.accounts.otp import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def a():
    return access_world(rows=2)


def _request(a):
    return services.request_create(
        actor=a.health_steward,
        department=a.health,
        dataset=a.pool.dataset,
        fields=["name", "age"],
        masked_fields=["phone"],
        purpose="核查洪涝转移人员",
        legal_basis="《突发事件应对法》第五十四条",
        duration_hours=24,
    )


def _decide_url(req) -> str:
    return f"/api/v1/data-requests/{req.pk}/decide/"


@pytest.mark.parametrize("classification", ["sensitive", "secret"])
def test_the_service_refuses_to_approve_without_a_second_factor(a, classification):
    req = _request(a)
    Dataset.objects.filter(pk=a.pool.dataset.pk).update(classification=classification)
    with pytest.raises(SecondFactorRequired) as refused:
        services.request_decide(actor=a.pool.head, request=req, decision="approve")
    assert refused.value.status == 403 and refused.value.code == "second_factor_required"
    assert not DataApproval.objects.exists()
    assert not AuditEvent.objects.filter(action="data_request.approve").exists()
    services.request_decide(actor=a.pool.head, request=req, decision="approve", second_factor=True)
    approval = DataApproval.objects.get()
    assert approval.second_factor is True
    assert AuditEvent.objects.get(action="data_request.approve").after["second_factor"] is True


def test_every_approving_stage_needs_it_not_only_the_first(a):
    req = services.request_decide(actor=a.pool.head, request=_request(a), decision="approve", second_factor=True)
    with pytest.raises(SecondFactorRequired):
        services.request_decide(actor=a.office_head, request=req, decision="approve")
    assert not DataGrant.objects.exists()


def test_rejecting_needs_no_second_factor(a):
    req = services.request_decide(actor=a.pool.head, request=_request(a), decision="reject", reason="用途不明确")
    assert req.status == "rejected"


def test_approving_internal_data_needs_no_second_factor(a):
    Dataset.objects.filter(pk=a.pool.dataset.pk).update(classification="internal")
    a.pool.dataset.refresh_from_db()
    req = services.request_decide(actor=a.pool.head, request=_request(a), decision="approve")
    assert req.status == "granted"
    assert DataApproval.objects.get().second_factor is False


def test_an_integration_key_never_approves_sensitive_data_even_for_a_head_account(a):
    key, secret = accounts.integration_key_create(actor=a.pool.head, department=a.pool.owner, name="联动系统")
    # The membership service refuses roles for service accounts; suppose one slipped through anyway.
    Membership.objects.filter(user=key.user).update(role=Role.HEAD)
    req = _request(a)
    api = APIClient()
    response = api.post(_decide_url(req), {"decision": "approve"}, format="json", HTTP_AUTHORIZATION=f"Key {secret}")
    assert response.status_code == 403 and response.json()["error"]["code"] == "second_factor_required"
    assert not DataApproval.objects.exists()


def test_an_api_session_approves_only_once_verified(a):
    req = _request(a)
    unverified = APIClient()
    unverified.force_login(a.pool.head)
    response = unverified.post(_decide_url(req), {"decision": "approve"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "second_factor_required"
    verified = APIClient()
    verified_login(verified, a.pool.head)
    response = verified.post(_decide_url(req), {"decision": "approve"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["approvals"][0]["second_factor"] is True


def test_an_api_rejection_needs_no_second_factor(a):
    req = _request(a)
    api = APIClient()
    api.force_login(a.pool.head)
    response = api.post(_decide_url(req), {"decision": "reject", "reason": "用途不明确"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "rejected"
