"""Training-data exports over the API: thin views over the training services."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import (
    DetailSerializer,
    FormatFilterNegotiation,
    WorkspaceRolePermission,
    caller_workspace_ids,
    workspace_for_write,
)
from core.errors import StateConflict
from training.api.serializers import ExportCreateInputSerializer, ExportOutputSerializer
from training.models import Export
from training.selectors import ExportFilter, export_list
from training.services import export_create, export_enqueue, export_rerun


@extend_schema_view(
    list=extend_schema(summary="List the training-data exports of your workspaces"),
    retrieve=extend_schema(summary="One export: its state, progress, counts, problems and files"),
)
class ExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ExportOutputSerializer
    permission_classes = [IsAuthenticated, WorkspaceRolePermission]
    filterset_class = ExportFilter
    content_negotiation_class = FormatFilterNegotiation  # `format` is a filter here
    parser_classes = [JSONParser]

    def get_queryset(self) -> QuerySet[Export]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no caller
            return Export.objects.none()
        return export_list(workspace_ids=caller_workspace_ids(self.request))

    @extend_schema(
        summary="Start an export",
        description=(
            "Built in the background by a worker; poll the export until its state is "
            "`ready` (its file URLs then download with the same token) or `failed` "
            "(`errors` says why, e.g. fewer than 10 examples)."
        ),
        request=ExportCreateInputSerializer,
        responses={201: ExportOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = ExportCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = workspace_for_write(request, data.pop("workspace", None))
        with transaction.atomic():
            export = export_create(workspace=workspace, **data)
            export_enqueue(export=export)
        output = ExportOutputSerializer(export, context=self.get_serializer_context())
        return Response(output.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Build an export again",
        description="Its old files are dropped. Refused while a run of it is alive.",
        request=None,
        responses={
            200: ExportOutputSerializer,
            409: OpenApiResponse(DetailSerializer, description="A run of it is under way."),
        },
    )
    @action(detail=True, methods=["post"])
    def rerun(self, request: Request, pk: str | None = None) -> Response:
        export = self.get_object()
        if not export_rerun(export=export):
            raise StateConflict("This export is being built right now; wait for it to finish.")
        export.refresh_from_db()
        return Response(ExportOutputSerializer(export, context=self.get_serializer_context()).data)
