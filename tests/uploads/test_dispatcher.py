"""The dispatcher keeps every account inside its limits and sends one message per post."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account, Workspace
from accounts.services import account_pause
from tests.conftest import broker_queue_purge, broker_queue_size
from tests.factories import make_posts
from uploads.dispatcher import posts_dispatch, queued_posts_resend
from uploads.models import Post, PostAttempt, PostStatus
from uploads.services import post_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_queue() -> None:
    broker_queue_purge()


def test_queues_due_posts_and_sends_one_message_each(
    workspace: Workspace, account: Account
) -> None:
    posts = make_posts(account, 5)
    assert posts_dispatch() == 5
    assert set(Post.objects.values_list("status", flat=True)) == {PostStatus.QUEUED}
    assert PostAttempt.objects.filter(post__in=posts, outcome="pending").count() == 5
    assert broker_queue_size() == 5
    # Nothing is due any more: a second pass sends nothing.
    assert posts_dispatch() == 0
    assert broker_queue_size() == 5


def test_hourly_limit_holds_across_passes(
    workspace: Workspace, make_account: Callable[..., Account]
) -> None:
    account = make_account(workspace, per_hour_override=3)
    make_posts(account, 10)
    assert posts_dispatch() == 3
    assert posts_dispatch() == 0
    assert Post.objects.filter(status=PostStatus.QUEUED).count() == 3


def test_daily_limit_counts_the_trailing_day(
    workspace: Workspace, make_account: Callable[..., Account]
) -> None:
    account = make_account(workspace, per_day_override=4)
    posts = make_posts(account, 6)
    # Three dispatches 20 hours ago still count; one 25 hours ago does not.
    for post, hours in zip(posts[:4], [20, 20, 20, 25], strict=True):
        PostAttempt.objects.create(
            post=post,
            account=account,
            number=1,
            dispatched_at=timezone.now() - timedelta(hours=hours),
        )
    assert posts_dispatch() == 1


def test_daily_quota_uses_the_workspaces_day(
    workspace: Workspace, make_account: Callable[..., Account]
) -> None:
    account = make_account(workspace, daily_quota=2)
    make_posts(account, 5)
    assert posts_dispatch() == 2
    account.refresh_from_db()
    assert account.quota_used == 2
    assert account.quota_date == workspace.local_date()
    # Yesterday's usage does not count today.
    Account.objects.filter(pk=account.pk).update(
        quota_date=workspace.local_date() - timedelta(days=1)
    )
    PostAttempt.objects.update(dispatched_at=timezone.now() - timedelta(hours=2))
    assert posts_dispatch() == 2


def test_min_interval_spaces_posts(
    workspace: Workspace, make_account: Callable[..., Account]
) -> None:
    account = make_account(workspace, min_interval_override=600)
    make_posts(account, 3)
    assert posts_dispatch() == 1
    assert posts_dispatch() == 0
    PostAttempt.objects.update(dispatched_at=timezone.now() - timedelta(seconds=601))
    assert posts_dispatch() == 1


def test_priority_then_schedule_decide_what_goes_first(
    workspace: Workspace, make_account: Callable[..., Account]
) -> None:
    account = make_account(workspace, per_hour_override=2)
    now = timezone.now()
    low, high_late, high_early = (
        post_create(
            workspace=workspace,
            account=account,
            title=title,
            priority=priority,
            scheduled_for=now - ago,
        )
        for title, priority, ago in (
            ("low", 1, timedelta(hours=2)),
            ("high late", 9, timedelta(minutes=1)),
            ("high early", 9, timedelta(minutes=5)),
        )
    )
    assert posts_dispatch() == 2
    queued = set(Post.objects.filter(status=PostStatus.QUEUED).values_list("pk", flat=True))
    assert queued == {high_late.pk, high_early.pk}
    assert Post.objects.get(pk=low.pk).status == PostStatus.SCHEDULED


def test_future_posts_paused_accounts_and_waiting_retries_stay_put(
    workspace: Workspace, make_account: Callable[..., Account]
) -> None:
    active, paused = make_account(workspace), make_account(workspace)
    post_create(
        workspace=workspace,
        account=active,
        title="later",
        scheduled_for=timezone.now() + timedelta(hours=1),
    )
    waiting = post_create(workspace=workspace, account=active, title="waiting")
    Post.objects.filter(pk=waiting.pk).update(
        status=PostStatus.RETRY_WAIT, next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    post_create(workspace=workspace, account=paused, title="paused")
    account_pause(account=paused)
    assert posts_dispatch() == 0
    Post.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert posts_dispatch() == 1


def test_limits_hold_per_account_among_many(
    workspace: Workspace, make_account: Callable[..., Account]
) -> None:
    workspace.max_accounts = 100
    workspace.save()
    accounts = [make_account(workspace, per_hour_override=2) for _ in range(30)]
    for account in accounts:
        make_posts(account, 4)
    assert posts_dispatch(chunk_accounts=7) == 60
    per_account = PostAttempt.objects.values_list("account_id", flat=True)
    assert all(list(per_account).count(a.pk) == 2 for a in accounts)


def test_cancelled_between_selection_and_update_is_not_queued(
    workspace: Workspace, account: Account
) -> None:
    (post,) = make_posts(account, 1)
    Post.objects.filter(pk=post.pk).update(status=PostStatus.CANCELLED)
    assert posts_dispatch() == 0
    assert broker_queue_size() == 0


def test_stale_queued_posts_get_their_message_again(workspace: Workspace, account: Account) -> None:
    make_posts(account, 2)
    posts_dispatch()
    broker_queue_purge()  # as if the broker lost them
    assert queued_posts_resend() == 0  # too young to resend
    Post.objects.update(queued_at=timezone.now() - timedelta(hours=1))
    assert queued_posts_resend() == 2
    assert broker_queue_size() == 2
    assert set(Post.objects.values_list("status", flat=True)) == {PostStatus.QUEUED}
