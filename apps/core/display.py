"""`get_FOO_display()` for the platform's models without Django's per-call cost.

Django's `Model._get_FIELD_display` rebuilds a dict of the field's whole choice list on every call
and hashes each lazy label to do so, which translates every label of the field to show one of
them: 40-80 µs per call, 150 calls on a task list page (status and priority per row), a fifth of
the page's CPU time (docs/benchmarks.md, "Load"). Here the value → label map is built once per
field; the labels stay lazy, so each call still translates its one label into the language active
at that moment. The platform's choices are fixed at import (`TextChoices`/`IntegerChoices`), never
a callable that could change between calls.
"""

from functools import cache

from django.utils.encoding import force_str
from django.utils.hashable import make_hashable


@cache
def _labels(field) -> dict:
    return {make_hashable(value): label for value, label in field.flatchoices}


def choice_display(instance, field) -> str:
    """What Django's `get_<field>_display()` returns: the label of the value, or the value itself."""
    value = getattr(instance, field.attname)
    return force_str(_labels(field).get(make_hashable(value), value), strings_only=True)
