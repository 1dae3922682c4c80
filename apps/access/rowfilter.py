"""The row filter of a request or grant: a small, safe language over a standard's fields.

A filter is a list of conditions, all of which must hold:

    [{"field": "category", "op": "in", "value": ["常住", "重点关爱"]},
     {"field": "age", "op": "gte", "value": 65},
     {"field": "_region", "op": "within", "value": "320106"},
     {"field": "_observed", "op": "between", "value": ["2026-11-01T00:00:00+08:00", "2026-11-30T00:00:00+08:00"]}]

Fields are the standard's fields, plus `_region` (the record's division code and everything
below it) and `_observed` (the observation time). It compiles to a Django `Q` over the payload's
JSONB keys and the record's columns: values are always parameters, never SQL.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils.translation import gettext as _

from apps.core.exceptions import ServiceError

MAX_CONDITIONS = 10
FIELD_OPS = {"eq", "in", "gte", "lte", "between"}
REGION = "_region"
OBSERVED = "_observed"


def _error(message) -> ServiceError:
    return ServiceError(message, field="row_filter", code="invalid_filter")


def _scalar(value) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _when(value) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise _error(_("Times in the filter must be ISO 8601, e.g. 2026-11-24T08:00:00+08:00.")) from None


def validate(spec, standard) -> list[dict]:
    """The filter in canonical form, or ServiceError with a message the requester can act on."""
    if spec in (None, "", []):
        return []
    if not isinstance(spec, list) or len(spec) > MAX_CONDITIONS:
        raise _error(_("The row filter must be a list of at most %(n)d conditions.") % {"n": MAX_CONDITIONS})
    names = set(standard.field_names)
    out = []
    for cond in spec:
        if not isinstance(cond, dict) or set(cond) != {"field", "op", "value"}:
            raise _error(_("Each condition needs exactly: field, op, value."))
        field, op, value = cond["field"], cond["op"], cond["value"]
        if field == REGION:
            if op != "within" or not (isinstance(value, str) and value.isdigit() and len(value) == 6):
                raise _error(_("Filter by region with op “within” and a 6-digit division code."))
        elif field == OBSERVED:
            if op != "between" or not (isinstance(value, list) and len(value) == 2):
                raise _error(_("Filter by observation time with op “between” and two times."))
            start, end = _when(value[0]), _when(value[1])
            if start >= end:
                raise _error(_("The time window must start before it ends."))
        elif field in names:
            if op not in FIELD_OPS:
                raise _error(_("Unknown operator “%(op)s”.") % {"op": op})
            if op == "in":
                if not (isinstance(value, list) and 0 < len(value) <= 100 and all(_scalar(v) for v in value)):
                    raise _error(_("“in” takes a list of 1 to 100 values."))
            elif op == "between":
                if not (isinstance(value, list) and len(value) == 2 and all(_scalar(v) for v in value)):
                    raise _error(_("“between” takes two values."))
            elif not _scalar(value):
                raise _error(_("The value of %(field)s must be a single value.") % {"field": field})
        else:
            raise _error(_("%(field)s is not a field of this dataset's standard.") % {"field": field})
        out.append({"field": field, "op": op, "value": value})
    return out


def to_q(spec: list[dict], prefix: str = "") -> Q:
    """The filter as a Q over Record (use `prefix` to reach a record through a relation)."""
    q = Q()
    for cond in spec or []:
        field, op, value = cond["field"], cond["op"], cond["value"]
        if field == REGION:
            q &= Q(**{f"{prefix}place_key__startswith": _region_prefix(value)})
        elif field == OBSERVED:
            q &= Q(**{f"{prefix}observed_at__gte": _when(value[0]), f"{prefix}observed_at__lt": _when(value[1])})
        else:
            key = f"{prefix}payload__{field}"
            if op == "eq":
                q &= Q(**{key: value})
            elif op == "in":
                q &= Q(**{f"{key}__in": value})
            elif op == "gte":
                q &= Q(**{f"{key}__gte": value})
            elif op == "lte":
                q &= Q(**{f"{key}__lte": value})
            elif op == "between":
                q &= Q(**{f"{key}__gte": value[0], f"{key}__lte": value[1]})
    return q


def _region_prefix(code: str) -> str:
    """320000 → "32", 320100 → "3201", 320106 → "320106": a division and everything below it."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code
