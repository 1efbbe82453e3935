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
    severity: str = Alert.Severity.WARNING,
) -> Alert:
    """Open an alert, or return the open one of the same kind for the same account."""
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    account_id = account if isinstance(account, int) or account is None else account.pk
    existing = Alert.objects.filter(
        workspace_id=workspace_id, account_id=account_id, kind=kind, resolved_at__isnull=True
    ).first()
    if existing is not None:
        return existing
    return Alert.objects.create(
        workspace_id=workspace_id,
        account_id=account_id,
        kind=kind,
        message=message,
        severity=severity,
    )


def alerts_resolve(*, alert_ids: list[int]) -> int:
    return Alert.objects.filter(pk__in=alert_ids, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )
