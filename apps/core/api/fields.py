"""Serializer fields whose OpenAPI description has to say more than drf-spectacular infers."""

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

CLOCK_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


@extend_schema_field({"type": "string", "pattern": CLOCK_TIME_PATTERN, "example": "08:00"})
class ClockTimeField(serializers.TimeField):
    """A wall-clock time of day, `HH:MM[:SS[.ffffff]]`, without a UTC offset.

    OpenAPI's `format: time` is RFC 3339's full-time, which requires an offset: DRF writes none,
    and read one only to drop it. So the schema gives the pattern, and input must match it.
    """

    def to_internal_value(self, value):
        if not isinstance(value, str) or not re.fullmatch(CLOCK_TIME_PATTERN, value):
            self.fail("invalid", format="hh:mm[:ss[.uuuuuu]]")
        return super().to_internal_value(value)
