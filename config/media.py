"""Stored files (post media, screenshots, session archives, training exports) served
only to the people who may see them.

Every file the farm stores belongs to a row, and every such row to a
workspace. A request for `/media/<name>` is answered when the caller (a
console login or an API token) is a member of the workspace of a row that
holds that file name, or is a superuser; otherwise 404, the same answer as
for a name that does not exist, so nothing is learnt by guessing names.
Serving by Django keeps this true with any front server; a deployment that
wants nginx to send the bytes can answer with X-Accel-Redirect here instead.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from django.apps import apps
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from core.tenancy import member_workspace_ids

# (model, file field, lookup from the model to its workspace)
FILE_OWNERS: tuple[tuple[str, str, str], ...] = (
    ("uploads.Post", "media", "workspace"),
    ("uploads.PostAttempt", "screenshot", "post__workspace"),
    ("capture.Screenshot", "image", "session__workspace"),
    ("capture.CapturedSession", "archive", "workspace"),
    ("training.Export", "train_file", "workspace"),
    ("training.Export", "validation_file", "workspace"),
)
# Shown in the browser, these types only (an SVG or HTML file could run script);
# anything else is downloaded, never rendered.
INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/gif",
        "video/mp4",
        "video/webm",
        "video/quicktime",
    }
)


def stored_file_visible(*, name: str, workspace_ids: list[int] | None) -> bool:
    """Whether a row in one of these workspaces (None: any) holds the file `name`."""
    for label, field, workspace_path in FILE_OWNERS:
        rows = apps.get_model(label)._default_manager.filter(**{field: name})
        if workspace_ids is not None:
            rows = rows.filter(**{f"{workspace_path}__in": workspace_ids})
        if rows.exists():
            return True
    return False


class MediaFileView(APIView):
    """GET /media/<name>: a stored file, for members of its workspace."""

    @extend_schema(exclude=True)
    def get(self, request: Request, name: str) -> FileResponse:
        parts = PurePosixPath(name).parts
        if not parts or ".." in parts or name.startswith("/") or "\\" in name:
            raise Http404
        if not stored_file_visible(
            name=name, workspace_ids=member_workspace_ids(user=request.user)
        ):
            raise Http404
        try:
            handle = default_storage.open(name, "rb")
        except FileNotFoundError:
            raise Http404 from None
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        response = FileResponse(
            handle,
            content_type=content_type,
            as_attachment=content_type not in INLINE_TYPES,
            filename=parts[-1],
        )
        # Whatever the file holds, it runs no script and reaches no cookie, and
        # no shared cache keeps a copy of a workspace's file.
        response["Content-Security-Policy"] = "sandbox"
        response["Cache-Control"] = "private"
        return response
