from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import (
    Account,
    ApiToken,
    Membership,
    Platform,
    Workspace,
    validate_timezone,
)
from accounts.signals import account_created, account_login_required
from core.errors import ServiceError


def workspace_create(
    *, name: str, slug: str, timezone_name: str = "UTC", max_accounts: int = 50
) -> Workspace:
    validate_timezone(timezone_name)
    return Workspace.objects.create(
        name=name, slug=slug, timezone=timezone_name, max_accounts=max_accounts
    )


def membership_add(
    *, workspace: Workspace, user: User, role: str = Membership.Role.OPERATOR
) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    return membership


# New API keys start with this, so a leaked one is easy to recognise (secret scanners).
API_KEY_PREFIX = "farm_"
# How much of a key is kept in clear to tell keys apart.
API_KEY_SHOWN = 12


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new API key for the person; the key is returned this once and never stored."""
    name = name.strip()
    if not name:
        raise ServiceError("Give the key a name.", field="name")
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name[:120], prefix=key[:API_KEY_SHOWN], key_hash=api_key_hash(key)
    )
    return token, key


def api_token_touch(*, token: ApiToken, every_seconds: int = 60) -> None:
    """Note the key's use, at most once a minute so a busy integration is not a write a call."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(seconds=every_seconds):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


@transaction.atomic
def account_create(
    *,
    workspace: Workspace,
    platform: str,
    handle: str,
    credentials: dict[str, Any] | None = None,
    daily_quota: int = 20,
    per_hour_override: int | None = None,
    per_day_override: int | None = None,
    min_interval_override: int | None = None,
) -> Account:
    if platform not in Platform.values:
        raise ServiceError(f"Unknown platform {platform!r}.", field="platform")
    # Lock the workspace so two concurrent creations cannot both pass the cap.
    workspace = Workspace.objects.select_for_update().get(pk=workspace.pk)
    if workspace.accounts.count() >= workspace.max_accounts:
        raise ServiceError(
            f"The plan allows {workspace.max_accounts} accounts; all are in use.",
            field="workspace",
        )
    account = Account.objects.create(
        workspace=workspace,
        platform=platform,
        handle=handle,
        credentials=credentials,
        daily_quota=daily_quota,
        per_hour_override=per_hour_override,
        per_day_override=per_day_override,
        min_interval_override=min_interval_override,
    )
    account_created.send(sender=Account, account=account)
    return account


def _account_set_state(
    *, account: Account, to: str, reason: str = "", only_from: list[str] | None = None
) -> bool:
    """Move an account to a state with one conditional UPDATE; True if it moved."""
    rows = Account.objects.filter(pk=account.pk)
    if only_from is not None:
        rows = rows.filter(state__in=only_from)
    changed = rows.update(state=to, state_reason=reason[:500], state_changed_at=timezone.now())
    if changed:
        account.state, account.state_reason = to, reason[:500]
    return changed == 1


def account_pause(*, account: Account, reason: str = "Paused by an operator.") -> bool:
    return _account_set_state(
        account=account,
        to=Account.State.PAUSED,
        reason=reason,
        only_from=[Account.State.ACTIVE, Account.State.NEEDS_LOGIN],
    )


def account_resume(*, account: Account) -> bool:
    return _account_set_state(
        account=account,
        to=Account.State.ACTIVE,
        only_from=[Account.State.PAUSED, Account.State.NEEDS_LOGIN],
    )


def account_mark_needs_login(*, account: Account, reason: str) -> bool:
    """Pause an active account until a person logs in; True if this call paused it."""
    moved = _account_set_state(
        account=account,
        to=Account.State.NEEDS_LOGIN,
        reason=reason,
        only_from=[Account.State.ACTIVE],
    )
    if moved:
        account_login_required.send(sender=Account, account=account, reason=reason)
    return moved


def account_disable(*, account: Account, reason: str) -> bool:
    return _account_set_state(account=account, to=Account.State.DISABLED, reason=reason)


def account_set_credentials(*, account: Account, credentials: dict[str, Any]) -> None:
    Account.objects.filter(pk=account.pk).update(credentials=credentials)
    account.credentials = credentials


def account_set_cookies(*, account: Account, cookies: list[dict[str, Any]]) -> None:
    Account.objects.filter(pk=account.pk).update(cookies=cookies)
    account.cookies = cookies


def account_record_success(*, account_id: int) -> None:
    Account.objects.filter(pk=account_id).update(
        last_posted_at=timezone.now(), consecutive_failures=0
    )


def account_record_failure(*, account_id: int, error_kind: str) -> None:
    Account.objects.filter(pk=account_id).update(
        last_error_at=timezone.now(),
        last_error_kind=error_kind,
        consecutive_failures=F("consecutive_failures") + 1,
    )


def accounts_reset_daily_quotas(*, now: datetime | None = None) -> int:
    """Zero the quota of every account whose workspace has started a new day.

    The day is the workspace's calendar day in its own time zone, so a day
    of 23 or 25 hours (a DST change) or one whose midnight does not exist
    still starts exactly once. Idempotent: an account already reset for its
    workspace's local date is left alone, so beat may run this every minute.
    """
    reset = 0
    now = now or timezone.now()
    for workspace in Workspace.objects.all():
        today = workspace.local_date(now)
        reset += (
            Account.objects.filter(workspace=workspace)
            .filter(Q(quota_date__lt=today) | Q(quota_date__isnull=True))
            .update(quota_used=0, quota_date=today)
        )
    return reset
