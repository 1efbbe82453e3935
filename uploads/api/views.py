"""Posts and queue API: thin views over the uploads services and selectors."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from accounts.selectors import account_get
from core.api import (
    DetailSerializer,
    WorkspaceRolePermission,
    caller_workspace_ids,
    caller_writable_workspace_ids,
    workspace_for_write,
)
from core.errors import RowErrors, require_state_change
from core.filters import FarmFilterBackend
from uploads.api.serializers import (
    BulkCreatedSerializer,
    BulkErrorsSerializer,
    BulkPostRowInputSerializer,
    BulkPostsInputSerializer,
    PostCreateInputSerializer,
    PostDetailOutputSerializer,
    PostOutputSerializer,
    QueueStatusOutputSerializer,
    QueueStatusQuerySerializer,
    RequeueDeadInputSerializer,
    RequeueDeadOutputSerializer,
)
from uploads.models import Post
from uploads.selectors import (
    PostFilter,
    campaign_get,
    dead_post_list,
    post_detail_list,
    post_list,
    queue_summary,
)
from uploads.services import (
    post_cancel,
    post_create,
    post_requeue,
    posts_bulk_create,
    posts_requeue_dead,
)

NOT_YOURS = "No such post in a workspace you may change."


def _bulk_input_errors(errors: dict[str, Any]) -> list[dict[str, Any]]:
    """Serializer errors in the bulk shape: one entry per bad row, `row: null` for the rest."""
    shaped: list[dict[str, Any]] = []
    for field, problems in errors.items():
        if isinstance(problems, dict) and all(isinstance(key, int) for key in problems):
            # DRF keys the errors of a list by the index of each bad item.
            shaped += [{"row": i, "errors": problems[i]} for i in sorted(problems)]
        elif isinstance(problems, dict):  # the list itself is wrong: too long, empty, not a list
            shaped.append(
                {"row": None, "errors": {field: [m for ms in problems.values() for m in ms]}}
            )
        else:
            shaped.append({"row": None, "errors": {field: problems}})
    return shaped


def _parse_rows(raw_rows: list[Any]) -> tuple[list[dict[str, Any] | None], dict[int, Any]]:
    rows: list[dict[str, Any] | None] = []
    errors: dict[int, Any] = {}
    for index, raw in enumerate(raw_rows):
        row = BulkPostRowInputSerializer(data=raw)
        if row.is_valid():
            rows.append(dict(row.validated_data))
        else:
            rows.append(None)
            errors[index] = row.errors
    return rows, errors


def _conflict_response() -> OpenApiResponse:
    return OpenApiResponse(DetailSerializer, description="The post's state does not allow this.")


@extend_schema_view(
    list=extend_schema(summary="List the posts of your workspaces"),
    retrieve=extend_schema(summary="One post, with its attempts"),
)
class PostViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    # Actions whose 400 lists errors by row (core.api.exception_handler).
    row_error_actions = frozenset({"bulk"})
    permission_classes = [IsAuthenticated, WorkspaceRolePermission]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filter_backends = [FarmFilterBackend, OrderingFilter]
    filterset_class = PostFilter
    ordering_fields = ["created_at", "scheduled_for", "priority", "posted_at", "status", "id"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[Post]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no caller
            return Post.objects.none()
        workspace_ids = caller_workspace_ids(self.request)
        if self.action == "retrieve":
            return post_detail_list(workspace_ids=workspace_ids)
        if self.action == "dead":
            return dead_post_list(workspace_ids=workspace_ids)
        return post_list(workspace_ids=workspace_ids)

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action in ("retrieve", "dead"):
            return PostDetailOutputSerializer
        return PostOutputSerializer

    @extend_schema(
        summary="Queue a post",
        description="JSON, or multipart when the post carries a media file.",
        request=PostCreateInputSerializer,
        responses={201: PostOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = PostCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = workspace_for_write(request, data.get("workspace"))
        campaign = None
        if data.get("campaign") is not None:
            campaign = campaign_get(campaign_id=data["campaign"], workspace_id=workspace.pk)
            if campaign is None:
                raise ValidationError({"campaign": ["No such campaign in this workspace."]})
        post = post_create(
            workspace=workspace,
            # None for an account of another workspace: the service answers
            # "no such account", so its existence is not revealed.
            account=account_get(account_id=data["account"], workspace_ids=[workspace.pk]),
            title=data["title"],
            caption=data["caption"],
            kind=data["kind"],
            media=data.get("media"),
            priority=data["priority"],
            scheduled_for=data.get("scheduled_for"),
            schedule_timezone=data.get("timezone") or None,
            campaign=campaign,
        )
        output = PostOutputSerializer(post, context=self.get_serializer_context())
        return Response(output.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Queue many text posts at once, all or nothing",
        description=(
            "1 to 1,000 text posts. If any row is bad nothing is saved and the answer lists "
            "each bad row by its index with its field errors."
        ),
        request=BulkPostsInputSerializer,
        responses={
            201: BulkCreatedSerializer,
            400: OpenApiResponse(BulkErrorsSerializer, description="Bad rows; nothing saved."),
        },
    )
    @action(detail=False, methods=["post"], parser_classes=[JSONParser])
    def bulk(self, request: Request) -> Response:
        try:
            body = request.data
        except ParseError as exc:  # in the bulk answer's shape too: a problem of no one row
            raise RowErrors([{"row": None, "errors": {"non_field_errors": [exc.detail]}}]) from exc
        serializer = BulkPostsInputSerializer(data=body)
        rows: list[dict[str, Any] | None]
        row_errors: dict[int, Any] = {}
        if serializer.is_valid():
            rows, workspace_id = (
                serializer.validated_data["posts"],
                serializer.validated_data.get("workspace"),
            )
        else:
            shaped = _bulk_input_errors(serializer.errors)
            if any(error["row"] is None for error in shaped):
                return Response({"errors": shaped}, status=status.HTTP_400_BAD_REQUEST)
            data = body
            assert isinstance(data, dict)  # a body that is no JSON object has no row errors
            # Only some rows are malformed: parse the rest one by one, so the
            # rule checks of the good ones come back in the same answer.
            rows, row_errors = _parse_rows(data["posts"])
            # The workspace field passed validation (its errors would carry no row).
            raw = data.get("workspace")
            workspace_id = None if raw in (None, "") else int(raw)
        try:
            workspace = workspace_for_write(request, workspace_id)
        except ValidationError as exc:  # in the bulk answer's shape: an error of no one row
            raise RowErrors([{"row": None, "errors": exc.detail}]) from exc
        # Bad rows raise RowErrors: the exception handler answers them.
        posts = posts_bulk_create(workspace=workspace, rows=rows, known_errors=row_errors)
        output = PostOutputSerializer(posts, many=True, context=self.get_serializer_context())
        return Response({"posts": output.data}, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel a post no worker has started on",
        request=None,
        responses={200: PostOutputSerializer, 409: _conflict_response()},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        post = self.get_object()
        require_state_change(
            post_cancel(post=post),
            post,
            field="status",
            allowed=(
                "a post no worker has started on (scheduled, queued, waiting to retry or "
                "rate limited) can be cancelled"
            ),
        )
        return Response(self._fresh(post))

    @extend_schema(
        summary="Give a dead, failed or cancelled post a fresh set of attempts",
        request=None,
        responses={200: PostOutputSerializer, 409: _conflict_response()},
    )
    @action(detail=True, methods=["post"])
    def requeue(self, request: Request, pk: str | None = None) -> Response:
        post = self.get_object()
        require_state_change(
            post_requeue(post=post),
            post,
            field="status",
            allowed="dead, failed or cancelled posts can be requeued",
        )
        return Response(self._fresh(post))

    @extend_schema(
        summary="Dead letters: posts whose attempts are used up, each with its attempts",
        description=(
            "The posts in `dead`, with `attempts_count`, `max_attempts`, `last_error` and "
            "every attempt inline. Takes the list's filters (account, campaign, workspace, "
            "dates), ordering and paging. Requeue them one by one at "
            "`/api/v1/posts/{id}/requeue/` or together at `/api/v1/posts/dead/requeue/`."
        ),
        responses={200: PostDetailOutputSerializer(many=True)},
    )
    @action(detail=False, methods=["get"])
    def dead(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        summary="Requeue dead posts together",
        description=(
            "Each dead post named is requeued on its own with a fresh set of attempts. "
            "The others are left alone and listed with the reason: not dead, or not found "
            "in a workspace where you may change things."
        ),
        request=RequeueDeadInputSerializer,
        responses={200: RequeueDeadOutputSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="dead/requeue",
        url_name="dead-requeue",
        parser_classes=[JSONParser],
    )
    def requeue_dead(self, request: Request) -> Response:
        serializer = RequeueDeadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = list(dict.fromkeys(serializer.validated_data["ids"]))
        writable = caller_writable_workspace_ids(request)
        posts = post_list(workspace_ids=writable).filter(pk__in=ids).only("pk", "status")
        result = posts_requeue_dead(posts=posts)
        requeued = set(result.requeued)
        skipped = [
            {"id": i, "reason": result.skipped.get(i, NOT_YOURS)} for i in ids if i not in requeued
        ]
        return Response({"requeued": sorted(requeued), "skipped": skipped})

    def _fresh(self, post: Post) -> dict[str, Any]:
        # The service wrote the row with an UPDATE: answer with what is stored now.
        post = post_list(workspace_ids=[post.workspace_id]).get(pk=post.pk)
        return PostOutputSerializer(post, context=self.get_serializer_context()).data


class QueueStatusView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="How the queue of your workspaces stands",
        parameters=[QueueStatusQuerySerializer],
        responses={200: QueueStatusOutputSerializer},
    )
    def get(self, request: Request) -> Response:
        query = QueueStatusQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        workspace_ids = caller_workspace_ids(request)
        if "workspace" in query.validated_data:
            # Like a list filter: a workspace that is not yours simply holds nothing.
            workspace_ids = [w for w in workspace_ids if w == query.validated_data["workspace"]]
        summary = queue_summary(workspace_ids=workspace_ids)
        return Response(QueueStatusOutputSerializer(summary).data)
