"""Portal forms. They parse; the services validate the rules (URL schemes, kinds, who may act)."""

from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from .selectors import webhook_departments


class PreferenceForm(forms.Form):
    """One row of the preferences page: one kind (blank: every kind)."""

    kind = forms.CharField(required=False, max_length=60, widget=forms.HiddenInput)
    in_app = forms.BooleanField(required=False, label=_("In the inbox"))
    email = forms.BooleanField(required=False, label=_("E-mail each one"))
    daily_digest = forms.BooleanField(required=False, label=_("Daily digest instead"))


class BasePreferenceFormSet(forms.BaseFormSet):
    """Every row counts, also one left as it was: an unticked box is an answer, not an empty row."""

    def _construct_form(self, i, **kwargs):
        return super()._construct_form(i, empty_permitted=False, **kwargs)


PreferenceFormSet = formset_factory(
    PreferenceForm, formset=BasePreferenceFormSet, extra=0, max_num=300, validate_max=True
)


class WebhookEndpointForm(forms.Form):
    department = forms.ModelChoiceField(queryset=None, label=_("Department"))
    name = forms.CharField(max_length=100, label=_("Name"))
    url = forms.CharField(
        max_length=500,
        label=_("URL"),
        help_text=_("http:// or https://; receives a signed JSON POST per notification."),
    )
    kinds = forms.CharField(
        required=False,
        max_length=1000,
        label=_("Kinds"),
        help_text=_("Comma-separated, e.g. task.issued, clock.*; empty: every kind."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = webhook_departments(user=user)

    @property
    def has_departments(self) -> bool:
        return self.fields["department"].queryset.exists()

    def clean_kinds(self) -> list[str]:
        return [k.strip() for k in self.cleaned_data["kinds"].split(",") if k.strip()]
