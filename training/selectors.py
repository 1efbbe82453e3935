"""Reads for exports: which sessions an export takes."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from accounts.selectors import IdFilter
from capture.models import INTERACTION_RECORDED_FIELDS, CapturedSession
from training.models import Export, ExportFormat

# What the formats read of a session and of its interactions.
SESSION_FIELDS = ("id", "task", "start_url", "kind")
INTERACTION_FIELDS = ("session_id", *INTERACTION_RECORDED_FIELDS)


def export_sessions(*, export: Export) -> QuerySet[CapturedSession]:
    """The accepted sessions an export's filters take, oldest first (ties by id).

    Only accepted sessions: rejected ones fell below the workspace's quality
    bar, recording ones are unfinished, and archived ones have no rows left.
    """
    sessions = CapturedSession.objects.filter(
        workspace_id=export.workspace_id, state=CapturedSession.State.ACCEPTED
    )
    if export.kinds:
        sessions = sessions.filter(kind__in=export.kinds)
    if export.min_quality is not None:
        sessions = sessions.filter(quality__gte=export.min_quality)
    if export.started_from is not None:
        sessions = sessions.filter(started_at__gte=export.started_from)
    if export.started_until is not None:
        sessions = sessions.filter(started_at__lt=export.started_until)
    return sessions.order_by("started_at", "id")


def export_list(*, workspace_ids: list[int]) -> QuerySet[Export]:
    """The exports of these workspaces, newest first."""
    return Export.objects.filter(workspace_id__in=workspace_ids).order_by("-created_at", "-id")


class ExportFilter(django_filters.FilterSet):
    # By id: a workspace that is not the caller's holds nothing, as with every list.
    workspace = IdFilter(field_name="workspace_id")
    state = django_filters.ChoiceFilter(choices=Export.State.choices)
    format = django_filters.ChoiceFilter(choices=ExportFormat.choices)

    class Meta:
        model = Export
        fields = ["workspace", "state", "format"]
