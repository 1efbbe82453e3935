"""The publish path through real headless Chromium, each sandbox fault mapped to its state."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from accounts.models import Account, Workspace
from browsers.pool import DriverPool
from capture.models import CapturedSession
from monitoring.models import Alert
from sandbox.models import SandboxAccount, SandboxPost
from tests.e2e.conftest import PublishNewPost, queue_and_publish
from tests.factories import png_upload, target_of
from uploads.dispatcher import posts_dispatch
from uploads.models import Post, PostAttempt, PostStatus
from uploads.publishing import posts_reconcile_unknown
from uploads.services import post_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_posts_publish_once_with_their_media_and_reuse_one_browser(
    sandbox: str, workspace: Workspace, sandbox_account: Callable[..., tuple], pool: DriverPool
) -> None:
    account, _ = sandbox_account(workspace, "alice")
    image = png_upload()
    digest = hashlib.sha256(image.read()).hexdigest()
    image.seek(0)
    posts = [
        post_create(
            workspace=workspace,
            account=account,
            kind="image",
            title="Sunset",
            caption="Golden hour 🌅",
            media=image,
        ),
        post_create(workspace=workspace, account=account, title="Second", caption="Plain text"),
        post_create(workspace=workspace, account=account, title="Third"),
    ]
    published = queue_and_publish(pool, *posts)

    assert [p.status for p in published] == [PostStatus.POSTED] * 3
    for post in published:
        records = SandboxPost.objects.filter(publish_token=str(post.publish_token))
        assert records.count() == 1
        assert post.platform_post_id == str(records.get().pk)
    photo = SandboxPost.objects.get(publish_token=str(posts[0].publish_token))
    assert photo.media_sha256 == digest
    assert photo.caption == "Golden hour 🌅"
    # One cold start, then the same logged-in browser for the rest.
    assert pool.opened == 1
    attempts = PostAttempt.objects.filter(post__in=posts).order_by("started_at")
    assert [a.outcome for a in attempts] == ["posted"] * 3
    assert [a.browser_reused for a in attempts] == [False, True, True]
    assert Account.objects.get(pk=account.pk).cookies  # kept, encrypted, for other hosts
    # Every run was recorded: a session per attempt, with its events and screenshots.
    for attempt in attempts:
        session = CapturedSession.objects.get(attempt=attempt)
        assert session.kind == CapturedSession.Kind.AUTOMATED
        assert session.account_id == account.pk and session.profile_id == account.browser_profile.pk
        assert session.state in (CapturedSession.State.ACCEPTED, CapturedSession.State.REJECTED)
        kinds = list(session.interactions.values_list("kind", flat=True))
        assert {"navigate", "input", "click", "submit"} <= set(kinds)
        assert session.events_count == len(kinds)
        assert session.screenshots.exists()
        publish = session.interactions.filter(kind="click").last()
        assert publish is not None
        assert target_of(publish)["selectors"][0]["value"] == '[data-testid="upload-submit"]'
        assert publish.screenshot is not None
        values = set(session.interactions.filter(kind="input").values_list("value", flat=True))
        assert values <= {"•••", ""}  # titles and captions stay in the page
    first = CapturedSession.objects.get(attempt=attempts[0])
    password = first.interactions.get(kind="input", target__attributes__name="password")
    assert password.value == "" and password.masked_kinds == ["password"]


def test_rate_limited_waits_the_time_named_and_uses_no_attempt(
    publish_new_post: PublishNewPost,
) -> None:
    before = timezone.now()
    _, post = publish_new_post("bob", "Too soon", rate_limit_seconds=900)

    assert post.status == PostStatus.RATE_LIMITED
    assert post.attempts_count == 0
    assert post.next_attempt_at is not None
    assert before + timedelta(seconds=890) < post.next_attempt_at < before + timedelta(seconds=960)
    assert not SandboxPost.objects.exists()
    # Not due yet: the dispatcher leaves it alone.
    assert posts_dispatch() == 0


def test_flaky_server_retries_with_backoff_then_publishes(
    publish_new_post: PublishNewPost, pool: DriverPool
) -> None:
    before = timezone.now()
    _, post = publish_new_post("carol", "Flaky", fail_next=1)

    assert post.status == PostStatus.RETRY_WAIT
    assert post.attempts_count == 1
    assert post.next_attempt_at is not None
    assert before + timedelta(seconds=590) < post.next_attempt_at < before + timedelta(seconds=660)
    assert PostAttempt.objects.get(post=post).screenshot  # what the operator would have seen

    Post.objects.filter(pk=post.pk).update(next_attempt_at=timezone.now())
    (post,) = queue_and_publish(pool, post)
    assert post.status == PostStatus.POSTED
    assert post.attempts_count == 2
    assert SandboxPost.objects.filter(publish_token=str(post.publish_token)).count() == 1


def test_attempts_used_up_make_the_post_dead(
    sandbox: str, workspace: Workspace, sandbox_account: Callable[..., tuple], pool: DriverPool
) -> None:
    account, _ = sandbox_account(workspace, "dave", flaky_rate=1.0)
    post = post_create(workspace=workspace, account=account, title="Doomed", max_attempts=2)
    for _ in range(2):
        Post.objects.filter(pk=post.pk).update(next_attempt_at=timezone.now())
        (post,) = queue_and_publish(pool, post)
    assert post.status == PostStatus.DEAD
    assert post.attempts_count == 2
    assert Alert.objects.filter(kind=Alert.Kind.POST_DEAD, account=account).exists()


def test_logged_out_pauses_the_account_and_keeps_the_post(publish_new_post: PublishNewPost) -> None:
    account, post = publish_new_post("erin", "Locked out", logged_out=True)

    assert post.status == PostStatus.SCHEDULED
    assert post.attempts_count == 0
    account.refresh_from_db()
    assert account.state == Account.State.NEEDS_LOGIN
    assert "confirm" in account.state_reason.lower()
    assert Alert.objects.filter(kind=Alert.Kind.LOGIN_REQUIRED, account=account).exists()
    # A paused account gets nothing dispatched until an operator resumes it.
    assert posts_dispatch() == 0


def test_rejected_content_fails_with_the_platforms_reason(publish_new_post: PublishNewPost) -> None:
    _, post = publish_new_post("frank", "Nope", reject_reason="Violates community rules")

    assert post.status == PostStatus.FAILED
    assert post.last_error == "Violates community rules"
    assert posts_dispatch() == 0


def test_garbage_html_is_a_transient_error_not_a_crash(publish_new_post: PublishNewPost) -> None:
    _, post = publish_new_post("gina", "Garbled", garbage_html=True)

    assert post.status == PostStatus.RETRY_WAIT
    assert "unrecognised page" in post.last_error


def test_slow_platform_still_publishes(publish_new_post: PublishNewPost) -> None:
    _, post = publish_new_post("hank", "Patience", slow_ms=1500)
    assert post.status == PostStatus.POSTED


def test_a_retry_first_asks_the_platform_and_never_posts_twice(
    sandbox: str, workspace: Workspace, sandbox_account: Callable[..., tuple], pool: DriverPool
) -> None:
    account, remote = sandbox_account(workspace, "ivy")
    post = post_create(workspace=workspace, account=account, title="Got through")
    # An earlier try reached the platform, but its answer was lost on the way back.
    SandboxPost.objects.create(
        account=remote, title=post.title, publish_token=str(post.publish_token)
    )
    Post.objects.filter(pk=post.pk).update(
        status=PostStatus.RETRY_WAIT, dispatch_count=1, attempts_count=1
    )
    (post,) = queue_and_publish(pool, post)

    assert post.status == PostStatus.POSTED
    assert SandboxPost.objects.filter(publish_token=str(post.publish_token)).count() == 1
    assert pool.opened == 1


def test_a_lost_answer_after_submit_is_verified_not_retried(
    sandbox: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    pool: DriverPool,
    settings: Settings,
) -> None:
    # The platform holds the upload until the test lets it through, so the check
    # made right after the lost answer finds nothing yet, however slow the machine.
    account, remote = sandbox_account(workspace, "jack", slow_ms=120_000)
    # The browser gives up on the answer page before the platform sends it.
    settings.FARM_BROWSER_PAGE_TIMEOUT = 1
    post = post_create(workspace=workspace, account=account, title="Slow answer")
    (post,) = queue_and_publish(pool, post)
    assert post.status == PostStatus.UNKNOWN
    assert posts_dispatch() == 0  # nothing publishes an unknown post

    SandboxAccount.objects.filter(pk=remote.pk).update(slow_ms=0)
    wait_until_found = timezone.now() + timedelta(seconds=15)
    while not SandboxPost.objects.filter(publish_token=str(post.publish_token)).exists():
        assert timezone.now() < wait_until_found, "the sandbox never saved the post"
        time.sleep(0.2)
    assert posts_reconcile_unknown() == {"posted": 1, "scheduled": 0, "still_unknown": 0}
    post.refresh_from_db()
    assert post.status == PostStatus.POSTED
    assert SandboxPost.objects.filter(publish_token=str(post.publish_token)).count() == 1
