"""Both catalogues complete, compiled, and used by the portal (Chinese first, English second)."""

from pathlib import Path

import polib
import pytest
from django.urls import reverse

LOCALE = Path(__file__).resolve().parent.parent / "locale"


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_catalogue_has_no_untranslated_or_fuzzy_entry(lang):
    catalogue = polib.pofile(str(LOCALE / lang / "LC_MESSAGES" / "django.po"))
    missing = [e.msgid for e in catalogue if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]
    assert missing == []
    assert len(catalogue.translated_entries()) > 100


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_compiled_catalogue_matches_its_source(lang):
    source = polib.pofile(str(LOCALE / lang / "LC_MESSAGES" / "django.po"))
    compiled = polib.mofile(str(LOCALE / lang / "LC_MESSAGES" / "django.mo"))
    want = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0) for e in source.translated_entries()}
    have = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0) for e in compiled if e.msgid}
    assert have == want


@pytest.mark.django_db
def test_portal_speaks_chinese_by_default_and_english_on_request(client):
    page = client.get(reverse("portal:login")).content.decode()
    assert "登录" in page and "用户名" in page
    page = client.get(reverse("portal:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Log in" in page and "Username" in page


@pytest.mark.django_db
def test_api_errors_follow_the_language_of_the_request(api_client):
    zh = api_client.get("/api/v1/departments/").json()["error"]["message"]
    en = api_client.get("/api/v1/departments/", HTTP_ACCEPT_LANGUAGE="en").json()["error"]["message"]
    assert en == "Authentication credentials were not provided."
    assert zh != en and "身份" in zh
