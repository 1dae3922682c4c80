"""Password policy (ASVS 2.1): at least 12 characters, not a common password, not all digits,
not like the account's own attributes. Checked by every service that sets a password."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from apps.accounts import services
from apps.accounts.models import User
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "password",
    [
        "Short-1a",  # under 12 characters
        "password1234",  # in the common-password list
        "384729105638",  # digits only
        "zhang.wei.gov",  # like the username
    ],
)
def test_weak_passwords_are_refused(password):
    user = User(username="zhang.wei.gov", display_name="张伟", email="zhang.wei@example.gov.cn")
    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_a_long_unrelated_passphrase_is_accepted():
    validate_password("riverbank-lantern-0427", User(username="zhang.wei.gov"))


def test_creating_a_user_applies_the_policy():
    with pytest.raises(ValidationError):
        services.user_create(actor=f.admin_user(), username="li.ming", password="12345")
    assert not User.objects.filter(username="li.ming").exists()
