"""What every API view shares: the caller's workspaces and roles, and one error contract.

A caller sees only the workspaces they are a member of; owners and
operators may change things there, viewers may only read. Services raise
the project's errors (`core.errors`); `exception_handler` answers them.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.db.models import Model
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import RowErrors, StateConflict
from core.tenancy import WRITE_ROLES, workspace_model, workspace_roles

VIEWER_MESSAGE = "Viewers may read this workspace but not change anything in it."


class DetailSerializer(serializers.Serializer):
    """The body of an error answer that has a message rather than field errors."""

    detail = serializers.CharField()


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object's current state does not allow this."
    default_code = "conflict"


class _NoFormatOverride:
    URL_FORMAT_OVERRIDE = None


class FormatFilterNegotiation(DefaultContentNegotiation):
    """For a list with a filter named `format`: `?format=` filters, it picks no renderer.

    DRF reads `?format=` as the renderer to answer with, and 404s any it lacks.
    """

    settings = _NoFormatOverride()  # type: ignore[assignment]  # the one setting it reads


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, taught the project's errors and Django's validation errors."""
    if isinstance(exc, RowErrors):
        return Response({"errors": exc.rows}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DataError) or (
        isinstance(exc, UnicodeEncodeError) and "surrogates not allowed" in str(exc)
    ):
        # A value the schema allows that the database cannot hold (a date past
        # its range, an offset it refuses, text with a lone surrogate): bad
        # input, refused by PostgreSQL and not by SQLite.
        errors = {"non_field_errors": ["A value given cannot be stored: out of range or invalid."]}
        view = context.get("view")
        if getattr(view, "action", None) in getattr(view, "row_error_actions", ()):
            return Response(
                {"errors": [{"row": None, "errors": errors}]}, status=status.HTTP_400_BAD_REQUEST
            )
        exc = ValidationError(errors)
    if isinstance(exc, StateConflict):
        exc = Conflict(str(exc))
    elif isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            exc = ValidationError(exc.message_dict)
        else:
            exc = ValidationError({"non_field_errors": exc.messages})
    return drf_exception_handler(exc, context)


def caller_roles(request: Request) -> dict[int, str]:
    """The caller's role by workspace id, looked up once per request."""
    roles = getattr(request, "_workspace_roles", None)
    if roles is None:
        # A caller that is not a person (an ingest token) carries its own roles.
        roles = getattr(request.user, "workspace_roles", None)
        if roles is None:
            roles = workspace_roles(user=request.user)
        request._workspace_roles = roles  # type: ignore[attr-defined]
    return roles


def caller_workspace_ids(request: Request) -> list[int]:
    return sorted(caller_roles(request))


def caller_writable_workspace_ids(request: Request) -> list[int]:
    return sorted(w for w, role in caller_roles(request).items() if role in WRITE_ROLES)


def workspace_for_write(request: Request, workspace_id: int | None) -> Any:
    """The workspace a create goes to: the one named, or the caller's only one.

    A workspace the caller is not a member of is answered like one that does
    not exist, so ids of other tenants cannot be probed.
    """
    roles = caller_roles(request)
    if workspace_id is None:
        if len(roles) != 1:
            problem = (
                "You belong to several workspaces; say which one."
                if roles
                else "You are not a member of any workspace."
            )
            raise ValidationError({"workspace": [problem]})
        workspace_id = next(iter(roles))
    elif workspace_id not in roles:
        raise ValidationError({"workspace": ["No such workspace."]})
    if roles[workspace_id] not in WRITE_ROLES:
        raise PermissionDenied(VIEWER_MESSAGE)
    workspace = workspace_model()._default_manager.filter(pk=workspace_id).first()
    if workspace is None:  # deleted since the roles were read
        raise ValidationError({"workspace": ["No such workspace."]})
    return workspace


class WorkspaceRolePermission(BasePermission):
    """Members read; only owners and operators write.

    Detail actions are judged on the object, after the scoped lookup, so an
    object of another workspace is a 404 for everyone.
    """

    message = VIEWER_MESSAGE

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS or getattr(view, "detail", False):
            return True
        return any(role in WRITE_ROLES for role in caller_roles(request).values())

    def has_object_permission(self, request: Request, view: APIView, obj: Model) -> bool:
        if request.method in SAFE_METHODS:
            return True
        role = caller_roles(request).get(obj.workspace_id)  # type: ignore[attr-defined]
        return role is not None and role in WRITE_ROLES
