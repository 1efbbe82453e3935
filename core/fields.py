"""Input fields that take JSON's types as the schema states them.

DRF's CharField turns a number into text, measures its length after trimming
spaces, and its FloatField takes `true` as 1.0, so a body the schema calls
invalid (a number where text belongs, text over its maximum length, a boolean
where a number does) would be accepted. These refuse them; a form's values,
all text, are read as DRF reads them.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.utils import html


class StrictCharField(serializers.CharField):
    """Text only, its length counted as sent (DRF counts it after trimming spaces)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryIntegerField(serializers.IntegerField):
    """A whole number in a query string, where an empty value is refused, not skipped."""

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary) and dictionary.get(self.field_name) == "":
            return ""  # then refused as no number
        return super().get_value(dictionary)
