"""get_<field>_display() on the platform's models (apps/core/display.py): the label map is built once
per field, so the answers must stay exactly Django's, in whatever language is active at the call."""

from django.apps import apps
from django.db import models
from django.utils import translation

from apps.core.scoping import ScopedModel
from apps.incidents.choices import IncidentStatus
from apps.incidents.models import Incident
from apps.tasking.models import Task


def scoped_choice_fields():
    for model in apps.get_models():
        if issubclass(model, ScopedModel):
            for field in model._meta.concrete_fields:
                if field.choices:
                    yield model, field


def test_every_choice_of_every_scoped_model_shows_what_django_would_show():
    checked = 0
    for model, field in scoped_choice_fields():
        for value, _label in field.flatchoices:
            obj = model(**{field.attname: value})
            for language in ("en", "zh-hans"):
                with translation.override(language):
                    assert getattr(obj, f"get_{field.name}_display")() == models.Model._get_FIELD_display(obj, field)
            checked += 1
    assert checked > 50, "the models' choice fields were not found: the comparison proves nothing"


def test_the_label_follows_the_language_active_at_each_call():
    incident = Incident(status=IncidentStatus.REPORTED)
    with translation.override("en"):
        assert incident.get_status_display() == "Reported"
    with translation.override("zh-hans"):
        assert incident.get_status_display() == "已上报"
    with translation.override("en"):  # the map built under zh-hans did not freeze its labels
        assert incident.get_status_display() == "Reported"


def test_a_value_outside_the_choices_is_shown_as_it_is():
    assert Incident(status="no-such-status").get_status_display() == "no-such-status"
    assert Incident(severity=9).get_severity_display() == 9
    assert Task(priority=None).get_priority_display() is None
