"""Journey 7 (issue 9): an administrator in the admin console creates a region, a department and a
user, grants the user a role in the department, and sees the ledger verify clean.

The platform administrator logs in to the portal and opens the admin console from the dashboard;
the console wants a second factor, so the portal's verify page asks for a code: a wrong one is
refused beside the field, the authenticator's current code (typed, then the button reached with
the keyboard) lets them in. In the console they add a city under an existing province (a taken
division code is refused beside the code field first), a department in it (a missing name is
refused beside the name field), a user, and the user's seat in the department (the autocomplete
widgets). The ledger list shows their changes, filtered by action, with Chinese dates under
zh-hans; it offers no way to add or delete an event and refuses a forged delete; "Verify the
ledger" replays the chain against a signed checkpoint and reports it clean. The database holds
the objects and one ledger event per change, each in the administrator's name.

Runs in Chinese and in English on a desktop.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation
from django.utils.text import capfirst
from playwright.sync_api import expect

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent, LedgerHead
from apps.ledger.services import ledger_checkpoint_write
from apps.organizations.choices import DepartmentType, RegionLevel
from apps.organizations.models import Department, Membership, Region
from tests import factories as f
from tests.accounts.otp import authenticator, code_for
from tests.browser.conftest import ZH_DATE

pytestmark = pytest.mark.browser

CITY, CITY_CODE = "苏州市", "320500"
DEPARTMENT = "苏州市应急管理局"
USERNAME, DISPLAY_NAME, NEW_PASSWORD = "suzhou.duty", "苏州市应急局值班员", "Qinhuai-River-7391"


def in_lang(lang: str, text: str, **params) -> str:
    """A source string (Django's own or ours) as the console shows it in `lang`, formatted."""
    with translation.override(lang):
        return str(translation.gettext(text)) % params if params else str(translation.gettext(text))


def verbose(model, lang: str, plural: bool = False) -> str:
    """A model's name as the console shows it in `lang` (capitalised in the index and lists)."""
    with translation.override(lang):
        return capfirst(str(model._meta.verbose_name_plural if plural else model._meta.verbose_name))


def field_error(page, name: str):
    """The error list of one field of an admin form: inside that field's row, and named by the
    input's aria-describedby."""
    row = page.locator(f".form-row.field-{name}")
    errors = row.locator("ul.errorlist")
    expect(errors).to_be_visible()
    described = page.locator(f"#id_{name}").get_attribute("aria-describedby") or ""
    assert errors.get_attribute("id") in described.split(), f"{name}: the error is not tied to the input"
    return errors


def save(page, lang: str):
    page.locator("#content-main form").get_by_role("button", name=in_lang(lang, "Save"), exact=True).click()


def pick(page, field: str, search: str, choice: str):
    """Choose `choice` in the admin's autocomplete (select2) widget of `field`, typing `search`."""
    page.locator(f".form-row.field-{field} .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill(search)
    page.locator(".select2-results__option", has_text=choice).click()
    expect(page.locator(f"#id_{field} option:checked")).to_have_text(re.compile(re.escape(choice)))


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_journey_7_an_administrator_builds_the_organisation_and_verifies_the_ledger(journey, settings, tmp_path, lang):
    settings.LEDGER_CHECKPOINT_DIR = tmp_path  # this test's checkpoints only (other runs share var/)
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the right code may follow the wrong one at once
    jiangsu = f.region(name="江苏省", code="320000", level=RegionLevel.PROVINCE)
    nanjing = f.region(name="南京市", code="320100", parent=jiangsu)  # a city code already taken
    admin = f.UserFactory(username="platform.admin", display_name="平台管理员", is_staff=True, is_superuser=True)
    device = authenticator(admin)  # enrolled earlier, on their phone
    j = journey("j7-admin", lang, "desktop")

    def t(text: str, **params) -> str:
        return in_lang(lang, text, **params)

    # --- the dashboard's way into the console asks for the second factor ----------------------
    page = j.as_user(admin)
    page.get_by_role("link", name=j.t("Open the admin console"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/account/verify/\?next=%2Fadmin%2F$"))
    expect(page.locator("main h1")).to_have_text(j.t("Verify with your second factor"))
    code = page.get_by_label(j.t("Code"))
    current = code_for(device)
    code.fill(current[:-1] + str((int(current[-1]) + 5) % 10))  # one digit off
    j.expect_refusal("/account/verify/")
    page.get_by_role("button", name=j.t("Verify"), exact=True).click()
    field = page.locator(".field.invalid", has=page.get_by_label(j.t("Code")))
    expect(field.locator(".error")).to_have_text(j.t("That code is not valid. Wait for a new code and try again."))
    j.shot(page, "1-verify-refused")

    # the right code, and the button reached with the keyboard
    page.get_by_label(j.t("Code")).fill(code_for(device))
    button = page.get_by_role("button", name=j.t("Verify"), exact=True)
    page.keyboard.press("Tab")  # from the code field: the hidden next field takes no focus
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("#site-name")).to_have_text(j.t("Cross-region Emergency Collaboration Platform"))
    expect(page.locator("#content h1")).to_have_text(j.t("Admin console"))
    j.shot(page, "2-console")

    # --- a region: a taken division code is refused beside the code field ----------------------
    page.locator("#content-main").get_by_role("link", name=verbose(Region, lang, plural=True), exact=True).click()
    with translation.override(lang):
        region_name = str(Region._meta.verbose_name)  # "Add region": lower case inside the sentence
    page.locator(".object-tools").get_by_role("link", name=t("Add %(name)s", name=region_name)).click()
    page.wait_for_url("**/organizations/region/add/")
    page.wait_for_load_state("load")  # under a loaded CI machine, typing into a page still loading was lost
    page.locator("#id_code").fill(nanjing.code)
    page.locator("#id_name").fill(CITY)
    page.locator("#id_level").select_option(RegionLevel.CITY)
    page.locator("#id_parent").select_option(str(jiangsu.pk))
    expect(page.locator("#id_name")).to_have_value(CITY)
    save(page, lang)
    with translation.override(lang):
        taken = Region().unique_error_message(Region, ["code"])
        taken = str(taken.message) % {k: str(v) for k, v in taken.params.items()}
    expect(field_error(page, "code")).to_have_text(taken)
    j.shot(page, "3-region-refused")
    expect(page.locator("#id_name")).to_have_value(CITY)  # what was typed is kept beside the error
    page.locator("#id_code").fill(CITY_CODE)
    save(page, lang)
    expect(page.locator("ul.messagelist li.success")).to_contain_text(f"{CITY} ({CITY_CODE})")
    city = Region.objects.get(code=CITY_CODE)
    assert (city.parent_id, city.level, city.path) == (jiangsu.pk, RegionLevel.CITY, "320000/320500/")

    # --- a department in it: a missing name is refused beside the name field --------------------
    page.goto("/admin/organizations/department/add/")
    page.locator("#id_region").select_option(str(city.pk))
    page.locator("#id_type").select_option(DepartmentType.EMERGENCY)
    save(page, lang)
    expect(field_error(page, "name")).to_have_text(t("This field is required."))
    j.shot(page, "4-department-refused")
    page.locator("#id_name").fill(DEPARTMENT)
    page.locator("#id_contact_phone").fill("0512-12345678")
    save(page, lang)
    expect(page.locator("ul.messagelist li.success")).to_contain_text(DEPARTMENT)
    department = Department.objects.get(region=city, name=DEPARTMENT)

    # --- a user, then their display name ---------------------------------------------------------
    page.goto("/admin/accounts/user/add/")
    page.locator("#id_username").fill(USERNAME)
    page.locator("#id_password1").fill(NEW_PASSWORD)
    page.locator("#id_password2").fill(NEW_PASSWORD)
    save(page, lang)
    expect(page.locator("ul.messagelist li.success")).to_contain_text(USERNAME)
    page.locator("#id_display_name").fill(DISPLAY_NAME)
    save(page, lang)
    expect(page.locator("ul.messagelist li.success")).to_contain_text(DISPLAY_NAME)
    user = get_user_model().objects.get(username=USERNAME)
    assert user.display_name == DISPLAY_NAME and user.check_password(NEW_PASSWORD)
    assert not (user.is_staff or user.is_superuser)

    # --- the user's seat in the department ----------------------------------------------------------
    page.goto("/admin/organizations/membership/add/")
    pick(page, "user", USERNAME, DISPLAY_NAME)  # found by username, shown by name
    pick(page, "department", "苏州", DEPARTMENT)
    page.locator("#id_role").select_option(Role.STAFF)
    j.shot(page, "5-membership")
    save(page, lang)
    expect(page.locator("ul.messagelist li.success")).to_be_visible()
    membership = Membership.objects.get(user=user, department=department)
    assert membership.role == Role.STAFF and user.groups.filter(pk=department.group_id).exists()

    # --- the ledger: the changes are there, in the administrator's name --------------------------
    changes = ["region.create", "department.create", "user.create", "user.update", "membership.add"]
    ours = AuditEvent.objects.filter(actor=admin, action__in=changes)
    assert list(ours.order_by("seq").values_list("action", "target_id")) == [
        ("region.create", str(city.pk)),
        ("department.create", str(department.pk)),
        ("user.create", str(user.pk)),
        ("user.update", str(user.pk)),
        ("membership.add", str(membership.pk)),
    ]
    page.goto("/admin/")
    page.locator("#content-main").get_by_role("link", name=verbose(AuditEvent, lang, plural=True), exact=True).click()
    expect(page.locator("#result_list tbody tr")).to_have_count(AuditEvent.objects.count())
    # no way to write the ledger from here, and a forged delete is refused
    expect(page.locator(".object-tools .addlink")).to_have_count(0)
    expect(page.locator("#changelist-form select[name=action]")).to_have_count(0)
    page.locator("#changelist-filter").get_by_role("link", name="membership.add", exact=True).click()
    expect(page).to_have_url(re.compile(r"action=membership.add"))
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(admin.username)
    if lang == "zh-hans":
        expect(rows.locator("td.field-created_at")).to_have_text(re.compile(ZH_DATE))
    j.shot(page, "6-ledger")
    event = AuditEvent.objects.get(action="membership.add")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forged = f"/admin/ledger/auditevent/{event.pk}/delete/"
    j.expect_refusal(forged)
    refused = page.request.post(forged, form={"post": "yes"}, headers={"X-CSRFToken": csrf})
    assert refused.status == 403 and AuditEvent.objects.filter(pk=event.pk).exists()

    # --- the ledger verifies clean against a signed checkpoint (as the beat job writes) ----------
    checkpoint = ledger_checkpoint_write()
    head = LedgerHead.objects.get()
    assert checkpoint is not None and checkpoint.seq == head.seq
    page.locator(".object-tools").get_by_role("link", name=j.t("Verify the ledger"), exact=True).click()
    expect(page.locator("#content h1")).to_have_text(j.t("Verify the ledger"))
    expect(page.locator("#ledger-verify-result li.success")).to_have_text(j.t("The ledger verifies clean."))
    expect(page.locator("#ledger-verify-result li.error")).to_have_count(0)
    facts = page.locator("#ledger-verify-facts")
    expect(facts.locator("tr", has_text=j.t("Events replayed")).locator("td")).to_have_text(
        str(AuditEvent.objects.count())
    )
    expect(facts.locator("tr", has_text=j.t("Signed checkpoints matched")).locator("td")).to_have_text("1")
    expect(facts.locator("tr", has_text=j.t("Last event")).locator("td")).to_have_text(f"#{head.seq}")
    expect(facts.locator("code")).to_have_text(head.hash)
    j.shot(page, "7-ledger-verified")
