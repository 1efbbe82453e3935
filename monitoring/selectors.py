"""Reads for the operator console."""

from __future__ import annotations

from typing import Any

from core.tenancy import all_workspace_ids_or
from monitoring.models import Alert
from uploads.selectors import queue_summary


def dashboard_summary(*, workspace_ids: list[int] | None = None) -> dict[str, Any]:
    """The queue summary plus the count of open alerts; None counts every workspace."""
    ids = all_workspace_ids_or(workspace_ids)
    summary = queue_summary(workspace_ids=ids)
    summary["open_alerts"] = Alert.objects.filter(
        workspace_id__in=ids, resolved_at__isnull=True
    ).count()
    return summary
