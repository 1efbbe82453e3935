"""Doubled schedulers and many workers never double a post nor break a limit."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.db.models import Count

from accounts.models import Workspace
from core.beat import BEAT_LOCK
from core.models import SchedulerLock
from core.processes import FarmProcesses
from sandbox.models import SandboxPost
from tests.e2e.conftest import wait_until
from tests.reliability.conftest import FAST, all_terminal, posts_create, sandbox_copies, statuses
from uploads.dispatcher import posts_dispatch
from uploads.models import Post, PostAttempt, PostStatus, RateLimitRule

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_beats_and_two_dispatchers_never_dispatch_a_post_twice(
    farm: FarmProcesses, workspace: Workspace, sandbox_account: Callable[..., tuple]
) -> None:
    accounts = [sandbox_account(workspace, f"twin{n}")[0] for n in range(6)]
    posts = posts_create(accounts, 60)
    farm.start_worker(concurrency=1, env=FAST)
    farm.start_worker(concurrency=1, env=FAST)
    farm.start_beat(env=FAST)
    farm.start_beat(env=FAST)

    # Meanwhile two more dispatchers race each other, and the beats' own.
    stop = threading.Event()

    def dispatch_until_stopped() -> None:
        try:
            while not stop.is_set():
                posts_dispatch()
                stop.wait(0.05)
        finally:
            connection.close()

    racers = [threading.Thread(target=dispatch_until_stopped) for _ in range(2)]
    for racer in racers:
        racer.start()
    try:
        wait_until(all_terminal(posts), timeout=300, on_timeout=farm.logs())
    finally:
        stop.set()
        for racer in racers:
            racer.join()

    assert statuses(posts) == {PostStatus.POSTED: 60}, farm.logs()
    assert set(sandbox_copies(posts).values()) == {1}
    ids = [post.pk for post in posts]
    assert set(Post.objects.filter(pk__in=ids).values_list("dispatch_count", flat=True)) == {1}
    assert PostAttempt.objects.filter(post_id__in=ids).count() == 60
    # One beat held the lock; the other stood by.
    assert SchedulerLock.objects.get(name=BEAT_LOCK).holder
    assert "another beat holds the beat lock: standing by" in farm.logs()


def test_four_workers_fifty_accounts_never_exceed_three_posts_an_hour(
    farm: FarmProcesses, workspace: Workspace, sandbox_account: Callable[..., tuple]
) -> None:
    RateLimitRule.objects.update_or_create(
        platform="sandbox",
        action="post",
        defaults={"per_hour": 3, "per_day": 100, "min_interval_seconds": 0},
    )
    workspace.max_accounts = 60
    workspace.save()
    accounts = [sandbox_account(workspace, f"lim{n:02d}")[0] for n in range(50)]
    posts = posts_create(accounts, 200)  # 4 each: one more than the hour allows
    for _ in range(4):
        farm.start_worker(concurrency=1, env=FAST)
    farm.start_beat(env=FAST)

    def three_each_posted() -> bool:
        return Post.objects.filter(status=PostStatus.POSTED).count() >= 150

    wait_until(three_each_posted, timeout=600, on_timeout=farm.logs())
    # Give the farm a few more dispatcher passes to overstep, if it would.
    farm_settle = 5.0
    threading.Event().wait(farm_settle)

    per_account = dict(
        SandboxPost.objects.filter(account__handle__startswith="lim")
        .values_list("account__handle")
        .annotate(n=Count("id"))
    )
    # Every upload happened within this test's minutes, so "any one-hour
    # window" is all of them: at most three per account, and each got three.
    assert per_account == {account.handle: 3 for account in accounts}, farm.logs()
    assert statuses(posts) == {PostStatus.POSTED: 150, PostStatus.SCHEDULED: 50}
