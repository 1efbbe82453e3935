"""Reads on captured sessions, always scoped to the caller's workspaces."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from capture.models import CapturedSession, IngestToken
from capture.services import ingest_token_hash


def captured_session_list(*, workspace_ids: list[int]) -> QuerySet[CapturedSession]:
    return CapturedSession.objects.filter(workspace_id__in=workspace_ids)


def captured_session_get(
    *, session_id: object, workspace_ids: list[int], opened_by: IngestToken | None = None
) -> CapturedSession | None:
    """The session, if it is in one of the workspaces (and was opened by `opened_by`, if given)."""
    try:
        pk = uuid.UUID(str(session_id))
    except ValueError:  # not a UUID: no such session
        return None
    sessions = captured_session_list(workspace_ids=workspace_ids).filter(pk=pk)
    if opened_by is not None:
        sessions = sessions.filter(created_by_token=opened_by)
    return sessions.first()


def ingest_token_get_active(*, token: str) -> IngestToken | None:
    return (
        IngestToken.objects.select_related("workspace")
        .filter(token_hash=ingest_token_hash(token), revoked_at__isnull=True)
        .first()
    )
