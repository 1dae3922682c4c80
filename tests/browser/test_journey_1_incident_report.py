"""Journey 1 (issue 9): a county emergency-management duty officer reports an incident, attaches a
photo from the scene and submits the initial situation report (信息报送).

The duty officer (staff of the county's emergency-management bureau) opens the incident list (two
pages of earlier incidents), starts a report and submits it twice with a mistake: first without the
place (the form's own error), then with a sub-type of another category (the service's error); each
time the message stands beside its field, in the page's language, and nothing typed is lost. The
third try reports the flood: its page shows the facts (dates in Chinese under zh-hans), the first
timeline entry and the statutory clocks. The officer attaches a JPEG drawn here with Pillow (the
submit button reached with Tab and pressed with Enter): the image is on the page and has loaded.
The initial report then meets the county's clock. The officer sees no command buttons on the
incident, and the server refuses a verification posted anyway. Back on the list, a filter finds the
incident alone.

Runs in Chinese and in English, on a desktop and at a phone's viewport.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from apps.core.permissions import Role
from apps.incidents.choices import Category, ClockKind, IncidentStatus, ReportKind, Severity, Subtype
from apps.incidents.models import Incident, IncidentPhoto, ReportingClock, SituationReport
from apps.organizations.choices import RegionLevel
from tests import factories as f
from tests.browser.conftest import ZH_DATE

pytestmark = pytest.mark.browser

TITLE = "东河县城东堤管涌险情"
PLACE = "东河县城东堤 K12+300"
CAPTION = "城东堤 K12+300 堤脚管涌"
SITUATION = "堤脚出现管涌，直径约 0.3 米，已组织巡堤人员值守，转移下游群众 120 人。"
EARLIER = 26  # one more than a page of the incident list


def scene():
    """A province, its city and a county; the county's and the city's emergency-management bureaus
    (the city's gets a reporting clock too); a duty officer of the county; and a page and a bit of
    earlier incidents reported in the county (rows only: they fill the list)."""
    province = f.region(name="江淮省")
    city = f.region(parent=province, name="东河市")
    county = f.region(parent=city, name="东河县", level=RegionLevel.COUNTY)
    county_ema = f.department(region=county, name="东河县应急管理局")
    f.department(region=city, name="东河市应急管理局")
    officer = f.member(county_ema, Role.STAFF, display_name="东河县值班员")
    now = timezone.now()
    Incident.objects.bulk_create(
        Incident(
            title=f"东河县道路交通事故 {n:02d}",
            category=Category.ACCIDENT,
            subtype=Subtype.TRAFFIC,
            severity=Severity.IV,
            status=IncidentStatus.CLOSED,
            region=county,
            place="G345 国道",
            first_seen_at=now - timedelta(days=n + 1),
            reported_at=now - timedelta(days=n + 1),
            closed_at=now - timedelta(days=n),
            reporting_department=county_ema,
            created_by=officer,
        )
        for n in range(EARLIER)
    )
    return {"county": county, "county_ema": county_ema, "officer": officer}


def scene_photo() -> bytes:
    """A small JPEG: a river, a dike and a dark spot where the water seeps through."""
    image = Image.new("RGB", (480, 320), (135, 185, 225))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 200, 480, 320), fill=(70, 120, 170))
    draw.polygon([(0, 200), (480, 160), (480, 230), (0, 260)], fill=(150, 120, 80))
    draw.ellipse((250, 205, 290, 225), fill=(60, 50, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def labelled(scope, text: str):
    """The input whose label reads `text` (a required field's label ends in an asterisk hidden
    from screen readers)."""
    return scope.get_by_label(re.compile(rf"^\s*{re.escape(text)}\s*\*?\s*$"))


def field_of(page, name: str):
    """The form field's wrapper (label, input, help and errors) holding the input `name`."""
    return page.locator(".field", has=page.locator(f"[name={name}]"))


def csrf_post(page, url: str, form: dict | None = None):
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(url, headers={"X-CSRFToken": token}, form=form or {}, max_redirects=0)


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_journey_1_a_duty_officer_reports_an_incident_with_a_photo_and_the_initial_report(journey, lang, device):
    s = scene()
    j = journey("j1-report", lang, device)
    first_seen = timezone.localtime(timezone.now() - timedelta(minutes=40)).replace(second=0, microsecond=0)

    # --- the list: two pages of earlier incidents -----------------------------------------------
    page = j.as_user(s["officer"])
    heading = page.locator("main h1")
    nav = page.get_by_role("navigation", name=j.t("Main navigation"))
    nav.get_by_role("link", name=j.t("Incidents"), exact=True).click()
    expect(heading).to_have_text(j.t("Incidents"))
    expect(page.locator("table.incidents tbody tr")).to_have_count(25)
    pagination = page.get_by_role("navigation", name=j.t("Pages"))
    expect(pagination).to_contain_text(re.compile(r"\b1\b.*\b2\b"))
    j.shot(page, "1-list")

    # --- the report form, first without the place ---------------------------------------------
    page.get_by_role("link", name=j.t("Report an incident"), exact=True).click()
    expect(heading).to_have_text(j.t("Report an incident"))
    expect(labelled(page, j.t("Reporting department"))).to_have_value(str(s["county_ema"].pk))
    labelled(page, j.t("Title")).fill(TITLE)
    labelled(page, j.t("Category")).select_option(Category.NATURAL_DISASTER)
    labelled(page, j.t("Sub-type")).select_option(Subtype.TRAFFIC)  # not a natural disaster
    labelled(page, j.t("Severity")).select_option(str(Severity.III))
    labelled(page, j.t("Latitude")).fill("31.862")
    labelled(page, j.t("Longitude")).fill("117.284")
    labelled(page, j.t("First seen at")).fill(first_seen.strftime("%Y-%m-%dT%H:%M"))
    labelled(page, j.t("Affected regions")).select_option(str(s["county"].pk))
    labelled(page, j.t("Description")).fill(SITUATION)
    place = labelled(page, j.t("Place"))
    place.evaluate("el => el.removeAttribute('required')")  # let the server answer, not the browser
    j.expect_refusal("/incidents/new/")
    page.get_by_role("button", name=j.t("Submit the report"), exact=True).click()

    # Then: the error stands beside the place, in the page's language; what was typed is kept
    expect(field_of(page, "place")).to_have_class(re.compile(r"\binvalid\b"))
    expect(field_of(page, "place").get_by_role("alert")).to_have_text(j.t("This field is required."))
    expect(labelled(page, j.t("Place"))).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field.invalid")).to_have_count(1)
    expect(labelled(page, j.t("Title"))).to_have_value(TITLE)
    j.shot(page, "2-form-error")

    # --- then with a sub-type of another category: the service's message on the sub-type ------------
    labelled(page, j.t("Place")).fill(PLACE)
    page.get_by_role("button", name=j.t("Submit the report"), exact=True).click()
    expect(field_of(page, "subtype").get_by_role("alert")).to_have_text(
        j.t("This sub-type does not belong to the category.")
    )
    expect(page.locator(".field.invalid")).to_have_count(1)
    assert not Incident.objects.filter(title=TITLE).exists()

    # --- reported ---------------------------------------------------------------------------------
    labelled(page, j.t("Sub-type")).select_option(Subtype.FLOOD)
    page.get_by_role("button", name=j.t("Submit the report"), exact=True).click()
    expect(heading).to_have_text(TITLE)
    incident = Incident.objects.get(title=TITLE)
    expect(page).to_have_url(re.compile(rf"/incidents/{incident.pk}/$"))
    expect(page.locator(".messages")).to_contain_text(TITLE)
    expect(page.locator(".pagehead .badge.sev-3")).to_be_visible()
    timeline = page.locator("ol.timeline li")
    expect(timeline).to_have_count(1)
    expect(timeline.first).to_contain_text(j.t("Incident reported"))
    expect(timeline.first).to_contain_text(s["county_ema"].name)
    clocks = page.locator("ul.clocks li")
    expect(clocks).to_have_count(2)  # the county's own, and the city's above it
    own_clock = clocks.filter(has_text=s["county_ema"].name)
    expect(own_clock.locator(".badge")).to_have_text(j.t("Open"))
    first_seen_shown = page.locator(".facts dd").nth(4)
    if lang == "zh-hans":
        expect(first_seen_shown).to_have_text(re.compile(ZH_DATE))
    else:
        expect(first_seen_shown).to_have_text(first_seen.strftime("%Y-%m-%d %H:%M"))
    # a duty officer does not command: no command forms, and the server refuses a verification anyway
    expect(page.get_by_role("button", name=j.t("Verify the incident"))).to_have_count(0)
    expect(page.locator("section.command")).to_have_count(0)
    j.expect_refusal(f"/incidents/{incident.pk}/verify/")
    assert csrf_post(page, f"/incidents/{incident.pk}/verify/").status == 403
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.REPORTED
    j.shot(page, "3-reported")

    # --- a photo from the scene ---------------------------------------------------------------------
    photos = page.locator("section", has=page.get_by_role("heading", name=j.t("Photos"), exact=True))
    expect(photos).to_contain_text(j.t("No photos yet."))
    photos.locator("summary").click()
    labelled(photos, j.t("Photo")).set_input_files(
        {"name": "dike-k12.jpg", "mimeType": "image/jpeg", "buffer": scene_photo()}
    )
    caption = labelled(photos, j.t("Caption"))
    caption.fill(CAPTION)
    caption.press("Tab")  # keyboard only: from the caption to the button, and Enter
    attach = photos.get_by_role("button", name=j.t("Attach the photo"), exact=True)
    expect(attach).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator(".messages")).to_contain_text(j.t("Photo attached."))
    photos = page.locator("section", has=page.get_by_role("heading", name=j.t("Photos"), exact=True))
    image = photos.get_by_role("img", name=CAPTION)
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [480, 320]
    expect(photos.locator("figcaption")).to_contain_text(s["county_ema"].name)
    expect(page.locator("ol.timeline li").last).to_contain_text(CAPTION)
    photo = IncidentPhoto.objects.get(incident=incident)
    assert (photo.content_type, photo.width, photo.height, photo.department) == (
        "image/jpeg",
        480,
        320,
        s["county_ema"],
    )
    j.shot(page, "4-photo")

    # --- the initial situation report meets the county's clock ---------------------------------------
    reports = page.locator("section", has=page.get_by_role("heading", name=j.t("Situation reports"), exact=True))
    reports.locator("summary").click()
    expect(labelled(reports, j.t("Kind of report"))).to_have_value(ReportKind.INITIAL)
    labelled(reports, j.t("Situation")).fill(SITUATION)
    labelled(reports, j.t("Evacuated")).fill("120")
    labelled(reports, j.t("Resources deployed")).fill("巡堤人员 30 名，编织袋 2000 条")
    reports.get_by_role("button", name=j.t("Submit the report"), exact=True).click()

    expect(page.locator(".messages")).to_contain_text(j.t("Situation report submitted."))
    rows = page.locator("section", has=page.get_by_role("heading", name=j.t("Situation reports"), exact=True))
    row = rows.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(j.t("Initial report"))
    expect(row).to_contain_text(s["county_ema"].name)
    expect(row.locator(".badge.late")).to_have_count(0)
    own_clock = (
        page.locator("ul.clocks li").filter(has_text=s["county_ema"].name).filter(has_text=j.t("Initial report due"))
    )
    expect(own_clock.locator(".badge")).to_have_text(j.t("Met"))
    if lang == "zh-hans":
        expect(row.locator("td").nth(3)).to_have_text(re.compile(ZH_DATE))
    report = SituationReport.objects.get(incident=incident)
    assert (report.kind, report.number, report.evacuated, report.is_late) == (ReportKind.INITIAL, 1, 120, False)
    clock = ReportingClock.objects.get(incident=incident, department=s["county_ema"], kind=ClockKind.INITIAL)
    assert clock.satisfied_by == report
    j.shot(page, "5-initial-report")

    # --- the list filters down to the new incident ------------------------------------------------
    page.goto("/incidents/")
    labelled(page, j.t("Title contains")).fill("管涌")
    page.get_by_role("button", name=j.t("Filter"), exact=True).click()
    rows = page.locator("table.incidents tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(TITLE)
    expect(rows.first.locator(".badge.sev-3")).to_be_visible()
    expect(page.get_by_role("navigation", name=j.t("Pages"))).to_have_count(0)
    j.shot(page, "6-list-filtered", audit=False)  # the list, audited at the start
