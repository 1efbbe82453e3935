"""Accounts API, and the workspace scoping every API view shares.

A caller sees only the workspaces they are a member of; owners and
operators may change things there, viewers may only read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import (
    AccountOutputSerializer,
    AccountPauseInputSerializer,
    DetailSerializer,
)
from accounts.models import Account, Workspace
from accounts.selectors import (
    WRITE_ROLES,
    AccountFilter,
    account_list,
    workspace_get,
    workspace_roles,
)
from accounts.services import account_pause, account_resume

VIEWER_MESSAGE = "Viewers may read this workspace but not change anything in it."


class Conflict(APIException):
    status_code = 409
    default_detail = "The object's current state does not allow this."
    default_code = "conflict"


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


def workspace_for_write(request: Request, workspace_id: int | None) -> Workspace:
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
    workspace = workspace_get(workspace_id=workspace_id)
    if workspace is None:  # deleted since the roles were read
        raise ValidationError({"workspace": ["No such workspace."]})
    return workspace


@contextmanager
def service_errors() -> Iterator[None]:
    """Turn a service's Django ValidationError into the API's 400 with field errors."""
    try:
        yield
    except DjangoValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise ValidationError(exc.message_dict) from exc
        raise ValidationError({"non_field_errors": exc.messages}) from exc


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
        return caller_roles(request).get(obj.workspace_id) in WRITE_ROLES


@extend_schema_view(
    list=extend_schema(summary="List the accounts of your workspaces"),
    retrieve=extend_schema(summary="One account"),
)
class AccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AccountOutputSerializer
    permission_classes = [IsAuthenticated, WorkspaceRolePermission]
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = AccountFilter
    search_fields = ["handle"]
    ordering_fields = [
        "handle",
        "platform",
        "state",
        "created_at",
        "last_posted_at",
        "consecutive_failures",
    ]
    ordering = ["workspace", "platform", "handle"]

    def get_queryset(self) -> QuerySet[Account]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no caller
            return Account.objects.none()
        return account_list(workspace_ids=caller_workspace_ids(self.request))

    @extend_schema(
        summary="Pause an account",
        request=AccountPauseInputSerializer,
        responses={
            200: AccountOutputSerializer,
            409: OpenApiResponse(DetailSerializer, description="The account cannot be paused."),
        },
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        account = self.get_object()
        serializer = AccountPauseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options: dict[str, Any] = {}
        if serializer.validated_data.get("reason"):
            options["reason"] = serializer.validated_data["reason"]
        if not account_pause(account=account, **options):
            account.refresh_from_db(fields=["state"])
            raise Conflict(
                f"The account is {account.get_state_display().lower()}; only active accounts "
                "and accounts that need a login can be paused."
            )
        return Response(self._fresh(account))

    @extend_schema(
        summary="Resume a paused account",
        request=None,
        responses={
            200: AccountOutputSerializer,
            409: OpenApiResponse(DetailSerializer, description="The account cannot be resumed."),
        },
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        account = self.get_object()
        if not account_resume(account=account):
            account.refresh_from_db(fields=["state"])
            raise Conflict(
                f"The account is {account.get_state_display().lower()}; only paused accounts "
                "and accounts that need a login can be resumed."
            )
        return Response(self._fresh(account))

    def _fresh(self, account: Account) -> dict[str, Any]:
        # The service wrote the row with an UPDATE: answer with what is stored now.
        account = self.get_queryset().get(pk=account.pk)
        return AccountOutputSerializer(account, context=self.get_serializer_context()).data
