"""The admin console's "Verify the ledger": the same replay as `manage.py verify_ledger`, shown to
platform administrators in their language; a broken chain is named at its first bad event; staff
who see only part of the ledger get neither the button nor the page."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent, LedgerHead
from apps.ledger.services import ledger_checkpoint_write
from tests import factories as f
from tests.accounts.otp import verified_login
from tests.ledger.test_tamper import tampering

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
VERIFY = "admin:ledger_auditevent_verify"


@pytest.fixture(autouse=True)
def own_checkpoints(settings, tmp_path):
    settings.LEDGER_CHECKPOINT_DIR = tmp_path


def test_an_administrator_sees_the_ledger_verify_clean(client, admin):
    f.department(region=f.region())
    checkpoint = ledger_checkpoint_write()
    verified_login(client, admin)
    changelist = client.get(reverse("admin:ledger_auditevent_changelist"), **EN).content.decode()
    assert f'href="{reverse(VERIFY)}"' in changelist and "Verify the ledger" in changelist

    page = client.get(reverse(VERIFY), **EN).content.decode()
    assert '<li class="success">The ledger verifies clean.</li>' in page
    assert f"<td>{AuditEvent.objects.count()}</td>" in page  # events replayed
    assert '<th scope="row">Signed checkpoints matched</th><td>1</td>' in page
    head = LedgerHead.objects.get()
    assert head.seq > checkpoint.seq  # the login came after the checkpoint: replayed, not signed yet
    assert f"<td>#{head.seq}</td>" in page and f"<code>{head.hash}</code>" in page and 'class="error"' not in page


def test_a_changed_event_is_named_as_the_first_bad_one(client, admin):
    f.department(region=f.region())
    victim = AuditEvent.objects.order_by("seq")[1]
    with tampering() as cursor:
        cursor.execute("UPDATE ledger_auditevent SET target_repr = 'forged' WHERE id = %s", [victim.pk])
    verified_login(client, admin)
    page = client.get(reverse(VERIFY), **EN).content.decode()
    assert f"The ledger is broken at event #{victim.seq}." in page
    assert f"event #{victim.seq} was altered (hash mismatch)" in page
    assert "verifies clean" not in page


def test_staff_who_see_part_of_the_ledger_cannot_verify_it(client):
    head = f.member(f.department(region=f.region()), Role.HEAD)
    head.is_staff = True
    head.save()
    head.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    verified_login(client, head)
    changelist = client.get(reverse("admin:ledger_auditevent_changelist"), **EN)
    assert changelist.status_code == 200 and reverse(VERIFY) not in changelist.content.decode()
    assert client.get(reverse(VERIFY), **EN).status_code == 403
