from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F

from accounts.models import Account, Workspace
from accounts.services import (
    account_create,
    account_disable,
    account_mark_needs_login,
    account_pause,
    account_resume,
    account_set_credentials,
    accounts_reset_daily_quotas,
)
from browsers.models import BrowserProfile


def set_state(account: Account, state: str) -> Account:
    Account.objects.filter(pk=account.pk).update(state=state)
    account.refresh_from_db()
    return account


def test_create_gives_the_account_a_profile(account: Account) -> None:
    assert BrowserProfile.objects.filter(account=account).count() == 1


def test_plan_cap_is_enforced(
    make_workspace: Callable[..., Workspace], make_account: Callable[..., Account]
) -> None:
    small = make_workspace(max_accounts=2)
    make_account(small)
    make_account(small)
    with pytest.raises(ValidationError) as caught:
        make_account(small)
    assert "workspace" in caught.value.message_dict
    assert "The plan allows 2 accounts" in caught.value.message_dict["workspace"][0]
    assert small.accounts.count() == 2


def test_unknown_platform_is_refused(workspace: Workspace) -> None:
    with pytest.raises(ValidationError) as caught:
        account_create(workspace=workspace, platform="myspace", handle="tom")
    assert "platform" in caught.value.message_dict
    assert not workspace.accounts.exists()


@pytest.mark.parametrize(
    ("start", "moves"),
    [
        (Account.State.ACTIVE, True),
        (Account.State.NEEDS_LOGIN, True),
        (Account.State.PAUSED, False),
        (Account.State.DISABLED, False),
    ],
)
def test_pause_only_from_active_or_needs_login(account: Account, start: str, moves: bool) -> None:
    set_state(account, start)
    assert account_pause(account=account, reason="checking") is moves
    account.refresh_from_db()
    assert account.state == (Account.State.PAUSED if moves else start)
    if moves:
        assert account.state_reason == "checking"
        assert account.state_changed_at is not None


@pytest.mark.parametrize(
    ("start", "moves"),
    [
        (Account.State.PAUSED, True),
        (Account.State.NEEDS_LOGIN, True),
        (Account.State.ACTIVE, False),
        (Account.State.DISABLED, False),
    ],
)
def test_resume_only_from_paused_or_needs_login(account: Account, start: str, moves: bool) -> None:
    set_state(account, start)
    assert account_resume(account=account) is moves
    account.refresh_from_db()
    assert account.state == (Account.State.ACTIVE if moves else start)


def test_needs_login_only_from_active_and_disable_from_anywhere(account: Account) -> None:
    set_state(account, Account.State.PAUSED)
    assert account_mark_needs_login(account=account, reason="logged out") is False
    assert account_disable(account=account, reason="closed") is True
    assert Account.objects.get(pk=account.pk).state == Account.State.DISABLED


def test_credentials_are_stored_encrypted(account: Account) -> None:
    account_set_credentials(account=account, credentials={"username": "a", "password": "pw-2"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM accounts_account WHERE id = %s", [account.pk])
        (raw,) = cursor.fetchone()
    assert "pw-2" not in raw
    credentials = Account.objects.get(pk=account.pk).credentials
    assert credentials is not None
    assert credentials["password"] == "pw-2"


def test_quota_reset_follows_each_workspace_local_day(
    make_workspace: Callable[..., Workspace], make_account: Callable[..., Account]
) -> None:
    # 23:30 UTC on 1 June: already 2 June in Tokyo, still 1 June in New York.
    at = datetime(2024, 6, 1, 23, 30, tzinfo=UTC)
    tokyo = make_workspace(timezone_name="Asia/Tokyo")
    new_york = make_workspace(timezone_name="America/New_York")
    in_tokyo, in_new_york, never_reset = (
        make_account(tokyo),
        make_account(new_york),
        make_account(new_york),
    )
    Account.objects.filter(pk__in=[in_tokyo.pk, in_new_york.pk]).update(
        quota_used=5, quota_date=date(2024, 6, 1)
    )
    Account.objects.filter(pk=never_reset.pk).update(quota_used=3, quota_date=None)

    with mock.patch("django.utils.timezone.now", return_value=at):
        assert accounts_reset_daily_quotas() == 2
        # A second run the same day changes nothing.
        assert accounts_reset_daily_quotas() == 0

    rows = {a.pk: (a.quota_used, a.quota_date) for a in Account.objects.all()}
    assert rows[in_tokyo.pk] == (0, date(2024, 6, 2))
    assert rows[in_new_york.pk] == (5, date(2024, 6, 1))
    assert rows[never_reset.pk] == (0, date(2024, 6, 1))


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        # Spring forward: 02:00 becomes 03:00, the day has 23 hours.
        pytest.param("America/New_York", datetime(2026, 3, 7, 0, 0, tzinfo=UTC), id="spring"),
        # Fall back: 01:00-02:00 happens twice, the day has 25 hours.
        pytest.param("Europe/Berlin", datetime(2026, 10, 24, 0, 0, tzinfo=UTC), id="fall"),
        # Chile moves its clocks at midnight: 00:00 on 6 September never happens.
        pytest.param("America/Santiago", datetime(2026, 9, 4, 12, 0, tzinfo=UTC), id="no-midnight"),
    ],
)
def test_quota_resets_once_per_local_day_across_dst_changes(
    make_workspace: Callable[..., Workspace],
    make_account: Callable[..., Account],
    zone: str,
    start: datetime,
) -> None:
    workspace = make_workspace(timezone_name=zone)
    account = make_account(workspace)
    tz = ZoneInfo(zone)
    resets: list[datetime] = []
    # Beat's minute tick over three days, the account posting all the while.
    for minute in range(0, 3 * 24 * 60, 1):
        now = start + timedelta(minutes=minute)
        if accounts_reset_daily_quotas(now=now):
            resets.append(now.astimezone(tz))
        Account.objects.filter(pk=account.pk).update(quota_used=F("quota_used") + 1)

    days = [at.date() for at in resets]
    assert len(days) == len(set(days)), "a local day was reset twice"
    # Every local day after the first starts with a reset in its first minute
    # (in its first existing minute when midnight is skipped).
    first_day = start.astimezone(tz).date()
    last_day = (start + timedelta(days=3) - timedelta(minutes=1)).astimezone(tz).date()
    expected = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    assert days == expected
    for at in resets[1:]:
        previous_minute = (at.astimezone(UTC) - timedelta(minutes=1)).astimezone(tz)
        assert previous_minute.date() < at.date(), f"reset late, at {at}"
