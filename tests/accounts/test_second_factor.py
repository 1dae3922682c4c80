"""Two-factor authentication (django-otp): enrolling an authenticator, backup codes, verifying a
session; every step in the ledger. Optional for staff, required for the admin console."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts import services
from apps.accounts.views import PENDING_KEY
from apps.core.exceptions import SecondFactorRequired, ServiceError
from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.ledger.selectors import ledger_verify
from tests import factories as f
from tests.accounts.otp import authenticator, code_for, verified_login

pytestmark = pytest.mark.django_db

ENROL, CODES, VERIFY, SECURITY = (
    reverse("portal:otp-enrol"),
    reverse("portal:otp-backup-codes"),
    reverse("portal:otp-verify"),
    reverse("portal:account-security"),
)


@pytest.fixture
def person():
    return f.member(f.department(region=f.region()), Role.STAFF)


def _events(action, user=None):
    events = AuditEvent.objects.filter(action=action)
    return events.filter(target_id=str(user.pk)) if user else events


def _verified(client) -> bool:
    return DEVICE_ID_SESSION_KEY in client.session


# --- enrolment ------------------------------------------------------------------------------------


def test_enrolling_shows_the_key_and_a_server_drawn_qr_code_then_confirms_with_a_code(client, person):
    client.force_login(person)
    page = client.get(ENROL)
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    html = page.content.decode()
    assert '<svg class="otp-qr" role="img"' in html and "<img" not in html.split("otp-qr")[1][:200]
    key = client.session[PENDING_KEY]
    assert client.get(ENROL).context["secret"] == page.context["secret"]  # a reload keeps the same key

    wrong = client.post(ENROL, {"token": "000000" if code_for(key) != "000000" else "111111"})
    assert wrong.status_code == 400 and not TOTPDevice.objects.filter(user=person).exists()
    assert _events("otp.verify_failed", person).get().after == {"during": "enrol"}

    done = client.post(ENROL, {"token": code_for(key)})
    assert done.status_code == 302 and done["Location"] == CODES
    device = TOTPDevice.objects.get(user=person)
    assert device.confirmed and device.key == key
    assert _verified(client) and PENDING_KEY not in client.session
    assert _events("otp.device_enrol", person).get().after == {"device": "totp", "replaced": 0}
    assert ledger_verify().ok


def test_replacing_an_authenticator_needs_a_verified_session(client, person):
    authenticator(person)
    client.force_login(person)
    response = client.get(ENROL)
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    with pytest.raises(SecondFactorRequired):
        services.otp_totp_enrol(actor=person, key=services.otp_totp_key_new(), token="123456", verified=False)
    # verified, the new authenticator replaces the old one
    verified_login(client, person)
    assert client.get(ENROL).status_code == 200
    key = client.session[PENDING_KEY]
    assert client.post(ENROL, {"token": code_for(key)}).status_code == 302
    assert list(TOTPDevice.objects.filter(user=person).values_list("key", flat=True)) == [key]
    assert _events("otp.device_enrol", person).get().after["replaced"] == 1


# --- backup codes ---------------------------------------------------------------------------------


def test_ten_backup_codes_are_shown_once_and_new_ones_replace_them(client, person):
    verified_login(client, person)
    assert client.get(CODES).status_code == 200
    first = client.post(CODES)
    assert first.status_code == 200 and first["Cache-Control"] == "no-store"
    codes = first.context["codes"]
    assert len(codes) == 10 == len(set(codes))
    assert all(code in first.content.decode() for code in codes)
    assert "codes" not in client.get(CODES).context  # never shown again
    second = client.post(CODES).context["codes"]
    assert set(StaticToken.objects.filter(device__user=person).values_list("token", flat=True)) == set(second)
    assert _events("otp.backup_codes_generate", person).count() == 2


def test_backup_codes_need_a_verified_session(client, person):
    authenticator(person)
    client.force_login(person)
    response = client.post(CODES)
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    assert not StaticToken.objects.exists()
    with pytest.raises(SecondFactorRequired):
        services.otp_backup_codes_generate(actor=person, verified=False)


# --- verifying a session --------------------------------------------------------------------------


def test_verifying_with_the_authenticator_elevates_the_session_and_goes_to_next(client, person):
    device = authenticator(person)
    client.force_login(person)
    assert client.get(VERIFY).status_code == 200
    response = client.post(VERIFY, {"token": code_for(device), "next": SECURITY})
    assert response.status_code == 302 and response["Location"] == SECURITY
    assert _verified(client)
    assert _events("otp.verify", person).get().after == {"device": "totp", "codes_left": None}
    assert client.get(SECURITY).context["verified"] is True


def test_a_wrong_code_is_refused_recorded_and_slows_the_next_try(client, person):
    device = authenticator(person)
    client.force_login(person)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        wrong = client.post(VERIFY, {"token": f"{(int(code_for(device)) + 500_000) % 1_000_000:06d}"})
        assert wrong.status_code == 400 and not _verified(client)
        assert client.post(VERIFY, {"token": code_for(device)}).status_code == 400  # throttled for a moment
        traveller.shift(timedelta(seconds=5))
        assert client.post(VERIFY, {"token": code_for(device)}).status_code == 302
    assert _events("otp.verify_failed", person).count() == 2
    assert all(e.after == {"during": "verify"} for e in _events("otp.verify_failed"))


def test_a_code_is_accepted_once(client, person):
    device = authenticator(person)
    code = code_for(device)
    services.otp_verify(actor=person, token=code)
    with pytest.raises(ServiceError):
        services.otp_verify(actor=person, token=code)


def test_a_backup_code_works_once_in_place_of_the_authenticator(client, person):
    authenticator(person)
    codes = services.otp_backup_codes_generate(actor=person, verified=True)
    client.force_login(person)
    assert client.post(VERIFY, {"token": codes[0].upper()}).status_code == 302
    assert _verified(client)
    assert _events("otp.verify", person).get().after == {"device": "backup_code", "codes_left": 9}
    client.logout()
    client.force_login(person)
    assert client.post(VERIFY, {"token": codes[0]}).status_code == 400
    assert not StaticToken.objects.filter(token=codes[0]).exists()


def test_next_never_leaves_the_site(client, person):
    device = authenticator(person)
    client.force_login(person)
    response = client.post(VERIFY, {"token": code_for(device), "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")


def test_without_an_authenticator_the_verify_page_sends_you_to_enrol_and_back(client, person):
    client.force_login(person)
    response = client.get(VERIFY, {"next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == f"{ENROL}?next=%2Fadmin%2F"
    client.get(response["Location"])
    key = client.session[PENDING_KEY]
    done = client.post(ENROL, {"token": code_for(key), "next": "/admin/"})
    assert done["Location"] == "/admin/"


def test_staff_without_a_second_factor_use_the_portal_as_before(client, person):
    client.force_login(person)
    assert client.get(reverse("portal:dashboard")).status_code == 200
    page = client.get(SECURITY)
    assert page.status_code == 200 and page.context["has_authenticator"] is False


def test_logging_out_ends_the_verification(client, person):
    verified_login(client, person)
    client.post(reverse("portal:logout"))
    client.force_login(person)
    assert not _verified(client)


# --- the admin console ----------------------------------------------------------------------------


def test_the_admin_console_sends_an_unverified_administrator_to_verify(client, admin):
    authenticator(admin)
    client.force_login(admin)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == f"{VERIFY}?next=%2Fadmin%2F"
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 302


def test_an_administrator_without_an_authenticator_is_sent_to_enrol(client, admin):
    client.force_login(admin)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(ENROL)
    assert response.status_code == 200 and response.templates[0].name == "accounts/otp_enrol.html"


def test_a_verified_administrator_uses_the_console(client, admin):
    verified_login(client, admin)
    assert client.get("/admin/").status_code == 200
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 200


def test_the_admin_password_form_leads_to_the_verify_page_too(client):
    staff = f.UserFactory(username="console.user", is_staff=True, is_superuser=True)
    authenticator(staff)
    response = client.post(
        reverse("admin:login") + "?next=/admin/",
        {"username": "console.user", "password": f.PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    follow = client.get(response["Location"], follow=True)
    assert follow.redirect_chain[-1][0].startswith(VERIFY)


def test_otp_devices_are_not_editable_in_the_console(client, admin):
    from django.contrib import admin as django_admin

    assert not django_admin.site.is_registered(TOTPDevice)
    assert not django_admin.site.is_registered(StaticDevice)


def test_an_administrator_resets_a_lost_second_factor_and_the_ledger_says_so(client, admin, person):
    authenticator(person)
    services.otp_backup_codes_generate(actor=person, verified=True)
    verified_login(client, admin)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [person.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=person).exists()
    assert not StaticDevice.objects.filter(user=person).exists()
    assert _events("otp.devices_reset", person).get().after == {"removed": 2}


def test_a_verified_session_loses_its_status_when_the_device_is_reset(client, admin, person):
    verified_login(client, person)
    services.otp_devices_reset(actor=admin, user=person)
    assert client.get(SECURITY).context["verified"] is False
