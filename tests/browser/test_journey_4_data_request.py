"""Journey 4 (issue 9): a health commission's data steward asks for the public-security bureau's
resident register, masked, for 72 hours, for a flood; it is approved with a second factor; the
steward reads and exports the masked records; after the grant ends the data is gone.

The register is classified sensitive, so approving it needs two heads, each with a session
verified by an authenticator code (decision 0012): the owner department's head and the head of
the information office of the leading group both departments sit in (apps.access.services:
`_depth` makes every sensitive request two-stage). Both approvals are done in the browser, each
head typing the code on the portal's verify page; the owner's head first tries to approve
without it and is sent to that page.

The world (regions, departments, the group, the incident, the loaded register, the heads'
authenticators) is made with the ORM and the services; everything the people do happens in
the browser. Expiry is set through the ORM (the grant's end moved into the past): every read
checks it, so the next page and the next export are refused.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from apps.access.choices import RequestStatus
from apps.access.models import DataGrant, DataRequest
from apps.core.permissions import Role
from apps.datapool import services as pool
from apps.datapool.choices import Classification
from apps.datapool.demo import RESIDENT_FIELDS, csv_bytes, hazmat_rows, resident_rows, standards_ensure
from apps.incidents import services as incidents
from apps.ledger.models import AuditEvent
from apps.organizations import services as orgs
from apps.organizations.choices import DepartmentType, LeadingGroupKind
from tests.accounts.otp import authenticator, code_for
from tests.browser.conftest import ZH_DATE
from tests.datapool.world import load_bytes
from tests.factories import admin_user, department, member, region

pytestmark = pytest.mark.browser

REGISTER = "东河市常住人口信息"
HAZMAT = "东河市危险化学品企业名录"
FLOOD = "东河城东堤段超警戒水位"
ROWS = 60  # more than one page of records (50)
# The first resident, whose clear values must never reach the steward.
ID_NUMBER, PHONE, NAME = "32010619800101001X", "13812341234", "王建国"
ID_MASKED, PHONE_MASKED, NAME_MASKED = "3****************X", "138****1234", "王**"
PURPOSE = "洪水淹没区重点关爱人员健康随访与转移安置医疗保障"
LEGAL_BASIS = "《中华人民共和国突发事件应对法》第五十四条"


def label(name: str, lang: str) -> str:
    spec = next(f for f in RESIDENT_FIELDS if f["name"] == name)
    return spec["label_en"] if lang == "en" else spec["label"]


def world():
    province = region(name="江淮省")
    city = region(parent=province, name="东河市")
    police = department(region=city, name="东河市公安局", type=DepartmentType.PUBLIC_SECURITY)
    health = department(region=city, name="东河市卫生健康委员会", type=DepartmentType.HEALTH)
    environment = department(region=city, name="东河市生态环境局", type=DepartmentType.ENVIRONMENT)
    ema = department(region=city, name="东河市应急管理局")
    office = department(region=province, name="江淮省应急管理厅", type=DepartmentType.EMERGENCY)
    center = department(region=province, name="江淮省大数据中心", type=DepartmentType.BIG_DATA_COMPANY)
    orgs.leading_group_create(
        actor=admin_user(),
        name="江淮省防汛抗旱指挥部",
        kind=LeadingGroupKind.STANDING,
        regions=[province],
        information_office=office,
        big_data_center=center,
        members=[police, health, ema],
    )
    police_steward = member(police, Role.STEWARD, display_name="公安局数据专员")
    register = pool.dataset_create(
        actor=police_steward,
        owner=police,
        standard=standards_ensure()["resident"],
        title=REGISTER,
        description="东河市户籍与常住人口登记信息，按日更新。",
        classification=Classification.SENSITIVE,
    )
    rows = resident_rows(ROWS, place="320106", seed=41)
    rows[1][:3] = [ID_NUMBER, NAME, PHONE]
    job = load_bytes(police_steward, register, csv_bytes(rows))
    assert (job.status, job.rows_accepted) == ("succeeded", ROWS), job.error_message()
    env_steward = member(environment, Role.STEWARD)
    hazmat = pool.dataset_create(
        actor=env_steward, owner=environment, standard=standards_ensure()["hazmat"], title=HAZMAT
    )
    load_bytes(env_steward, hazmat, csv_bytes(hazmat_rows()))
    flood = incidents.incident_report(
        actor=admin_user(),
        department=ema,
        title=FLOOD,
        category="natural_disaster",
        subtype="flood",
        severity=2,
        place="东河市城东堤K10–K14段",
        first_seen_at=timezone.now() - timedelta(hours=2),
    )
    flood = incidents.incident_verify(actor=admin_user(), incident=flood)
    owner_head = member(police, Role.HEAD, display_name="公安局局长")
    office_head = member(office, Role.HEAD, display_name="应急管理厅信息办主任")
    return {
        "register": register,
        "hazmat": hazmat,
        "flood": flood,
        "steward": member(health, Role.STEWARD, display_name="卫健委数据专员"),
        "owner_head": owner_head,
        "owner_device": authenticator(owner_head),
        "office_head": office_head,
        "office_device": authenticator(office_head),
    }


def heading(page):
    return page.locator("main h1")


def csrf_post(page, url: str):
    """A POST straight to `url` from the page's session (its CSRF cookie), as a crafted form would."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(url, headers={"X-CSRFToken": token}, form={"reason": ""}, max_redirects=0)


def verify_with_code(j, page, device):
    """On the portal's verify page: type the authenticator's current code and press Enter."""
    expect(page.locator("main h1")).to_have_text(j.t("Verify with your second factor"))
    code = page.get_by_role("textbox", name=j.t("Code"), exact=True)
    code.fill(code_for(device))
    code.press("Enter")
    expect(page.locator(".messages")).to_contain_text(j.t("This session is verified."))


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_journey_4_masked_data_request_approved_with_two_factors_read_exported_and_expired(journey, lang):
    w = world()
    j = journey("j4-data-request", lang, "desktop")
    register = w["register"]
    register.refresh_from_db()

    # --- the steward finds the register in the catalog: quality and freshness, no records ---
    steward = j.as_user(w["steward"])
    steward.get_by_role("navigation").get_by_role("link", name=j.t("Data pool"), exact=True).click()
    expect(heading(steward)).to_have_text(j.t("Data resource catalog"))
    expect(steward.locator("table.datasets tbody tr")).to_have_count(2)
    steward.get_by_label(j.t("Search")).fill("人口")
    steward.get_by_label(j.t("Classification")).select_option("sensitive")
    steward.get_by_role("button", name=j.t("Filter"), exact=True).click()
    expect(steward.locator("table.datasets tbody tr")).to_have_count(1)  # the hazmat list is filtered out
    entry = steward.locator(f"#dataset-{register.pk}")
    expect(entry).to_contain_text("东河市公安局")
    expect(entry.locator(".quality")).to_have_text(f"{register.quality_score:.1f}")
    expect(entry.locator(".fresh")).to_have_text(j.t("Fresh"))
    expect(entry.locator(".cls-sensitive")).to_have_text(j.t("Sensitive"))
    expect(entry.locator("td.num").first).to_have_text(str(ROWS))
    if lang == "zh-hans":
        expect(entry.locator("time")).to_have_text(re.compile(ZH_DATE))
    j.shot(steward, "1-catalog")

    steward.get_by_role("link", name=REGISTER, exact=True).click()
    expect(heading(steward)).to_have_text(REGISTER)
    expect(steward.locator(".score-line .quality")).to_have_text(f"{register.quality_score:.1f}")
    expect(steward.locator(".pagehead .fresh")).to_have_text(j.t("Fresh"))
    expect(steward.get_by_role("link", name=j.t("Browse the records"), exact=True)).to_have_count(0)
    expect(steward.get_by_role("link", name=j.t("Upload data"), exact=True)).to_have_count(0)
    for clear in (ID_NUMBER, PHONE, NAME, ID_MASKED):
        expect(steward.locator("body")).not_to_contain_text(clear)
    # the owner's record pages answer as if they did not exist
    j.expect_refusal(f"/data/{register.pk}/records/")
    assert steward.request.get(f"/data/{register.pk}/records/").status == 404
    j.shot(steward, "2-dataset")

    # --- the request: masked ID number, phone and name; a mistake first ---
    steward.get_by_role("link", name=j.t("Request access"), exact=True).click()
    expect(heading(steward)).to_have_text(j.t("Request data"))
    expect(steward.locator(".dataset-summary .quality")).to_have_text(f"{register.quality_score:.1f}")
    expect(steward.locator(".dataset-summary .fresh")).to_have_text(j.t("Fresh"))
    for name in ("id_number", "phone", "name"):  # sensitive fields come masked
        expect(steward.locator(f"#id_masked_fields_{name}")).to_be_checked()
        expect(steward.locator(f"#id_fields_{name}")).not_to_be_checked()
    for name in ("address", "age", "gender", "category"):
        steward.locator(f"#id_fields_{name}").check()
    steward.locator("#id_fields_id_number").check()  # in clear AND masked: refused
    steward.get_by_role("textbox", name=j.t("Purpose"), exact=True).fill(PURPOSE)
    steward.get_by_role("textbox", name=j.t("Legal basis"), exact=True).fill(LEGAL_BASIS)
    steward.get_by_role("combobox", name=j.t("Incident"), exact=True).select_option(str(w["flood"].pk))
    expect(steward.get_by_label(j.t("72 hours (3 days)"), exact=True)).to_be_checked()
    j.expect_refusal("/access/requests/new/")
    steward.get_by_role("button", name=j.t("Send the request"), exact=True).click()
    with translation.override(lang):
        both = str(translation.gettext("Choose either in clear or masked for: %(fields)s")) % {
            "fields": label("id_number", lang)
        }
    picker = steward.locator("fieldset.field-picker")
    expect(picker).to_have_class(re.compile(r"\binvalid\b"))
    expect(picker.get_by_role("alert")).to_have_text(both)
    purpose = steward.get_by_role("textbox", name=j.t("Purpose"), exact=True)
    expect(purpose).to_have_value(PURPOSE)  # nothing typed is lost
    j.shot(steward, "3-request-error")
    assert not DataRequest.objects.exists()

    steward.locator("#id_fields_id_number").uncheck()
    steward.get_by_role("button", name=j.t("Send the request"), exact=True).click()
    expect(steward.locator(".messages")).to_contain_text(j.t("Request sent to the owner department for approval."))
    req = DataRequest.objects.get()
    assert (req.status, req.depth, req.duration_hours, req.incident_id) == ("submitted", 2, 72, w["flood"].pk)
    assert req.fields == ["address", "age", "gender", "category"]
    assert req.masked_fields == ["id_number", "name", "phone"]
    expect(steward.locator(".field-chip.masked")).to_have_text([label(n, lang) for n in ("id_number", "name", "phone")])
    expect(steward.locator("ol.stages li")).to_have_count(2)  # the owner's head, then the information office
    # the requester may not approve: no button, and the server refuses the POST
    expect(steward.get_by_role("button", name=j.t("Approve the request"), exact=True)).to_have_count(0)
    j.expect_refusal(f"/access/requests/{req.pk}/approve/")
    assert csrf_post(steward, f"/access/requests/{req.pk}/approve/").status == 403
    j.shot(steward, "4-requested")

    # --- the owner's head: approving needs the second factor ---
    head = j.as_user(w["owner_head"])
    head.get_by_role("navigation").get_by_role("link", name=j.t("Data access"), exact=True).click()
    head.get_by_role("link", name=j.t("To approve"), exact=True).click()
    expect(heading(head)).to_have_text(j.t("Requests to approve"))
    head.locator(f"#request-{req.pk}").get_by_role("link", name=REGISTER).click()
    expect(head.locator(".facts")).to_contain_text(PURPOSE)
    expect(head.locator(".facts")).to_contain_text(FLOOD)
    head.get_by_role("button", name=j.t("Approve the request"), exact=True).click()
    expect(head.locator(".messages")).to_contain_text(
        j.t("Approving access to sensitive data needs your authenticator code. Enter it, then approve.")
    )
    assert not req.approvals.exists()  # refused until the session is verified
    j.shot(head, "5-second-factor")
    verify_with_code(j, head, w["owner_device"])

    # back on the request: approve with the keyboard (note, Tab to the button, Enter)
    expect(heading(head)).to_contain_text(REGISTER)
    note = head.get_by_role("textbox", name=j.t("Note"), exact=True)
    note.fill("同意，限用于本次洪水应急")
    note.press("Tab")
    expect(head.get_by_role("button", name=j.t("Approve the request"), exact=True)).to_be_focused()
    head.keyboard.press("Enter")
    expect(head.locator(".messages")).to_contain_text(j.t("Approved. The next approver has been told."))
    approval = req.approvals.get()
    assert (approval.stage, approval.second_factor, approval.decided_by_id) == ("owner", True, w["owner_head"].pk)

    # --- the information office co-approves (also with its code) ---
    office = j.as_user(w["office_head"])
    office.goto("/access/approvals/")
    office.locator(f"#request-{req.pk}").get_by_role("link", name=REGISTER).click()
    office.get_by_role("button", name=j.t("Approve the request"), exact=True).click()
    verify_with_code(j, office, w["office_device"])
    office.get_by_role("button", name=j.t("Approve the request"), exact=True).click()
    expect(office.locator(".messages")).to_contain_text(j.t("Approved: access is granted."))
    expect(office.locator("ol.stages .badge.second-factor")).to_have_count(2)  # both approved verified
    j.shot(office, "6-granted")
    req.refresh_from_db()
    assert req.status == RequestStatus.GRANTED
    grant = DataGrant.objects.get(request=req)
    assert grant.valid_until - grant.valid_from == timedelta(hours=72)

    # --- the steward: the grant and its time left ---
    steward.get_by_role("navigation").get_by_role("link", name=j.t("Data access"), exact=True).click()
    steward.get_by_role("link", name=j.t("Our grants"), exact=True).click()
    with translation.override(lang):
        left = re.escape(str(translation.gettext("%(hours)d h %(minutes)02d min")))
    left = left.replace(re.escape("%(hours)d"), "7[12]").replace(re.escape("%(minutes)02d"), r"\d\d")
    row = steward.locator(f"#grant-{grant.pk}")
    expect(row.locator(".time-left")).to_have_text(re.compile(f"^{left}$"))
    expect(row).to_contain_text(FLOOD)
    row.get_by_role("link", name=REGISTER).click()
    expect(steward.locator(".badge.time-left")).to_have_text(re.compile(left))
    approvers = steward.locator("#approvers-h + ul li")
    expect(approvers).to_have_count(2)
    expect(approvers.first).to_contain_text("公安局局长")
    expect(approvers.last).to_contain_text("应急管理厅信息办主任")
    expect(approvers.locator(".second-factor")).to_have_text([j.t("Verified with a second factor")] * 2)
    if lang == "zh-hans":
        expect(steward.locator(".facts time").last).to_have_text(re.compile(ZH_DATE))
        expect(approvers.first.locator(".muted")).to_have_text(re.compile(ZH_DATE))
    j.shot(steward, "7-grant")

    # --- the masked records, 50 to a page ---
    steward.get_by_role("link", name=j.t("Read the records"), exact=True).click()
    records = steward.locator("table.records tbody tr")
    expect(records).to_have_count(50)
    first = records.first
    expect(first.locator(f"td[data-label='{label('id_number', lang)}']")).to_have_text(ID_MASKED)
    expect(first.locator(f"td[data-label='{label('phone', lang)}']")).to_have_text(PHONE_MASKED)
    expect(first.locator(f"td[data-label='{label('name', lang)}']")).to_have_text(NAME_MASKED)
    headers = steward.locator("table.records thead th")
    expect(headers.filter(has_text=label("observed_at", lang))).to_have_count(0)  # outside the grant: absent
    for clear in (ID_NUMBER, PHONE, NAME):
        expect(steward.locator("body")).not_to_contain_text(clear)
    expect(steward.locator(".grant-banner")).to_contain_text(re.compile(left))
    j.shot(steward, "8-records")
    steward.get_by_role("link", name=j.t("Next"), exact=True).click()
    expect(records).to_have_count(ROWS - 50)
    steward.get_by_role("link", name=j.t("First"), exact=True).click()
    expect(records).to_have_count(50)

    # --- the export: UTF-8 with a BOM, the same masks ---
    with steward.expect_download() as download_info:
        steward.get_by_role("link", name=j.t("Export CSV"), exact=True).click()
    raw = download_info.value.path().read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, body = table[0], table[1:]
    with translation.override(lang):
        masked_header = str(translation.gettext("%(field)s (masked)"))
    assert header == [
        "#",
        masked_header % {"field": label("id_number", lang)},
        masked_header % {"field": label("name", lang)},
        masked_header % {"field": label("phone", lang)},
        label("address", lang),
        label("age", lang),
        label("gender", lang),
        label("category", lang),
    ]
    if lang == "zh-hans":
        assert header[1] == masked_header % {"field": "身份证号"}
    assert len(body) == ROWS
    assert body[0][1:4] == [ID_MASKED, NAME_MASKED, PHONE_MASKED]
    assert all(re.fullmatch(r"\d\*{16}[\dX]", r[1]) and re.fullmatch(r"\d{3}\*{4}\d{4}", r[3]) for r in body)
    text = raw.decode("utf-8-sig")
    assert ID_NUMBER not in text and PHONE not in text and NAME not in text
    export = AuditEvent.objects.filter(action="data.export").get()
    assert (export.after["grant"], export.after["rows"]) == (grant.pk, ROWS)

    # --- the grant ends: the next read and the next export are refused at once ---
    DataGrant.objects.filter(pk=grant.pk).update(
        valid_from=timezone.now() - timedelta(hours=73), valid_until=timezone.now() - timedelta(minutes=1)
    )
    j.expect_refusal(f"/access/datasets/{register.pk}/records")
    steward.reload()
    expect(heading(steward)).to_have_text(j.t("Not found"))
    expect(steward.locator("table.records")).to_have_count(0)
    for masked in (ID_MASKED, PHONE_MASKED):
        expect(steward.locator("body")).not_to_contain_text(masked)
    assert steward.request.get(f"/access/datasets/{register.pk}/records.csv").status == 404
    steward.goto(f"/access/grants/{grant.pk}/")
    expect(steward.locator(".pagehead .badges")).to_contain_text(j.t("Ended"))
    expect(steward.locator(".badge.time-left")).to_have_count(0)
    expect(steward.get_by_role("link", name=j.t("Read the records"), exact=True)).to_have_count(0)
    j.shot(steward, "9-ended")
    steward.get_by_role("link", name=j.t("Our grants"), exact=True).first.click()
    expect(steward.locator("table.data-grants tbody")).to_contain_text(j.t("No valid grants."))
    assert AuditEvent.objects.filter(action="data.export").count() == 1  # the refused export read nothing
