from __future__ import annotations

from django.utils import timezone

from accounts.models import Account, Workspace
from monitoring.models import Alert


def alert_raise(
    *,
    workspace: Workspace | int,
    kind: str,
    message: str,
    account: Account | int | None = None,
    platform: str = "",
    severity: str = Alert.Severity.WARNING,
) -> Alert:
    """Open an alert, or return the open one of the same kind for the same account (or platform)."""
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    account_id = account if isinstance(account, int) or account is None else account.pk
    existing = Alert.objects.filter(
        workspace_id=workspace_id,
        account=account_id,
        platform=platform,
        kind=kind,
        resolved_at__isnull=True,
    ).first()
    if existing is not None:
        return existing
    return Alert.objects.create(
        workspace_id=workspace_id,
        account_id=account_id,
        platform=platform,
        kind=kind,
        message=message,
        severity=severity,
    )


def alerts_raise_for_platform(
    *, platform: str, kind: str, message: str, severity: str = Alert.Severity.WARNING
) -> int:
    """One open alert for each workspace with an account on `platform`; returns how many opened.

    Alerts belong to a workspace, and operators see only their own: a
    platform-wide problem is told to every workspace it touches.
    """
    workspace_ids = set(
        Account.objects.filter(platform=platform).values_list("workspace_id", flat=True)
    )
    already = set(
        Alert.objects.filter(
            workspace_id__in=workspace_ids,
            account__isnull=True,
            platform=platform,
            kind=kind,
            resolved_at__isnull=True,
        ).values_list("workspace_id", flat=True)
    )
    created = Alert.objects.bulk_create(
        Alert(workspace_id=ws, platform=platform, kind=kind, message=message, severity=severity)
        for ws in sorted(workspace_ids - already)
    )
    return len(created)


def alerts_resolve(*, alert_ids: list[int]) -> int:
    return Alert.objects.filter(pk__in=alert_ids, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )


def alerts_resolve_for_platform(*, platform: str, kind: str) -> int:
    """Resolve the open platform-wide alerts of one kind, in every workspace."""
    return alerts_resolve(
        alert_ids=list(
            Alert.objects.filter(
                platform=platform, account__isnull=True, kind=kind, resolved_at__isnull=True
            ).values_list("pk", flat=True)
        )
    )
