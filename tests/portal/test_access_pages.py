"""Data-access pages: the request form (and its double-click guard and filter builder), approval
through the pages, grants with the time they have left, records through a grant (masked values,
other fields absent, CSV formula-safe), a ledger event for every page view and one per export,
404 at once after expiry or revocation, break-glass and its review, demands and subscriptions.

The permission matrix (tests/matrix/test_access_portal_matrix.py) covers who gets what status;
these tests cover what the pages do. The world is the service tests' (tests/access/world.py): a
sensitive resident dataset of public security, so the information office co-approves.
"""

import csv
import hashlib
import io
from datetime import timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.access import services
from apps.access.models import DataDemand, DataGrant, DataRequest, Subscription
from apps.datapool.demo import csv_bytes, resident_rows
from apps.datapool.models import Record
from apps.ledger.models import AuditEvent
from tests.access.world import access_world, incident, load_bytes
from tests.accounts.otp import authenticator, code_for, verified_login

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def a(db):
    return access_world()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def create_url(dataset) -> str:
    return f"{reverse('portal:data-request-create')}?dataset={dataset.pk}"


def request_post(a, **changes) -> dict:
    data = {
        "department": a.health.pk,
        "dataset": a.pool.dataset.pk,
        "fields": ["name", "age", "gender"],
        "masked_fields": ["id_number", "phone"],
        "purpose": "核查洪涝转移人员",
        "legal_basis": "《突发事件应对法》第五十四条",
        "duration_hours": "72",
        "idempotency_key": "double-click-1",
    }
    return data | changes


def granted(a, **kwargs) -> DataGrant:
    """A grant for health on the resident dataset, approved by the owner's head and the office."""
    values = {
        "actor": a.health_steward,
        "department": a.health,
        "dataset": a.pool.dataset,
        "fields": ["name", "age", "gender"],
        "masked_fields": ["id_number", "phone"],
        "purpose": "核查洪涝转移人员",
        "legal_basis": "《突发事件应对法》第五十四条",
        "duration_hours": 72,
    }
    req = services.request_create(**(values | kwargs))
    req = services.request_decide(actor=a.pool.head, request=req, decision="approve", second_factor=True)
    req = services.request_decide(actor=a.office_head, request=req, decision="approve", second_factor=True)
    return DataGrant.objects.get(request=req)


def records_url(a) -> str:
    return reverse("portal:data-records", args=[a.pool.dataset.pk])


def csv_url(a) -> str:
    return reverse("portal:data-records-csv", args=[a.pool.dataset.pk])


def read_events():
    return AuditEvent.objects.filter(action="data.read")


# --- navigation ----------------------------------------------------------------------------------


def test_the_nav_leads_to_data_access(a):
    page = client_for(a.health_steward).get("/", **ZH).content.decode()
    assert f'href="{reverse("portal:data-request-list")}"' in page


# --- the request form ----------------------------------------------------------------------------


def test_the_form_shows_quality_freshness_and_masks_sensitive_fields_by_default(a):
    page = client_for(a.health_steward).get(create_url(a.pool.dataset), **EN).content.decode()
    assert a.pool.dataset.title in page
    assert "Quality score" in page and ("Fresh" in page or "Stale" in page)
    for name in a.pool.standard.sensitive_fields:  # id_number, name, phone
        assert f'name="masked_fields" value="{name}" id="id_masked_fields_{name}" checked' in page
    assert 'name="masked_fields" value="address" id="id_masked_fields_address">' in page
    assert 'name="fields" value="age" id="id_fields_age">' in page
    assert 'name="idempotency_key"' in page
    assert f'<option value="{a.health.pk}" selected>' in page  # the only department: preselected


def test_the_owner_is_not_offered_a_request_and_an_unseen_dataset_is_404(a):
    page = client_for(a.pool.steward).get(create_url(a.pool.dataset), **EN).content.decode()
    assert "needs no request" in page and 'name="purpose"' not in page
    ghost = client_for(a.health_steward).get(f"{reverse('portal:data-request-create')}?dataset=999999999")
    assert ghost.status_code == 404


def test_a_double_submit_creates_one_request(a):
    client = client_for(a.health_steward)
    first = client.post(create_url(a.pool.dataset), request_post(a))
    second = client.post(create_url(a.pool.dataset), request_post(a))
    assert DataRequest.objects.count() == 1
    req = DataRequest.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("portal:data-request-detail", args=[req.pk])
    assert req.status == "submitted" and req.fields == ["name", "age", "gender"]
    assert req.masked_fields == ["id_number", "phone"]


def test_the_filter_builder_posts_the_json_the_service_validates(a):
    data = request_post(
        a,
        cond1_field="gender",
        cond1_op="eq",
        cond1_value="女",
        cond2_field="age",
        cond2_op="between",
        cond2_value="18, 65",
        cond3_field="category",
        cond3_op="in",
        cond3_value="常住、重点关爱",
        region_code="320106",
        observed_from="2026-11-01T00:00",
        observed_to="2026-11-30T00:00",
        row_filter='[{"field": "age", "op": "gte", "value": 20}]',
    )
    response = client_for(a.health_steward).post(create_url(a.pool.dataset), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    spec = DataRequest.objects.get().row_filter
    assert spec[:4] == [
        {"field": "gender", "op": "eq", "value": "女"},
        {"field": "age", "op": "between", "value": [18, 65]},
        {"field": "category", "op": "in", "value": ["常住", "重点关爱"]},
        {"field": "_region", "op": "within", "value": "320106"},
    ]
    assert spec[4]["field"] == "_observed" and spec[4]["value"][0].startswith("2026-11-01T00:00:00+08:00")
    assert spec[5] == {"field": "age", "op": "gte", "value": 20}
    page = client_for(a.pool.head).get(reverse("portal:data-request-detail", args=[DataRequest.objects.get().pk]), **EN)
    assert "Age is between 18 and 65" in page.content.decode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"row_filter": "age > 1; drop table"}, "not valid JSON"),
        ({"row_filter": '[{"field": "age", "op": "drop", "value": 1}]'}, "Unknown operator"),
        ({"cond1_field": "age", "cond1_op": "gte", "cond1_value": "old"}, "takes numbers"),
        ({"fields": ["name"], "masked_fields": ["name"]}, "either in clear or masked"),
        ({"fields": [], "masked_fields": []}, "Choose at least one field"),
        ({"purpose": ""}, "This field is required"),
    ],
)
def test_refused_requests_say_why_on_the_form_and_create_nothing(a, changes, message):
    response = client_for(a.health_steward).post(create_url(a.pool.dataset), request_post(a, **changes), **EN)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not DataRequest.objects.exists()


def test_a_staff_member_may_not_request_for_their_department(a):
    from apps.core.permissions import Role
    from tests.factories import member

    staff = member(a.health, Role.STAFF)
    response = client_for(staff).post(create_url(a.pool.dataset), request_post(a))
    assert response.status_code == 403
    assert not DataRequest.objects.exists()


# --- approval through the pages ------------------------------------------------------------------


def test_approval_by_owner_then_office_grants_access_through_the_pages(a):
    client_for(a.health_steward).post(create_url(a.pool.dataset), request_post(a))
    req = DataRequest.objects.get()
    detail = reverse("portal:data-request-detail", args=[req.pk])
    approve = reverse("portal:data-request-approve", args=[req.pk])

    # the office cannot decide first: no form, and a POST is refused with the reason
    office_page = client_for(a.office_head).get(detail, **EN).content.decode()
    assert approve not in office_page and "head decides first" in office_page
    # owner staff see the request but have no forms
    assert approve not in client_for(a.pool.staff).get(detail).content.decode()
    # the owner's head: the queue holds it, the page offers approve and reject
    owner = client_for(a.pool.head)
    assert detail in owner.get(reverse("portal:data-approval-queue")).content.decode()
    assert approve in owner.get(detail).content.decode()
    # sensitive data: a password session is sent to verify its second factor first, and back
    response = owner.post(approve, {"reason": "同意"}, **EN)
    verify = reverse("portal:otp-verify")
    assert response.status_code == 302 and response["Location"] == f"{verify}?next={quote(detail, safe='')}"
    assert not req.approvals.exists()
    verified = owner.post(verify, {"token": code_for(authenticator(a.pool.head)), "next": detail})
    assert verified["Location"] == detail
    owner.get(detail)  # shows (and so clears) the messages so far
    response = owner.post(approve, {"reason": "同意"}, **EN)
    assert response.status_code == 302 and texts(response) == ["Approved. The next approver has been told."]
    assert detail not in owner.get(reverse("portal:data-approval-queue")).content.decode()
    # the office's head now decides, and the last approval grants
    office = Client()
    verified_login(office, a.office_head)
    assert detail in office.get(reverse("portal:data-approval-queue")).content.decode()
    response = office.post(approve, {"reason": ""}, **EN)
    assert texts(response) == ["Approved: access is granted."]
    req.refresh_from_db()
    assert req.status == "granted"
    grant = DataGrant.objects.get(request=req)
    page = client_for(a.health_steward).get(detail, **EN).content.decode()
    assert reverse("portal:data-grant-detail", args=[grant.pk]) in page
    assert "Granted" in page


def test_a_rejection_needs_a_reason_on_the_form(a):
    client_for(a.health_steward).post(create_url(a.pool.dataset), request_post(a))
    req = DataRequest.objects.get()
    reject = reverse("portal:data-request-reject", args=[req.pk])
    owner = client_for(a.pool.head)
    response = owner.post(reject, {"reason": " "}, **EN)
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    response = owner.post(reject, {"reason": "用途不明确"})
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == "rejected" and req.rejection_reason == "用途不明确"
    page = client_for(a.health_steward).get(reverse("portal:data-request-detail", args=[req.pk])).content.decode()
    assert "用途不明确" in page


def test_the_requester_withdraws_and_the_owner_cannot(a):
    client_for(a.health_steward).post(create_url(a.pool.dataset), request_post(a))
    req = DataRequest.objects.get()
    withdraw = reverse("portal:data-request-withdraw", args=[req.pk])
    assert client_for(a.pool.head).post(withdraw, {}).status_code == 403
    assert (
        withdraw
        in client_for(a.health_steward).get(reverse("portal:data-request-detail", args=[req.pk])).content.decode()
    )
    assert client_for(a.health_steward).post(withdraw, {"reason": "不再需要"}).status_code == 302
    req.refresh_from_db()
    assert req.status == "withdrawn"


def test_request_lists_by_side(a):
    client_for(a.health_steward).post(create_url(a.pool.dataset), request_post(a))
    req = DataRequest.objects.get()
    link = reverse("portal:data-request-detail", args=[req.pk])
    mine = client_for(a.health_steward)
    theirs = client_for(a.pool.head)
    assert link in mine.get(reverse("portal:data-request-list"), {"side": "sent"}).content.decode()
    assert link not in mine.get(reverse("portal:data-request-list"), {"side": "received"}).content.decode()
    assert link in theirs.get(reverse("portal:data-request-list"), {"side": "received"}).content.decode()
    assert link not in theirs.get(reverse("portal:data-request-list"), {"status": "granted"}).content.decode()


# --- grants --------------------------------------------------------------------------------------


def test_my_grants_show_the_time_left_and_hide_expired_ones(a):
    grant = granted(a, duration_hours=24)
    client = client_for(a.health_steward)
    with time_machine.travel(grant.valid_until - timedelta(hours=5, minutes=7), tick=False):
        client = client_for(a.health_steward)  # a fresh session: the old one ends with the clock
        page = client.get(reverse("portal:data-grant-list"), **EN).content.decode()
        assert reverse("portal:data-grant-detail", args=[grant.pk]) in page
        assert "5 h 07 min" in page
    with time_machine.travel(grant.valid_until + timedelta(minutes=1), tick=False):
        client = client_for(a.health_steward)
        page = client.get(reverse("portal:data-grant-list"), **EN).content.decode()
        assert reverse("portal:data-grant-detail", args=[grant.pk]) not in page
    issued = client_for(a.pool.head).get(reverse("portal:data-grant-issued")).content.decode()
    assert reverse("portal:data-grant-detail", args=[grant.pk]) in issued


def test_the_grant_page_shows_fields_masks_filter_and_approvers(a):
    grant = granted(a, row_filter=[{"field": "gender", "op": "eq", "value": "女"}])
    page = client_for(a.health_steward).get(reverse("portal:data-grant-detail", args=[grant.pk]), **EN).content.decode()
    for label in ("Name", "Age", "Gender", "ID number", "Phone"):
        assert label in page
    assert "Gender equals 女" in page
    assert "Owner department head" in page and "Information office" in page
    assert reverse("portal:data-records", args=[a.pool.dataset.pk]) in page
    assert reverse("portal:data-grant-revoke", args=[grant.pk]) not in page  # the holder cannot revoke
    assert (
        reverse("portal:data-grant-revoke", args=[grant.pk])
        in client_for(a.pool.head).get(reverse("portal:data-grant-detail", args=[grant.pk])).content.decode()
    )


# --- records through a grant ---------------------------------------------------------------------


def test_the_table_shows_masked_values_masked_and_leaves_other_fields_out(a):
    granted(a)
    record = Record.objects.filter(dataset=a.pool.dataset).order_by("id").first()
    payload = record.payload
    page = client_for(a.health_steward).get(records_url(a), **EN).content.decode()
    assert payload["name"] in page and str(payload["age"]) in page
    assert payload["phone"] not in page and f"{payload['phone'][:3]}****{payload['phone'][-4:]}" in page
    assert payload["id_number"] not in page
    assert payload["address"] not in page and "Address" not in page


def test_the_row_filter_holds_on_the_page(a):
    granted(a, row_filter=[{"field": "gender", "op": "eq", "value": "女"}])
    response = client_for(a.health_steward).get(records_url(a))
    expected = Record.objects.filter(dataset=a.pool.dataset, payload__gender="女").count()
    assert len(response.context["rows"]) == expected > 0
    gender = [c["name"] for c in response.context["columns"]].index("gender")
    assert {row["cells"][gender][1] for row in response.context["rows"]} == {"女"}


def test_every_page_view_is_a_read_in_the_ledger(a):
    grant = granted(a)
    client = client_for(a.health_steward)
    client.get(records_url(a))
    client.get(records_url(a))
    events = list(read_events().order_by("seq"))
    assert len(events) == 2
    assert all(e.after["grant"] == grant.pk and e.after["rows"] == 30 for e in events)


def test_pages_are_keyset_paged(a):
    load_bytes(a.pool.steward, a.pool.dataset, csv_bytes(resident_rows(40, seed=99)))
    granted(a)
    client = client_for(a.health_steward)
    first = client.get(records_url(a))
    assert len(first.context["rows"]) == 50 and first.context["next_after"]
    second = client.get(records_url(a), {"after": first.context["next_after"]})
    assert len(second.context["rows"]) == 20 and second.context["next_after"] is None
    assert [e.after["rows"] for e in read_events().order_by("seq")] == [50, 20]


def test_the_export_is_one_event_with_the_hash_of_the_bytes_sent_and_formula_safe_cells(a):
    rows = resident_rows(1, seed=5)
    rows[1][1] = "=HYPERLINK(1)"  # a name a spreadsheet would run
    load_bytes(a.pool.steward, a.pool.dataset, csv_bytes(rows))
    grant = granted(a)
    response = client_for(a.health_steward).get(csv_url(a), **EN)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    content = response.content
    event = AuditEvent.objects.get(action="data.export")
    assert event.after["sha256"] == hashlib.sha256(content).hexdigest()
    assert event.after["rows"] == 31 and event.after["grant"] == grant.pk
    assert not read_events().exists()
    table = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert table[0] == ["#", "ID number (masked)", "Name", "Phone (masked)", "Age", "Gender"]
    assert len(table) == 32
    assert ["'=HYPERLINK(1)"] == [row[2] for row in table[1:] if "HYPERLINK" in row[2]]
    assert all("****" in row[3] for row in table[1:])


def test_the_owner_reads_whole_records_on_the_same_page(a):
    record = Record.objects.filter(dataset=a.pool.dataset).order_by("id").first()
    page = client_for(a.pool.staff).get(records_url(a), **EN).content.decode()
    assert record.payload["phone"] in page and record.payload["address"] in page
    event = read_events().get()
    assert event.after["grant"] is None and event.after["rows"] == 30


def test_the_records_are_404_at_once_after_expiry(a):
    grant = granted(a, duration_hours=24)
    client = client_for(a.health_steward)
    assert client.get(records_url(a)).status_code == 200
    with time_machine.travel(grant.valid_until + timedelta(seconds=1)):
        client = client_for(a.health_steward)  # a fresh session: the old one ends with the clock
        assert client.get(records_url(a)).status_code == 404
        assert client.get(csv_url(a)).status_code == 404
    assert read_events().count() == 1
    assert not AuditEvent.objects.filter(action="data.export").exists()


def test_the_records_are_404_at_once_after_revocation_through_the_page(a):
    grant = granted(a)
    client = client_for(a.health_steward)
    assert client.get(records_url(a)).status_code == 200
    revoke = reverse("portal:data-grant-revoke", args=[grant.pk])
    assert client_for(a.pool.head).post(revoke, {"reason": ""}).status_code == 400  # a reason is required
    assert client_for(a.pool.head).post(revoke, {"reason": "事件已结束"}).status_code == 302
    assert client.get(records_url(a)).status_code == 404
    assert client.get(csv_url(a)).status_code == 404
    page = client.get(reverse("portal:data-grant-detail", args=[grant.pk]), **EN).content.decode()
    assert "Revoked" in page and "事件已结束" in page and records_url(a) not in page


def test_no_grant_no_records_even_for_a_department_that_sees_the_dataset(a):
    assert client_for(a.health_steward).get(records_url(a)).status_code == 404
    assert client_for(a.stranger).get(csv_url(a)).status_code == 404
    assert not read_events().exists()


# --- break-glass ---------------------------------------------------------------------------------


def test_break_glass_through_the_pages_then_reviewed_and_revoked(a):
    inc = incident(a, severity=2)
    head = client_for(a.health_head)
    form = head.get(f"{reverse('portal:data-emergency-create')}?dataset={a.pool.dataset.pk}", **EN).content.decode()
    assert f'<option value="{inc.pk}"' in form and f'<option value="{a.pool.dataset.pk}" selected>' in form
    post = {
        "department": a.health.pk,
        "dataset": a.pool.dataset.pk,
        "incident": inc.pk,
        "justification": "转移被困群众",
        "hours": "48",
    }
    assert head.post(reverse("portal:data-emergency-create"), post).status_code == 400  # hours, never days
    response = head.post(reverse("portal:data-emergency-create"), post | {"hours": "4"})
    grant = DataGrant.objects.get(is_emergency=True)
    assert response["Location"] == reverse("portal:data-grant-detail", args=[grant.pk])
    head.get(records_url(a))
    assert read_events().get().after["emergency"] is True
    # a steward is not a head
    steward = client_for(a.health_steward)
    assert steward.post(reverse("portal:data-emergency-create"), post | {"hours": "4"}).status_code == 403
    # the owner's head and the office's head see it to review; the review revokes it
    reviews = reverse("portal:data-emergency-reviews")
    link = reverse("portal:data-grant-detail", args=[grant.pk])
    assert link in client_for(a.pool.head).get(reviews).content.decode()
    assert link in client_for(a.office_head).get(reviews).content.decode()
    review = reverse("portal:data-grant-review", args=[grant.pk])
    assert review in client_for(a.office_head).get(link).content.decode()
    response = client_for(a.office_head).post(review, {"outcome": "revoke", "note": "不属于紧急情形"})
    assert response.status_code == 302
    assert link not in client_for(a.pool.head).get(reviews).content.decode()
    assert head.get(records_url(a)).status_code == 404


def test_break_glass_is_for_heads_only(a):
    page = client_for(a.health_steward).get(reverse("portal:data-emergency-create"), **EN).content.decode()
    assert "Department heads only" in page and 'name="justification"' not in page


# --- demands -------------------------------------------------------------------------------------


def test_a_demand_is_posted_suggested_matched_and_closed(a):
    client = client_for(a.health_steward)
    response = client.post(
        reverse("portal:data-demand-create"),
        {"department": a.health.pk, "title": "独居老人名单", "standard_code": a.pool.standard.code},
    )
    assert response.status_code == 302
    demand = DataDemand.objects.get()
    board = client.get(reverse("portal:data-demand-list")).content.decode()
    assert "独居老人名单" in board
    assert reverse("portal:dataset-detail", args=[a.pool.dataset.pk]) in board  # suggested
    # the provider keeps to demands that match its datasets
    owner = client_for(a.pool.steward)
    matching = owner.get(reverse("portal:data-demand-list"), {"status": "open", "matching": "on"}).content.decode()
    assert "独居老人名单" in matching
    assert (
        "独居老人名单"
        not in client_for(a.office_head)
        .get(reverse("portal:data-demand-list"), {"status": "open", "matching": "on"})
        .content.decode()
    )
    # only the posting department closes it
    close = reverse("portal:data-demand-close", args=[demand.pk])
    assert close in board
    assert close not in owner.get(reverse("portal:data-demand-list")).content.decode()
    assert owner.post(close, {"outcome": "met"}).status_code == 403
    assert client.post(close, {"outcome": "met"}).status_code == 302
    demand.refresh_from_db()
    assert demand.status == "met"
    assert "独居老人名单" not in client.get(reverse("portal:data-demand-list")).content.decode()  # open only
    assert "独居老人名单" in client.get(reverse("portal:data-demand-list"), {"status": ""}).content.decode()


# --- subscriptions -------------------------------------------------------------------------------


def test_follow_a_granted_dataset_from_the_grant_page_then_unfollow(a):
    grant = granted(a)
    client = client_for(a.health_steward)
    page = client.get(reverse("portal:data-grant-detail", args=[grant.pk]), **EN).content.decode()
    assert "Follow this dataset" in page
    response = client.post(
        reverse("portal:data-subscribe"),
        {"department": a.health.pk, "dataset": a.pool.dataset.pk, "next_grant": grant.pk},
    )
    assert response["Location"] == reverse("portal:data-grant-detail", args=[grant.pk])
    sub = Subscription.objects.get()
    listing = client.get(reverse("portal:data-subscription-list")).content.decode()
    assert f'id="subscription-{sub.pk}"' in listing
    assert client.post(reverse("portal:data-unsubscribe", args=[sub.pk])).status_code == 302
    assert not Subscription.objects.exists()


def test_a_dataset_without_a_grant_cannot_be_followed_but_an_incident_can(a):
    inc = incident(a)
    client = client_for(a.health_steward)
    response = client.post(reverse("portal:data-subscribe"), {"department": a.health.pk, "dataset": a.pool.dataset.pk})
    assert response.status_code == 400 and not Subscription.objects.exists()
    response = client.post(reverse("portal:data-subscribe"), {"department": a.health.pk, "incident": inc.pk})
    assert response.status_code == 302
    assert Subscription.objects.get().incident == inc


def test_pages_render_in_both_languages_without_errors(a):
    grant = granted(a)
    inc = incident(a)
    services.emergency_access_open(
        actor=a.health_head, department=a.health, dataset=a.pool.dataset, incident=inc, justification="x", hours=2
    )
    urls = [
        reverse("portal:data-request-list"),
        reverse("portal:data-approval-queue"),
        reverse("portal:data-request-detail", args=[grant.request_id]),
        reverse("portal:data-grant-list"),
        reverse("portal:data-grant-issued"),
        reverse("portal:data-grant-detail", args=[grant.pk]),
        reverse("portal:data-emergency-reviews"),
        reverse("portal:data-demand-list"),
        reverse("portal:data-demand-create"),
        reverse("portal:data-subscription-list"),
        reverse("portal:data-emergency-create"),
        create_url(a.pool.dataset),
    ]
    for user in (a.health_head, a.pool.head, a.office_head):
        client = client_for(user)
        for url in urls:
            for lang in (ZH, EN):
                assert client.get(url, **lang).status_code == 200, (user, url)
