"""Reads for the operator console."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from accounts.models import Workspace
from accounts.selectors import workspace_roles
from monitoring.models import Alert
from uploads.selectors import queue_summary


def member_workspace_ids(*, user: AbstractBaseUser | AnonymousUser) -> list[int] | None:
    """The workspaces a console user may see; None means all of them (superusers)."""
    if getattr(user, "is_superuser", False):
        return None
    return list(workspace_roles(user=user))


def all_or(workspace_ids: list[int] | None) -> list[int]:
    if workspace_ids is not None:
        return workspace_ids
    return list(Workspace.objects.values_list("pk", flat=True))


def dashboard_summary(*, workspace_ids: list[int] | None = None) -> dict[str, Any]:
    """The queue summary plus the count of open alerts; None counts every workspace."""
    ids = all_or(workspace_ids)
    summary = queue_summary(workspace_ids=ids)
    summary["open_alerts"] = Alert.objects.filter(
        workspace_id__in=ids, resolved_at__isnull=True
    ).count()
    return summary
