"""The API's paging: `limit` and `offset`, checked as the schema states them, with a cap.

DRF's LimitOffsetPagination takes any `limit` up to its `max_limit`, which is
unset by default, and quietly reads a `limit` it cannot parse (`1.5`, `abc`, `0`)
as the default. Here the page is at most FARM_API_MAX_PAGE_SIZE rows, whatever
is asked, and a `limit` or `offset` that is not a whole number in range is a 400
naming it.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.views import APIView

MAX_OFFSET = 2**63 - 1  # past a 64-bit number the database cannot take it
_WHOLE_NUMBER = re.compile(r"[0-9]+")


def _whole_number(request: Request, name: str, *, minimum: int, maximum: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not _WHOLE_NUMBER.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise ValidationError({name: [f"A whole number from {minimum} to {maximum} is required."]})
    return int(raw)


class FarmPagination(LimitOffsetPagination):
    """LimitOffsetPagination with a cap on the page and strict numbers."""

    @property
    def default_limit(self) -> int:  # type: ignore[override]
        return int(settings.REST_FRAMEWORK["PAGE_SIZE"])

    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return int(settings.FARM_API_MAX_PAGE_SIZE)

    def get_limit(self, request: Request) -> int:
        limit = _whole_number(request, self.limit_query_param, minimum=1, maximum=MAX_OFFSET)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        offset = _whole_number(request, self.offset_query_param, minimum=0, maximum=MAX_OFFSET)
        return offset or 0

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"].update(minimum=1, maximum=MAX_OFFSET)
                parameter["description"] = (
                    f"Rows per page: {self.default_limit} unless given; a larger number "
                    f"than {self.max_limit} gives {self.max_limit}."
                )
            elif parameter["name"] == self.offset_query_param:
                parameter["schema"].update(minimum=0, maximum=MAX_OFFSET)
        return parameters
