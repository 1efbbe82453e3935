"""The ingest API: open a session, append events, upload screenshots, close it.

Integrators use the farm's token auth; the browser extension sends
`Authorization: Capture <ingest token>`. Every lookup is scoped to the
caller's workspaces, so another workspace's session is a 404. An ingest
token reads nothing (its list is empty, a detail a 404) and writes only to
the sessions it opened itself: any other session, a publish run's or another
token's, is a 404 to it, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.authentication import ApiTokenAuthentication
from accounts.selectors import account_get
from capture.api.authentication import IngestCaller, IngestTokenAuthentication
from capture.api.serializers import (
    AppendOutputSerializer,
    EventsInputSerializer,
    ScreenshotInputSerializer,
    ScreenshotOutputSerializer,
    SessionOpenInputSerializer,
    SessionOutputSerializer,
)
from capture.models import CapturedSession
from capture.selectors import captured_session_get, captured_session_list
from capture.services import (
    MAX_EVENTS_PER_BATCH,
    screenshot_max_bytes,
    screenshot_size_check,
    session_close,
    session_events_append,
    session_open,
    session_screenshot_add,
)
from core.api import (
    VIEWER_MESSAGE,
    DetailSerializer,
    caller_roles,
    caller_workspace_ids,
    workspace_for_write,
)
from core.tenancy import WRITE_ROLES

NOT_FOUND = "No such captured session in your workspaces."
# Room in a screenshot's multipart body for the boundaries, headers and `sequence`.
MULTIPART_ALLOWANCE = 64 * 1024


class ScreenshotTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def _declared_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _conflict() -> OpenApiResponse:
    return OpenApiResponse(DetailSerializer, description="The session is no longer recording.")


@extend_schema_view(
    list=extend_schema(summary="List the captured sessions of your workspaces"),
    retrieve=extend_schema(summary="One captured session, with its scores"),
)
class CapturedSessionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    authentication_classes = [
        IngestTokenAuthentication,
        ApiTokenAuthentication,
        SessionAuthentication,
    ]
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]
    serializer_class = SessionOutputSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[CapturedSession]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no caller
            return CapturedSession.objects.none()
        if isinstance(self.request.user, IngestCaller):  # writes only; reads nothing
            return CapturedSession.objects.none()
        return captured_session_list(workspace_ids=caller_workspace_ids(self.request)).order_by(
            "-started_at"
        )

    def _session_for_write(self, pk: str | None) -> CapturedSession:
        roles = caller_roles(self.request)
        user = self.request.user
        session = captured_session_get(
            session_id=pk,
            workspace_ids=sorted(roles),
            # An ingest token writes only to the sessions it opened.
            opened_by=user.token if isinstance(user, IngestCaller) else None,
        )
        if session is None:
            raise NotFound(NOT_FOUND)
        if roles[session.workspace_id] not in WRITE_ROLES:
            raise PermissionDenied(VIEWER_MESSAGE)
        return session

    @extend_schema(
        summary="Open a captured session",
        request=SessionOpenInputSerializer,
        responses={201: SessionOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = SessionOpenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = workspace_for_write(self.request, data.get("workspace"))
        account = None
        if data.get("account") is not None:
            account = account_get(account_id=data["account"], workspace_ids=[workspace.pk])
            if account is None:
                raise ValidationError({"account": ["No such account in this workspace."]})
        token = request.auth if isinstance(request.user, IngestCaller) else None
        session = session_open(
            workspace=workspace,
            kind=data["kind"],
            start_url=data.get("start_url", ""),
            viewport=data.get("viewport"),
            user_agent=data.get("user_agent", ""),
            task=data.get("task", ""),
            account=account,
            token=token,
        )
        return Response(SessionOutputSerializer(session).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Append a batch of events",
        description=(
            "Up to 1,000 events. Idempotent by (session, sequence): a resent batch adds "
            "nothing. Bad events come back by index with their field errors; the good "
            "events of the same batch are kept."
        ),
        request=EventsInputSerializer,
        responses={
            200: AppendOutputSerializer,
            400: OpenApiResponse(description="`events` missing, not a list, or over 1,000."),
            409: _conflict(),
        },
    )
    @action(detail=True, methods=["post"])
    def events(self, request: Request, pk: str | None = None) -> Response:
        data = request.data
        events = data.get("events") if isinstance(data, dict) else None
        if not isinstance(events, list):
            raise ValidationError({"events": ["Send a list of events."]})
        if len(events) > MAX_EVENTS_PER_BATCH:
            raise ValidationError(
                {
                    "events": [
                        f"A batch holds at most {MAX_EVENTS_PER_BATCH} events; "
                        f"this one has {len(events)}. Split it."
                    ]
                }
            )
        session = self._session_for_write(pk)
        result = session_events_append(session=session, events=events)
        return Response(result.as_dict())

    @extend_schema(
        summary="Upload a screenshot",
        description=(
            "Multipart `image` (PNG or JPEG, stored as WebP) and optional `sequence`. "
            "A body declared larger than the image limit allows is a 413 before it is read; "
            "an image over the limit is a 400, before it is read."
        ),
        request={"multipart/form-data": ScreenshotInputSerializer},
        responses={
            201: ScreenshotOutputSerializer,
            409: _conflict(),
            413: OpenApiResponse(description="The body is larger than an image may be."),
        },
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def screenshots(self, request: Request, pk: str | None = None) -> Response:
        session = self._session_for_write(pk)
        limit = screenshot_max_bytes()
        # The declared length first: a body too large is refused before it is read.
        declared = _declared_length(request)
        if declared > limit + MULTIPART_ALLOWANCE:
            raise ScreenshotTooLarge(
                {
                    "image": [
                        f"The request is {declared} bytes; an image may be at most {limit} "
                        "bytes. Nothing was read."
                    ]
                }
            )
        serializer = ScreenshotInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["image"]
        # Then the file's own size, before it is read into memory.
        screenshot_size_check(size=upload.size or 0)
        shot = session_screenshot_add(
            session=session,
            image_bytes=upload.read(),
            sequence=serializer.validated_data.get("sequence"),
        )
        return Response(ScreenshotOutputSerializer(shot).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Close the session: score it, then accept or reject it",
        request=None,
        responses={200: SessionOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        session = session_close(session=self._session_for_write(pk))
        return Response(SessionOutputSerializer(session).data)
