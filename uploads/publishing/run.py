"""The run loop: publish a queued post, then the account's next ones on the same browser.

The worker claims a queued post (queued -> publishing, with a lease), drives
the platform's publisher, checks the post is really on the platform, and
records the outcome. While it holds the account's browser it keeps going
with that account's next queued post, so one warm, logged-in browser serves
a run of posts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone
from selenium.webdriver.remote.webdriver import WebDriver

from accounts.models import Account
from browsers.pool import BrowserUnavailable, DriverPool, ProfileBusy
from browsers.services import profile_create
from uploads.circuits import circuit_admits
from uploads.models import ErrorKind, Post, PostAttempt, PostStatus
from uploads.publishers import (
    BrowserBrokeError,
    Publisher,
    PublishError,
    PublishResult,
    TransientError,
    VerifyResult,
    get_publisher,
)
from uploads.publishing.leases import post_claim, post_in_hand, post_leave_publishing
from uploads.publishing.outcomes import (
    Outcome,
    attempt_finish,
    attempt_start,
    record_error,
    record_posted,
)
from uploads.recording import capture_publish_run
from uploads.services import post_transition

logger = logging.getLogger(__name__)


def _found_from_an_earlier_try(publisher: Publisher, post: Post) -> VerifyResult | None:
    """Before sending a post again, ask the platform whether an earlier try got through.

    A first dispatch needs no check; any later one might follow a submit
    whose answer was lost, and publishing it blindly could post it twice.
    """
    if post.dispatch_count <= 1:
        return None
    check = publisher.verify(post=post, account=post.account)
    return check if check.found else None


def post_publish_with_driver(
    *, post: Post, driver: WebDriver | None, holder: str, reused: bool
) -> Outcome:
    """Publish one post that this worker has claimed, and record the outcome.

    `driver` is the account's browser; a publisher that needs none may get None
    (the run is then not recorded).
    """
    account = post.account
    attempt = attempt_start(post, holder, reused)
    try:
        publisher = get_publisher(account.platform)
    except LookupError as exc:
        attempt_finish(attempt, outcome="error", error_kind=ErrorKind.REJECTED, message=str(exc))
        post_leave_publishing(post.pk, holder, PostStatus.FAILED, last_error=str(exc))
        return Outcome(post.pk, PostStatus.FAILED)
    try:
        check = _found_from_an_earlier_try(publisher, post)
        if check is None:
            if driver is None:
                result = publisher.publish(driver=driver, post=post, account=account)
            else:
                # Capture: the run is recorded as a session linked to this attempt (never fails it).
                with capture_publish_run(driver=driver, post=post, attempt=attempt) as recorded:
                    result = publisher.publish(driver=recorded, post=post, account=account)
            # Trust the platform, not the page we were shown.
            check = publisher.verify(post=post, account=account)
        else:
            result = PublishResult(platform_post_id=check.platform_post_id, url=check.url)
    except PublishError as exc:
        return record_error(post, attempt, holder, exc, driver)
    except SoftTimeLimitExceeded:
        return record_error(
            post, attempt, holder, BrowserBrokeError("publishing took too long"), None
        )
    except Exception as exc:  # A bug or an unforeseen page: retry, but say what happened.
        logger.exception("post %s: unexpected error while publishing", post.pk)
        return record_error(
            post,
            attempt,
            holder,
            TransientError(f"unexpected {exc.__class__.__name__}: {exc}"),
            driver,
        )

    if not check.found:
        # The page said yes but the platform cannot show it: let the reaper's verify decide.
        attempt_finish(
            attempt,
            outcome="error",
            error_kind=ErrorKind.TRANSIENT,
            message="published but not found on the platform",
        )
        post_leave_publishing(
            post.pk,
            holder,
            PostStatus.UNKNOWN,
            last_error="published but not yet found on the platform",
        )
        return Outcome(post.pk, PostStatus.UNKNOWN)
    found = VerifyResult(
        found=True,
        platform_post_id=check.platform_post_id or result.platform_post_id,
        url=check.url or result.url,
    )
    return record_posted(post, attempt, holder, found)


def _account_is_active(account_id: int) -> bool:
    return Account.objects.filter(pk=account_id, state=Account.State.ACTIVE).exists()


def _next_queued_post_id(account_id: int) -> int | None:
    return (
        Post.objects.filter(account_id=account_id, status=PostStatus.QUEUED)
        .order_by("-priority", "scheduled_for", "id")
        .values_list("id", flat=True)
        .first()
    )


def _load(post_id: int) -> Post:
    return Post.objects.select_related("account__workspace").get(pk=post_id)


def post_publish(
    *,
    post_id: int,
    pool: DriverPool,
    continue_for_seconds: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[Outcome]:
    """Publish a queued post, then the account's further queued posts on the same browser.

    Returns what happened to each post this call touched; an empty list when
    the post was not ours to publish (already claimed, cancelled, or its
    profile busy in another worker, which will take it in turn). Once
    `should_stop()` is true (the worker is shutting down) it takes no further
    post; the rest keep their messages for another worker.
    """
    budget = (
        settings.FARM_PUBLISH_SOFT_TIME_LIMIT / 2
        if continue_for_seconds is None
        else continue_for_seconds
    )
    started = time.monotonic()
    post = _load(post_id)
    if post.status != PostStatus.QUEUED:
        return []
    account = post.account
    if not _account_is_active(account.pk):
        _post_unqueue(post.pk, to=PostStatus.SCHEDULED, reason="account is not active")
        return []
    if not circuit_admits(platform=account.platform, post_id=post.pk):
        _circuit_hold(post.pk)
        return []
    outcomes: list[Outcome] = []
    try:
        # An account made outside account_create (a fixture, a shell) gets its profile now.
        profile = profile_create(account=account)
        with pool.driver_for(profile) as driver:
            reused = pool.last_checkout_reused
            next_id: int | None = post.pk
            while next_id is not None:
                if next_id != post.pk and not circuit_admits(
                    platform=account.platform, post_id=next_id
                ):
                    # The platform was paused while this browser was busy.
                    _circuit_hold(next_id)
                    next_id = _next_queued_post_id(account.pk)
                    continue
                if not post_claim(next_id, pool.holder):
                    next_id = _next_queued_post_id(account.pk)
                    continue
                with post_in_hand(next_id):
                    outcome = post_publish_with_driver(
                        post=_load(next_id), driver=driver, holder=pool.holder, reused=reused
                    )
                outcomes.append(outcome)
                reused = True
                if not outcome.browser_ok:
                    raise BrowserUnavailable("browser broke while publishing")
                if outcome.status == PostStatus.RATE_LIMITED:
                    _account_queue_hold(account.pk, post_id=outcome.post_id)
                    break
                if outcome.status == PostStatus.SCHEDULED or not _account_is_active(account.pk):
                    break
                if time.monotonic() - started > budget or should_stop():
                    break
                next_id = _next_queued_post_id(account.pk)
    except ProfileBusy:
        logger.info("post %s: profile busy elsewhere; its holder will take it", post_id)
    except BrowserUnavailable as exc:
        if not outcomes or outcomes[-1].browser_ok:
            # Chromium would not start: not a publish attempt, try again soon.
            _browser_failed(post_id, str(exc))
    return outcomes


def _post_unqueue(
    post_id: int, *, to: str, reason: str, error_kind: str = "", **fields: object
) -> bool:
    """Take a queued post back before any browser touched it; its attempt did not happen."""
    moved = post_transition(post_id=post_id, from_=PostStatus.QUEUED, to=to, **fields)
    if moved:
        PostAttempt.objects.filter(post_id=post_id, outcome=PostAttempt.Outcome.PENDING).update(
            outcome=PostAttempt.Outcome.ABANDONED,
            error_kind=error_kind,
            message=reason[:2000],
            finished_at=timezone.now(),
            counts_as_attempt=False,
        )
    return moved


def _account_queue_hold(account_id: int, *, post_id: int) -> None:
    """The platform said slow down: hold the account's other queued posts until the same time."""
    wait_until = Post.objects.values_list("next_attempt_at", flat=True).get(pk=post_id)
    for queued_id in Post.objects.filter(
        account_id=account_id, status=PostStatus.QUEUED
    ).values_list("id", flat=True):
        _post_unqueue(
            queued_id,
            to=PostStatus.RATE_LIMITED,
            reason="held back: the platform rate-limited this account",
            error_kind=ErrorKind.RATE_LIMITED,
            next_attempt_at=wait_until,
        )


def _circuit_hold(post_id: int) -> None:
    """A queued post of a paused platform goes back to wait, as if never dispatched."""
    _post_unqueue(
        post_id,
        to=PostStatus.SCHEDULED,
        reason="held back: the platform is paused after repeated failures",
    )


def _browser_failed(post_id: int, message: str) -> None:
    _post_unqueue(
        post_id,
        to=PostStatus.RETRY_WAIT,
        reason=message,
        error_kind=ErrorKind.BROWSER,
        next_attempt_at=timezone.now() + timedelta(seconds=settings.FARM_BROWSER_RETRY_SECONDS),
        last_error=message,
    )
