"""Alerts for what the apps below announce (accounts/signals.py, uploads/signals.py)."""

from __future__ import annotations

from typing import Any

from accounts.models import Account
from monitoring.models import Alert
from monitoring.services import alert_raise, alerts_raise_for_platform, alerts_resolve_for_platform
from uploads.models import Post


def alert_login_required(*, account: Account, reason: str, **_: Any) -> None:
    alert_raise(
        workspace=account.workspace_id,
        account=account.pk,
        kind=Alert.Kind.LOGIN_REQUIRED,
        message=f"{account} needs a person to log in: {reason}",
        severity=Alert.Severity.CRITICAL,
    )


def alert_post_rejected(*, post: Post, message: str, **_: Any) -> None:
    alert_raise(
        workspace=post.account.workspace_id,
        account=post.account_id,
        kind=Alert.Kind.POST_REJECTED,
        message=f"Post #{post.pk} was rejected: {message}",
    )


def alert_post_dead(*, post: Post, attempts: int, message: str, **_: Any) -> None:
    alert_raise(
        workspace=post.account.workspace_id,
        account=post.account_id,
        kind=Alert.Kind.POST_DEAD,
        message=f"Post #{post.pk} gave up after {attempts} attempts: {message}",
    )


def alert_circuit_opened(*, platform: str, message: str, **_: Any) -> None:
    alerts_raise_for_platform(
        platform=platform,
        kind=Alert.Kind.PLATFORM_CIRCUIT_OPEN,
        message=message,
        severity=Alert.Severity.CRITICAL,
    )


def resolve_circuit_alerts(*, platform: str, **_: Any) -> None:
    alerts_resolve_for_platform(platform=platform, kind=Alert.Kind.PLATFORM_CIRCUIT_OPEN)
