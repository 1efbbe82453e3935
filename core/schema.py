"""The API's schema as the API answers: drf-spectacular's, with what it leaves out.

`FarmAutoSchema` (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS) adds to every
operation the error answers any endpoint can give, unless the view documents
its own: 400 with errors by field where there is a body or a query to get
wrong, 401 and 403, 404 where the path names an object, 413 and 415 where
there is a body, and 429 when the caller is throttled. All but the 400 are
`{"detail": "..."}` (core.api.exception_handler, config/middleware.py).

It also states what drf-spectacular leaves vague: that a URL field that may be
blank holds a URL or "" (a post not yet on its platform has no URL) where it
would promise a URL; the bounds of a list of objects (bulk creation); and,
for a field that lets "" through to the service's own message
(`schema_allows_blank = False`), that "" is not taken. `form_bodies_hook`
gives form bodies a schema of their own, as DRF reads a form.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from core.api import DetailSerializer


class ValidationErrorsSerializer(serializers.Serializer):
    """For the schema only: the body of a 400 (see ValidationErrorsExtension)."""


class ValidationErrorsExtension(OpenApiSerializerExtension):
    target_class = "core.schema.ValidationErrorsSerializer"

    def map_serializer(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        messages = {"type": "array", "items": {"type": "string"}}
        return {
            "type": "object",
            "description": (
                "Messages by field name (a nested object for a field with fields of its own "
                "or for the items of a list, by index); `non_field_errors` when no one field "
                "is to blame; `detail` when the request could not be read at all."
            ),
            "properties": {"detail": {"type": "string"}, "non_field_errors": messages},
            "additionalProperties": {"anyOf": [messages, {"type": "object"}]},
        }


_EMPTY = {"type": "string", "maxLength": 0}


def _detail(description: str) -> OpenApiResponse:
    return OpenApiResponse(DetailSerializer, description=description)


class FarmAutoSchema(AutoSchema):
    def get_operation(
        self,
        path: str,
        path_regex: str,
        path_prefix: str,
        method: str,
        registry: Any,
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            self._add_error_responses(operation)
        return operation

    def _add_error_responses(self, operation: dict[str, Any]) -> None:
        locations = {parameter["in"] for parameter in operation.get("parameters", [])}
        has_body = "requestBody" in operation
        errors: dict[str, OpenApiResponse] = {}
        if has_body or "query" in locations:
            errors["400"] = OpenApiResponse(
                ValidationErrorsSerializer, description="The request is not valid."
            )
        if operation.get("security"):
            errors["401"] = _detail("No credentials, or credentials that are not valid.")
            errors["403"] = _detail("The caller may not do this (a viewer may only read).")
        if "path" in locations:
            errors["404"] = _detail("No such object in the caller's workspaces.")
        if has_body:
            errors["413"] = _detail("The request body is over the limit it names.")
            errors["415"] = _detail("The body is in a media type this operation does not take.")
        errors["429"] = _detail("Too many calls: `Retry-After` says in how many seconds to retry.")
        responses = operation["responses"]
        for code, response in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code)

    def _map_serializer_field(
        self, field: serializers.Field, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            # A list of objects, as bulk creation takes: its bounds, as for a ListField.
            for attribute, keyword in (("min_length", "minItems"), ("max_length", "maxItems")):
                if getattr(field, attribute, None) is not None:
                    schema[keyword] = getattr(field, attribute)
        return schema

    def _insert_field_validators(self, field: serializers.Field, schema: dict[str, Any]) -> None:
        super()._insert_field_validators(field, schema)
        if schema.get("format") == "uri" and _may_be_blank(field):
            del schema["format"]
            schema["anyOf"] = [{"format": "uri"}, {"maxLength": 0}]
        if getattr(field, "schema_allows_blank", True) is False:
            # The field lets "" through to the service, which refuses it with its own
            # message; the schema says what is taken: drop drf-spectacular's "" branch.
            branches = [b for b in schema.pop("oneOf", []) if b != _EMPTY]
            if len(branches) == 1:
                schema.update(branches[0])
            elif branches:
                schema["oneOf"] = branches


def _may_be_blank(field: serializers.Field) -> bool:
    """A URL field that takes "", or shows a model field that may hold it."""
    if not isinstance(field, serializers.URLField):
        return False
    if field.allow_blank:
        return True
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or not field.source or "." in field.source:
        return False
    try:
        return bool(model._meta.get_field(field.source).blank)
    except FieldDoesNotExist:  # a property, an annotation
        return False


# --- Form bodies ---------------------------------------------------------------

FORM_MEDIA_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
NULL_ENUM_REF = "#/components/schemas/NullEnum"


def _form_property(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field as a form sends it: its value, or empty for none (a form has no null)."""
    schema = {key: value for key, value in schema.items() if key != "nullable"}
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            schema[keyword] = [
                branch for branch in schema[keyword] if branch != {"$ref": NULL_ENUM_REF}
            ]
    return {"anyOf": [schema, {"enum": [""]}]}


def form_bodies_hook(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Form bodies get a schema of their own, `<Name>Form`, as DRF reads a form.

    In a form an optional field left empty counts as not given, and nothing can
    be null; the JSON body's schema would say otherwise of both.
    """
    schemas = result.get("components", {}).get("schemas", {})
    for path in result.get("paths", {}).values():
        for operation in path.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media_type in FORM_MEDIA_TYPES:
                ref = content.get(media_type, {}).get("schema", {}).get("$ref", "")
                name = ref.rsplit("/", 1)[-1]
                if name not in schemas:
                    continue
                form_name = f"{name}Form"
                if form_name not in schemas:
                    component = schemas[name]
                    required = set(component.get("required", []))
                    schemas[form_name] = {
                        **component,
                        "properties": {
                            field: value if field in required else _form_property(value)
                            for field, value in component.get("properties", {}).items()
                        },
                    }
                content[media_type]["schema"] = {"$ref": f"#/components/schemas/{form_name}"}
    return result
