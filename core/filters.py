"""List filters as the schema states them: a filter given must have a value.

django-filter skips a filter whose value is empty (`?account=`), so a request
the schema calls invalid (an empty string is no id, no date, no state) would
list everything as if the filter were not there. Here it is a 400 naming it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView


def _query_names(filterset: Any) -> list[str]:
    """The query parameters a filterset reads (a range filter reads `<name>_after`, ...)."""
    names = []
    for name, field in filterset.form.fields.items():
        suffixes = getattr(field.widget, "suffixes", None)
        names += [f"{name}_{suffix}" if suffix else name for suffix in suffixes or [""]]
    return names


class FarmFilterBackend(DjangoFilterBackend):
    """django-filter's backend, refusing a filter that is given without a value."""

    def get_filterset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            params = request.query_params
            empty = [
                name
                for name in _query_names(filterset)
                if name in params and "" in params.getlist(name)
            ]
            if empty:
                raise ValidationError(
                    {name: ["Give a value, or leave the parameter out."] for name in empty}
                )
        return filterset
