"""Workers killed or stopped in the middle of publishing lose nothing and post nothing twice."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from accounts.models import Workspace
from browsers.models import BrowserProfile
from browsers.pool import holder_is_dead_here
from core.processes import FarmProcesses
from sandbox.models import SandboxPost
from tests.e2e.conftest import wait_until
from tests.reliability.conftest import FAST, all_terminal, posts_create, sandbox_copies, statuses
from uploads.models import Post, PostStatus

pytestmark = pytest.mark.django_db(transaction=True)


def _holder_pid(holder: str) -> int:
    return int(holder.rpartition(":")[2])


def test_sigkill_after_the_submit_loses_nothing_and_posts_nothing_twice(
    farm: FarmProcesses, workspace: Workspace, sandbox_account: Callable[..., tuple]
) -> None:
    # The sandbox saves each upload, then takes a while to answer: the window
    # in which a worker that dies has posted without knowing it.
    accounts = [sandbox_account(workspace, f"kill{n}", answer_delay_ms=400)[0] for n in range(5)]
    posts = posts_create(accounts, 100)
    targets = {post.pk for post in posts[::5]}  # 20 posts, spread over the run
    farm.start_worker(concurrency=2, env=FAST)
    farm.start_beat(env=FAST)

    killed: set[int] = set()
    deadline = time.monotonic() + 420
    while len(killed) < len(targets) and time.monotonic() < deadline:
        if all_terminal(posts)():
            break
        in_flight = Post.objects.filter(
            pk__in=targets - killed, status=PostStatus.PUBLISHING
        ).values_list("pk", "publish_token", "lease_holder")
        for post_id, token, holder in in_flight:
            # Submitted and saved by the platform, the answer not yet read.
            if holder and SandboxPost.objects.filter(publish_token=str(token)).exists():
                os.kill(_holder_pid(holder), signal.SIGKILL)
                killed.add(post_id)
        time.sleep(0.05)

    wait_until(all_terminal(posts), timeout=300, on_timeout=farm.logs())
    assert len(killed) == 20, f"only {len(killed)} kills landed in the window\n{farm.logs()}"
    assert statuses(posts) == {PostStatus.POSTED: 100}, farm.logs()
    assert set(sandbox_copies(posts).values()) == {1}
    # The killed posts were found on the platform, not published again.
    assert Post.objects.filter(pk__in=killed, attempts_count=1).count() == 20
    # What the killed processes held was freed: no profile stays leased to the dead.
    wait_until(
        lambda: (
            not any(
                holder_is_dead_here(holder)
                for holder in BrowserProfile.objects.values_list("lease_holder", flat=True)
                if holder
            )
        ),
        timeout=5,
    )


def test_sigterm_mid_publish_finishes_the_post_in_hand_and_gives_back_the_rest(
    farm: FarmProcesses, workspace: Workspace, sandbox_account: Callable[..., tuple]
) -> None:
    account, _ = sandbox_account(workspace, "term", answer_delay_ms=1500)
    posts = posts_create([account], 4)
    # Grace enough for the post in hand, cold browser and all.
    worker = farm.start_worker(concurrency=1, env={**FAST, "FARM_SHUTDOWN_GRACE_SECONDS": "20"})
    farm.start_beat(env=FAST)

    wait_until(
        lambda: Post.objects.filter(status=PostStatus.PUBLISHING).exists(),
        timeout=90,
        on_timeout=farm.logs(),
    )
    in_hand = Post.objects.get(status=PostStatus.PUBLISHING)
    posted_before = Post.objects.filter(status=PostStatus.POSTED).count()
    sent_at = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=35)
    stopped_in = time.monotonic() - sent_at

    in_hand.refresh_from_db()
    assert in_hand.status == PostStatus.POSTED, farm.logs()
    # It stopped after the post in hand: the others wait for the next worker.
    rest = Post.objects.exclude(pk=in_hand.pk).filter(pk__in=[p.pk for p in posts])
    assert rest.filter(status=PostStatus.POSTED).count() == posted_before, farm.logs()
    assert not rest.filter(status=PostStatus.PUBLISHING).exists()
    assert not BrowserProfile.objects.filter(account=account).exclude(lease_holder="").exists()
    assert stopped_in < 35

    farm.start_worker(concurrency=1, env=FAST)
    wait_until(all_terminal(posts), timeout=120, on_timeout=farm.logs())
    assert statuses(posts) == {PostStatus.POSTED: 4}
    assert set(sandbox_copies(posts).values()) == {1}


def test_sigterm_with_a_hung_answer_gives_the_post_back_within_the_grace(
    farm: FarmProcesses, workspace: Workspace, sandbox_account: Callable[..., tuple]
) -> None:
    # The platform saves the post and then hangs far longer than the grace.
    account, _ = sandbox_account(workspace, "hung", answer_delay_ms=20_000)
    (post,) = posts_create([account], 1)
    worker = farm.start_worker(concurrency=1, env=FAST)
    farm.start_beat(env=FAST)
    wait_until(
        lambda: SandboxPost.objects.filter(publish_token=str(post.publish_token)).exists(),
        timeout=90,
        on_timeout=farm.logs(),
    )

    grace = int(FAST["FARM_SHUTDOWN_GRACE_SECONDS"])
    sent_at = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=grace + 15)
    assert time.monotonic() - sent_at < grace + 15

    post.refresh_from_db()
    # The worker closed the hung browser, asked the platform, and found it there.
    assert post.status == PostStatus.POSTED, farm.logs()
    assert sandbox_copies([post]) == {str(post.publish_token): 1}
    assert not BrowserProfile.objects.filter(account=account).exclude(lease_holder="").exists()
