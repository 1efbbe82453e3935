"""Accounts API: list, read, pause and resume the accounts of your workspaces."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.serializers import AccountOutputSerializer, AccountPauseInputSerializer
from accounts.models import Account
from accounts.selectors import AccountFilter, account_list
from accounts.services import account_pause, account_resume
from core.api import DetailSerializer, WorkspaceRolePermission, caller_workspace_ids
from core.errors import require_state_change
from core.filters import FarmFilterBackend


@extend_schema_view(
    list=extend_schema(summary="List the accounts of your workspaces"),
    retrieve=extend_schema(summary="One account"),
)
class AccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AccountOutputSerializer
    permission_classes = [IsAuthenticated, WorkspaceRolePermission]
    filter_backends = [FarmFilterBackend, SearchFilter, OrderingFilter]
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
    @action(detail=True, methods=["post"], parser_classes=[JSONParser])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        account = self.get_object()
        serializer = AccountPauseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options: dict[str, Any] = {}
        if serializer.validated_data.get("reason"):
            options["reason"] = serializer.validated_data["reason"]
        require_state_change(
            account_pause(account=account, **options),
            account,
            field="state",
            allowed="active accounts and accounts that need a login can be paused",
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
        require_state_change(
            account_resume(account=account),
            account,
            field="state",
            allowed="paused accounts and accounts that need a login can be resumed",
        )
        return Response(self._fresh(account))

    def _fresh(self, account: Account) -> dict[str, Any]:
        # The service wrote the row with an UPDATE: answer with what is stored now.
        account = self.get_queryset().get(pk=account.pk)
        return AccountOutputSerializer(account, context=self.get_serializer_context()).data
