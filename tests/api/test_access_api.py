"""Data-access API wiring (PostgreSQL): request → staged approval → grant → reads through the
grant, with two principals (the health department asks, public security owns the data, the
leading group's information office co-approves). Masks and the row filter on every page and on
cursor pulls, 404s the moment a grant ends, one grant from parallel approvals, a ledger event for
every read, ignored and refused fields. (Scope per route and state: the permission matrix.)"""

import csv
import hashlib
import io
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.access import services
from apps.access.models import DataDemand, DataGrant, DataRequest, Subscription
from apps.datapool.models import DatasetGroupObjectPermission, Record
from apps.ledger.models import AuditEvent
from tests.access.world import access_world, incident
from tests.accounts.otp import verified_login
from tests.races import fresh_user, run_together

pytestmark = pytest.mark.django_db

CLEAR = ["name", "age", "gender"]
MASKED = ["id_number", "phone"]


# --- helpers ----------------------------------------------------------------------------------


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def verified_client_for(user) -> APIClient:
    """A session verified with a second factor: approving sensitive data needs one."""
    client = APIClient()
    verified_login(client, user)
    return client


def request_body(a, **kwargs) -> dict:
    return {
        "department": a.health.pk,
        "dataset": a.pool.dataset.pk,
        "fields": CLEAR,
        "masked_fields": MASKED,
        "purpose": "核查洪涝转移人员",
        "legal_basis": "《突发事件应对法》第五十四条",
        "duration_hours": 72,
    } | kwargs


def assert_error(response, status: int, code: str, fields=()):
    assert response.status_code == status, response.content[:400]
    payload = response.json()
    assert set(payload) == {"error"}, payload
    assert payload["error"]["code"] == code, payload
    assert payload["error"]["request_id"]
    for name in fields:
        assert name in payload["error"].get("fields", {}), payload


def granted(a, **kwargs) -> DataGrant:
    """A grant made through the services: the owner's head, then the office's head."""
    req = services.request_create(
        actor=a.health_steward,
        department=a.health,
        dataset=a.pool.dataset,
        fields=kwargs.pop("fields", CLEAR),
        masked_fields=kwargs.pop("masked_fields", MASKED),
        purpose="核查",
        legal_basis="法",
        duration_hours=kwargs.pop("duration_hours", 72),
        **kwargs,
    )
    services.request_decide(actor=a.pool.head, request=req, decision="approve", second_factor=True)
    services.request_decide(actor=a.office_head, request=req, decision="approve", second_factor=True)
    return DataGrant.objects.get(request=req)


def records_url(a) -> str:
    return reverse("api:dataset-granted-records", args=[a.pool.dataset.pk])


def csv_url(a) -> str:
    return reverse("api:dataset-granted-records-csv", args=[a.pool.dataset.pk])


def reads() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="data.read").order_by("seq"))


def pull_all(client, url, **params) -> list[dict]:
    """Follow `next` to the end; every page as answered."""
    pages = []
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content[:300]
        pages.append(response.json())
        if not pages[-1]["next"]:
            return pages
        response = client.get(pages[-1]["next"])


# --- the whole flow ---------------------------------------------------------------------------


def test_the_whole_flow_through_the_api_with_two_principals():
    """Given health's steward and public security's head, when health asks, both stages approve
    and health reads, then every step answers what the next one needs."""
    a = access_world()
    health, owner, office = (
        client_for(a.health_steward),
        verified_client_for(a.pool.head),
        verified_client_for(a.office_head),
    )

    # health asks (the Idempotency-Key makes a resend land on the first request)
    created = health.post("/api/v1/data-requests/", request_body(a), format="json", HTTP_IDEMPOTENCY_KEY="req-1")
    assert created.status_code == 201, created.content
    req = created.json()
    assert req["status"] == "submitted" and req["depth"] == 2 and req["grant"] is None
    assert req["department"]["id"] == a.health.pk and req["dataset"]["owner"]["id"] == a.pool.owner.pk
    again = health.post("/api/v1/data-requests/", request_body(a), format="json", HTTP_IDEMPOTENCY_KEY="req-1")
    assert again.status_code == 200 and again.json()["id"] == req["id"]
    assert DataRequest.objects.count() == 1

    # no grant yet: the records are not there for health
    assert_error(health.get(records_url(a)), 404, "not_found")

    # the owner sees it received and waiting for it; the office does not decide first
    received = owner.get("/api/v1/data-requests/", {"side": "received"}).json()
    assert [r["id"] for r in received["results"]] == [req["id"]]
    assert [r["id"] for r in health.get("/api/v1/data-requests/", {"side": "sent"}).json()["results"]] == [req["id"]]
    assert health.get("/api/v1/data-requests/", {"side": "received"}).json()["count"] == 0
    decide = f"/api/v1/data-requests/{req['id']}/decide/"
    assert_error(office.post(decide, {"decision": "approve"}, format="json"), 400, "not_your_stage")
    assert_error(health.post(decide, {"decision": "approve"}, format="json"), 403, "permission_denied")

    after_owner = owner.post(decide, {"decision": "approve", "reason": "同意"}, format="json")
    assert after_owner.status_code == 200, after_owner.content
    assert after_owner.json()["status"] == "submitted"
    assert [s["stage"] for s in after_owner.json()["approvals"]] == ["owner"]

    waiting = office.get("/api/v1/data-requests/", {"side": "decide"}).json()
    assert [r["id"] for r in waiting["results"]] == [req["id"]]
    final = office.post(decide, {"decision": "approve"}, format="json")
    assert final.status_code == 200 and final.json()["status"] == "granted"
    grant_id = final.json()["grant"]
    assert grant_id == DataGrant.objects.get(request_id=req["id"]).pk

    # health holds the grant, with the time it has left
    held = health.get("/api/v1/data-grants/", {"side": "held", "active": "true"}).json()["results"]
    assert [g["id"] for g in held] == [grant_id]
    assert held[0]["is_active"] and 72 * 3600 - 60 < held[0]["seconds_left"] <= 72 * 3600
    assert [s["stage"] for s in held[0]["approved_by"]] == ["owner", "office"]
    issued = owner.get("/api/v1/data-grants/", {"side": "issued"}).json()["results"]
    assert [g["id"] for g in issued] == [grant_id]

    # and reads through it: masked where the grant says, nothing else
    page = health.get(records_url(a)).json()
    assert page["grant"] == grant_id and page["dataset"] == a.pool.dataset.pk
    assert page["columns"] == ["id_number", "name", "phone", "age", "gender"]
    assert page["masked"] == MASKED
    assert len(page["results"]) == 30
    assert all(set(r["payload"]) == set(CLEAR + MASKED) for r in page["results"])

    # the owner revokes; the next read is a 404 at once
    revoked = owner.post(f"/api/v1/data-grants/{grant_id}/revoke/", {"reason": "任务结束"}, format="json")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] and revoked.json()["seconds_left"] == 0
    assert_error(health.get(records_url(a)), 404, "not_found")
    assert_error(health.get(csv_url(a)), 404, "not_found")
    assert DataRequest.objects.get(pk=req["id"]).status == "revoked"


def test_a_draft_is_submitted_or_withdrawn_by_its_department_and_a_rejection_needs_a_reason():
    a = access_world()
    health, owner = client_for(a.health_steward), client_for(a.pool.head)
    draft = health.post("/api/v1/data-requests/", request_body(a, submit=False), format="json").json()
    assert draft["status"] == "draft"
    # a draft stays with the requester
    assert_error(owner.get(f"/api/v1/data-requests/{draft['id']}/"), 404, "not_found")
    submitted = health.post(f"/api/v1/data-requests/{draft['id']}/submit/")
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    assert_error(health.post(f"/api/v1/data-requests/{draft['id']}/submit/"), 400, "invalid_transition")

    decide = f"/api/v1/data-requests/{draft['id']}/decide/"
    assert_error(owner.post(decide, {"decision": "reject"}, format="json"), 400, "invalid", fields=["reason"])
    assert_error(owner.post(decide, {"decision": "maybe"}, format="json"), 400, "invalid", fields=["decision"])
    rejected = owner.post(decide, {"decision": "reject", "reason": "用途不明确"}, format="json").json()
    assert rejected["status"] == "rejected" and rejected["rejection_reason"] == "用途不明确"
    assert rejected["approvals"][0]["decision"] == "reject"

    other = health.post("/api/v1/data-requests/", request_body(a), format="json").json()
    withdrawn = health.post(f"/api/v1/data-requests/{other['id']}/withdraw/", {"reason": "不再需要"}, format="json")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    # the owner sees it but may not withdraw it
    assert_error(owner.post(f"/api/v1/data-requests/{other['id']}/withdraw/"), 403, "permission_denied")


# --- masks and the filter on every read -------------------------------------------------------


def test_masks_and_the_row_filter_hold_on_every_cursor_page_and_each_page_is_one_ledger_event():
    a = access_world(rows=30)
    grant = granted(a, row_filter=[{"field": "gender", "op": "eq", "value": "女"}])
    expected = list(
        Record.objects.filter(dataset=a.pool.dataset, payload__gender="女").order_by("id").values_list("id", "payload")
    )
    assert 5 < len(expected) < 30
    health = client_for(a.health_steward)

    before = len(reads())
    pages = pull_all(health, records_url(a), page_size=4)
    rows = [r for p in pages for r in p["results"]]
    assert [r["id"] for r in rows] == [pk for pk, _ in expected]  # the filter's rows, in id order, once each
    for row, (_pk, payload) in zip(rows, expected, strict=True):
        shown = row["payload"]
        assert set(shown) == set(CLEAR + MASKED)
        assert shown["gender"] == "女" and shown["name"] == payload["name"] and shown["age"] == payload["age"]
        assert shown["id_number"] == payload["id_number"][0] + "*" * 16 + payload["id_number"][-1]
        assert shown["phone"] == payload["phone"][:3] + "****" + payload["phone"][-4:]
        assert "address" not in shown and "category" not in shown

    events = reads()[before:]
    assert len(events) == len(pages)  # one event per page, the last (short) page included
    assert [e.after["rows"] for e in events] == [len(p["results"]) for p in pages]
    assert all(e.after["grant"] == grant.pk and e.after["dataset"] == a.pool.dataset.pk for e in events)
    assert all(e.actor_id == a.health_steward.pk for e in events)
    assert events[0].after["query"]["cursor"] is None and events[1].after["query"]["cursor"]
    # the pull goes back as well as forward
    back = health.get(pages[1]["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in pages[0]["results"]]


def test_the_owner_reads_its_records_whole_and_that_read_is_in_the_ledger_too():
    a = access_world(rows=5)
    page = client_for(a.pool.staff).get(records_url(a)).json()
    assert page["grant"] is None and page["masked"] == []
    record = Record.objects.filter(dataset=a.pool.dataset).order_by("id").first()
    assert page["results"][0]["payload"] == record.payload
    event = reads()[-1]
    assert event.after["grant"] is None and event.after["rows"] == 5


def test_the_csv_export_is_one_ledger_event_with_the_row_count_and_the_hash_of_the_bytes_sent():
    a = access_world(rows=12)
    grant = granted(a, row_filter=[{"field": "age", "op": "gte", "value": 30}])
    expected = Record.objects.filter(dataset=a.pool.dataset, payload__age__gte=30).count()
    response = client_for(a.health_steward).get(csv_url(a), HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    content = response.content
    [event] = AuditEvent.objects.filter(action="data.export")
    assert event.after["rows"] == expected and event.after["grant"] == grant.pk
    assert event.after["sha256"] == hashlib.sha256(content).hexdigest() == response["X-Content-SHA256"]
    table = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert table[0] == ["id", "id_number", "name", "phone", "age", "gender"]
    assert len(table) == expected + 1
    assert all("*" in row[1] and "****" in row[3] and int(row[4]) >= 30 for row in table[1:])
    assert not AuditEvent.objects.filter(action="data.read").exists()  # the export is not also a page read


# --- 404s -------------------------------------------------------------------------------------


def test_records_answer_404_without_a_grant_after_expiry_and_for_another_province():
    a = access_world(rows=3)
    for user in (a.health_steward, a.stranger):
        for url in (records_url(a), csv_url(a)):
            assert_error(client_for(user).get(url), 404, "not_found")
    # a nonexistent dataset answers exactly like a hidden one
    ghost = client_for(a.health_steward).get(reverse("api:dataset-granted-records", args=[2_147_483_000]))
    hidden = client_for(a.health_steward).get(records_url(a))
    strip = lambda r: {k: v for k, v in r.json()["error"].items() if k != "request_id"}  # noqa: E731
    assert strip(ghost) == strip(hidden)
    assert AuditEvent.objects.filter(action="access.denied", target_id=str(a.pool.dataset.pk)).exists()

    granted(a, duration_hours=2)
    health = client_for(a.health_steward)
    assert health.get(records_url(a)).status_code == 200
    assert_error(client_for(a.stranger).get(records_url(a)), 404, "not_found")  # someone else's grant opens nothing
    with time_machine.travel(timezone.now() + timedelta(hours=2, seconds=1)):
        health = client_for(a.health_steward)  # two idle hours ended the old session: log in again
        before = len(reads())
        assert_error(health.get(records_url(a)), 404, "not_found")  # expired: at once, no sweep needed
        assert_error(health.get(csv_url(a)), 404, "not_found")
        assert len(reads()) == before  # a refused read is not a read
        held = health.get("/api/v1/data-grants/", {"side": "held"}).json()["results"]
        assert held[0]["is_active"] is False and held[0]["seconds_left"] == 0
    assert DatasetGroupObjectPermission.objects.filter(group=a.health.group).exists()  # the sweep has not run


def test_a_bad_cursor_is_a_404_in_the_one_error_format():
    a = access_world(rows=2)
    granted(a)
    assert_error(client_for(a.health_steward).get(records_url(a), {"cursor": "garbage"}), 404, "not_found")


# --- mass assignment and validation -----------------------------------------------------------


def test_status_author_and_grant_terms_in_a_payload_are_ignored():
    a = access_world(rows=2)
    health = client_for(a.health_steward)
    body = request_body(
        a,
        status="granted",
        depth=0,
        created_by=a.pool.head.pk,
        approved_by=[{"stage": "owner", "user": a.pool.head.pk}],
        valid_until="2099-01-01T00:00:00Z",
        is_emergency=True,
        submitted_at="2000-01-01T00:00:00Z",
    )
    response = health.post("/api/v1/data-requests/", body, format="json")
    assert response.status_code == 201, response.content
    req = DataRequest.objects.get(pk=response.json()["id"])
    assert req.status == "submitted" and req.depth == 2 and req.created_by == a.health_steward
    assert not DataGrant.objects.exists()

    # a decision cannot smuggle grant terms either, nor claim a second factor the session lacks
    services.request_decide(actor=a.pool.head, request=req, decision="approve", second_factor=True)
    decide = f"/api/v1/data-requests/{req.pk}/decide/"
    claim = {"decision": "approve", "valid_until": "2099-01-01T00:00:00Z", "fields": ["address"], "second_factor": True}
    assert_error(client_for(a.office_head).post(decide, claim, format="json"), 403, "second_factor_required")
    assert not DataGrant.objects.filter(request=req).exists()  # a claim in the body verifies nothing
    assert verified_client_for(a.office_head).post(decide, claim, format="json").status_code == 200
    grant = DataGrant.objects.get(request=req)
    assert grant.fields == CLEAR and not grant.is_emergency
    assert abs((grant.valid_until - grant.valid_from) - timedelta(hours=72)) < timedelta(seconds=1)
    assert [s["second_factor"] for s in grant.approved_by] == [True, True]  # from the sessions, not the body


def test_another_departments_name_in_a_payload_is_refused():
    a = access_world(rows=2)
    health = client_for(a.health_steward)
    # the owner department: seen (same city) but not health's to act for
    assert_error(
        health.post("/api/v1/data-requests/", request_body(a, department=a.pool.owner.pk)), 403, "permission_denied"
    )
    # a department of another province: not even seen
    far = a.stranger.memberships.get().department
    assert_error(health.post("/api/v1/data-requests/", request_body(a, department=far.pk)), 404, "not_found")
    assert_error(
        health.post("/api/v1/data-demands/", {"department": a.pool.owner.pk, "title": "x"}), 403, "permission_denied"
    )
    assert_error(health.post("/api/v1/subscriptions/", {"department": far.pk, "incident": 1}), 404, "not_found")
    assert not DataRequest.objects.exists() and not DataDemand.objects.exists()


def test_the_department_may_be_left_out_when_the_caller_acts_for_only_one():
    a = access_world(rows=2)
    body = request_body(a)
    del body["department"]
    response = client_for(a.health_steward).post("/api/v1/data-requests/", body, format="json")
    assert response.status_code == 201 and response.json()["department"]["id"] == a.health.pk


def test_invalid_requests_name_the_field_in_the_one_error_format():
    a = access_world(rows=2)
    health = client_for(a.health_steward)
    cases = [
        ({"fields": ["nope"]}, "invalid", "fields"),
        ({"row_filter": [{"field": "age", "op": "drop table", "value": 1}]}, "invalid_filter", "row_filter"),
        ({"row_filter": "age > 1; drop table"}, "invalid_filter", "row_filter"),
        ({"purpose": " "}, "invalid", "purpose"),
        ({"duration_hours": 0}, "invalid", "duration_hours"),
        ({"dataset": 2_147_483_000}, "invalid", "dataset"),
        ({"incident": 2_147_483_000}, "invalid", "incident"),
    ]
    for changes, code, field in cases:
        assert_error(
            health.post("/api/v1/data-requests/", request_body(a, **changes), format="json"), 400, code, fields=[field]
        )
    long_key = "k" * 65
    assert_error(
        health.post("/api/v1/data-requests/", request_body(a), format="json", HTTP_IDEMPOTENCY_KEY=long_key),
        400,
        "invalid",
        fields=["idempotency_key"],
    )
    assert not DataRequest.objects.exists()


# --- break-glass --------------------------------------------------------------------------------


def test_break_glass_through_the_api_is_time_boxed_flagged_and_reviewed():
    a = access_world(rows=4)
    inc = incident(a, severity=2)
    head = client_for(a.health_head)
    body = {
        "department": a.health.pk,
        "dataset": a.pool.dataset.pk,
        "incident": inc.pk,
        "justification": "转移被困群众",
        "hours": 4,
    }
    assert_error(head.post("/api/v1/data-grants/emergency/", body | {"hours": 48}), 400, "invalid", fields=["hours"])
    assert_error(client_for(a.health_steward).post("/api/v1/data-grants/emergency/", body), 403, "permission_denied")
    opened = head.post(
        "/api/v1/data-grants/emergency/",
        body | {"valid_until": "2099-01-01T00:00:00Z", "is_emergency": False, "fields": ["name"]},
        format="json",
    )
    assert opened.status_code == 201, opened.content
    grant = opened.json()
    assert grant["is_emergency"] and 4 * 3600 - 60 < grant["seconds_left"] <= 4 * 3600
    assert grant["masked_fields"] == [] and "address" in grant["fields"]

    again = head.post("/api/v1/data-grants/emergency/", body, format="json")  # a double click: the open grant
    assert again.status_code == 200 and again.json()["id"] == grant["id"]
    assert DataGrant.objects.filter(is_emergency=True).count() == 1

    page = head.get(records_url(a)).json()
    assert page["grant"] == grant["id"] and len(page["results"]) == 4
    assert reads()[-1].after["emergency"] is True

    owner = client_for(a.pool.head)
    waiting = owner.get("/api/v1/data-grants/", {"unreviewed": "true"}).json()["results"]
    assert [g["id"] for g in waiting] == [grant["id"]]
    assert_error(
        owner.post(f"/api/v1/data-grants/{grant['id']}/review/", {"approve": False, "note": " "}),
        400,
        "invalid",
        fields=["note"],
    )
    reviewed = owner.post(f"/api/v1/data-grants/{grant['id']}/review/", {"approve": False, "note": "不属于紧急情形"})
    assert reviewed.status_code == 200 and reviewed.json()["reviewed_at"] and reviewed.json()["revoked_at"]
    assert_error(head.get(records_url(a)), 404, "not_found")
    assert_error(
        owner.post(f"/api/v1/data-grants/{grant['id']}/review/", {"approve": True, "note": "x"}), 409, "conflict"
    )


# --- demands and subscriptions ------------------------------------------------------------------


def test_demands_are_posted_matched_and_closed():
    a = access_world(rows=2)
    health = client_for(a.health_steward)
    posted = health.post(
        "/api/v1/data-demands/",
        {"title": "独居老人名单", "standard_code": a.pool.standard.code, "tags": ["vulnerable"], "status": "met"},
        format="json",
    )
    assert posted.status_code == 201, posted.content
    demand = posted.json()
    assert demand["status"] == "open" and demand["department"]["id"] == a.health.pk
    assert [d["id"] for d in demand["suggested"]] == [a.pool.dataset.pk]
    assert demand["tags"] == ["vulnerable"]
    again = health.post("/api/v1/data-demands/", {"title": "独居老人名单"}, format="json")  # the same need: one demand
    assert again.status_code == 200 and again.json()["id"] == demand["id"]
    assert_error(health.post("/api/v1/data-demands/", {"title": "x", "tags": ["nope"]}), 400, "invalid", ["tags"])

    board = client_for(a.pool.staff).get("/api/v1/data-demands/", {"status": "open"}).json()["results"]
    assert [d["id"] for d in board] == [demand["id"]]
    # the board is open to all staff, closing is the posting department's
    assert_error(client_for(a.pool.head).post(f"/api/v1/data-demands/{demand['id']}/close/"), 403, "permission_denied")
    closed = health.post(f"/api/v1/data-demands/{demand['id']}/close/", {"met": False}, format="json")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert_error(health.post(f"/api/v1/data-demands/{demand['id']}/close/"), 409, "conflict")


def test_subscriptions_follow_only_granted_datasets_and_are_deleted():
    a = access_world(rows=2)
    health = client_for(a.health_steward)
    body = {"dataset": a.pool.dataset.pk}
    assert_error(health.post("/api/v1/subscriptions/", body), 400, "no_grant", fields=["dataset"])
    granted(a)
    first = health.post("/api/v1/subscriptions/", body)
    assert first.status_code == 201 and first.json()["dataset"]["id"] == a.pool.dataset.pk
    assert health.post("/api/v1/subscriptions/", body).status_code == 200  # following twice is harmless
    listed = health.get("/api/v1/subscriptions/").json()["results"]
    assert [s["id"] for s in listed] == [first.json()["id"]]
    assert client_for(a.pool.head).get("/api/v1/subscriptions/").json()["count"] == 0
    assert_error(client_for(a.pool.head).delete(f"/api/v1/subscriptions/{first.json()['id']}/"), 404, "not_found")
    assert health.delete(f"/api/v1/subscriptions/{first.json()['id']}/").status_code == 204
    assert not Subscription.objects.exists()


# --- the schema -------------------------------------------------------------------------------


def test_the_schema_documents_every_data_access_route(client, admin):
    client.force_login(admin)
    schema = client.get("/api/v1/schema/").content.decode()
    for path in (
        "/api/v1/data-requests/",
        "/api/v1/data-requests/{id}/",
        "/api/v1/data-requests/{id}/submit/",
        "/api/v1/data-requests/{id}/withdraw/",
        "/api/v1/data-requests/{id}/decide/",
        "/api/v1/data-grants/",
        "/api/v1/data-grants/{id}/",
        "/api/v1/data-grants/{id}/revoke/",
        "/api/v1/data-grants/{id}/review/",
        "/api/v1/data-grants/emergency/",
        "/api/v1/datasets/{id}/granted-records/",
        "/api/v1/datasets/{id}/granted-records.csv",
        "/api/v1/data-demands/",
        "/api/v1/data-demands/{id}/close/",
        "/api/v1/subscriptions/",
        "/api/v1/subscriptions/{id}/",
    ):
        assert f"{path}:" in schema, path
    assert "Idempotency-Key" in schema


# --- races --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_office_heads_approving_the_last_stage_together_make_exactly_one_grant():
    """Given a request the owner approved (depth 2: the office decides last), when two heads of
    the information office approve it at the same moment, then one wins, the other is told it is
    decided (409), and there is exactly one grant and one guardian permission."""
    a = access_world(rows=2)
    req = services.request_create(
        actor=a.health_steward,
        department=a.health,
        dataset=a.pool.dataset,
        fields=CLEAR,
        masked_fields=MASKED,
        purpose="核查",
        legal_basis="法",
        duration_hours=24,
    )
    services.request_decide(actor=a.pool.head, request=req, decision="approve", second_factor=True)
    heads = [a.office_head.pk, a.office_head2.pk]

    def prepare(i):
        return verified_client_for(fresh_user(heads[i]))

    def act(i, client):
        return client.post(f"/api/v1/data-requests/{req.pk}/decide/", {"decision": "approve"}, format="json")

    results = run_together(2, act, prepare)
    assert all(kind == "ok" for kind, _ in results), results
    codes = sorted(response.status_code for _, response in results)
    assert codes == [200, 409], [r.content for _, r in results]
    assert DataGrant.objects.filter(request=req).count() == 1
    assert DataRequest.objects.get(pk=req.pk).status == "granted"
    assert DatasetGroupObjectPermission.objects.filter(group=a.health.group).count() == 1
    assert AuditEvent.objects.filter(action="data_grant.create").count() == 1
