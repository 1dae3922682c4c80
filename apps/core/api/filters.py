"""The API's filter backend: the FilterSets shared with the portal, read strictly.

django-filter reads a boolean filter leniently (any value it does not know means "no filter"),
which suits the portal's select boxes but lets an API client believe `?overdue=yes` filtered.
Here such a value is invalid input (400); an empty value still means "no filter", as the schema
says (`allowEmptyValue`).
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend


class StrictNullBooleanField(forms.NullBooleanField):
    widget = forms.TextInput  # the raw value reaches to_python (the select widgets map unknown values to None)
    default_error_messages = {"invalid": _("Enter true or false.")}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise ValidationError(self.error_messages["invalid"], code="invalid")


def strict_booleans(filterset):
    """`filterset` with its boolean filters read strictly; for views that build a FilterSet themselves."""
    fields = filterset.form.fields
    for name, field in fields.items():
        if isinstance(field, forms.NullBooleanField) and not isinstance(field, StrictNullBooleanField):
            fields[name] = StrictNullBooleanField(required=False, label=field.label, help_text=field.help_text)
    return filterset


class ApiFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        return strict_booleans(filterset) if filterset is not None else None
