"""The project's select widget template (templates/django/forms/widgets/select.html) writes the same
markup as Django's own, which renders each option through two includes."""

import re

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, TemplatesSetting


class Choice(forms.Form):
    single = forms.ChoiceField(choices=[("", "---"), ("a", "甲 & <乙>"), ("b", "B")], initial="b")
    grouped = forms.MultipleChoiceField(
        choices=[("水", [("flood", "洪涝"), ("drought", "干旱")]), ("fire", "火灾")],
        initial=["drought", "fire"],
        widget=forms.SelectMultiple(attrs={"class": "wide", "data-x": 'q"uote'}),
    )
    plain = forms.TypedChoiceField(choices=[(1, "One"), (2, "Two")], coerce=int, required=False)


def normalise(html: str) -> str:
    return re.sub(r"\s+", " ", str(html)).replace("> <", "><").strip()


@pytest.mark.parametrize("data", [None, {"single": "a", "grouped": ["flood"], "plain": "2"}])
def test_the_inline_select_renders_what_djangos_own_template_renders(data, settings):
    assert settings.FORM_RENDERER == "django.forms.renderers.TemplatesSetting"
    ours, djangos = Choice(data, renderer=TemplatesSetting()), Choice(data, renderer=DjangoTemplates())
    for name in ("single", "grouped", "plain"):
        mine, theirs = normalise(ours[name]), normalise(djangos[name])
        assert mine == theirs
        assert "<option" in mine
    assert "selected" in normalise(ours["grouped"])
    assert "甲 &amp; &lt;乙&gt;" in normalise(ours["single"])
