"""Publishing one post through a browser, and what each outcome does to it.

The worker claims a queued post (queued -> publishing, with a lease), drives
the platform's publisher, checks the post is really on the platform, and
records the outcome. While it holds the account's browser it keeps going
with that account's next queued post, so one warm, logged-in browser serves
a run of posts.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import F
from django.utils import timezone
from PIL import Image
from selenium.webdriver.remote.webdriver import WebDriver

from accounts.models import Account
from accounts.services import (
    account_mark_needs_login,
    account_record_failure,
    account_record_success,
)
from browsers.pool import BrowserUnavailable, DriverPool, ProfileBusy, driver_alive
from browsers.services import profile_create
from capture.recording import capture_publish_run
from monitoring.models import Alert
from monitoring.services import alert_raise
from uploads.circuits import circuit_admits, circuit_record_failure, circuit_record_success
from uploads.models import ErrorKind, Post, PostAttempt, PostStatus
from uploads.publishers import (
    BrowserBrokeError,
    ContentRejectedError,
    LoginRequiredError,
    OutcomeUnknownError,
    Publisher,
    PublishError,
    PublishResult,
    RateLimitedError,
    TransientError,
    VerifyResult,
    get_publisher,
)
from uploads.services import post_transition

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    post_id: int
    status: str
    browser_ok: bool = True


def backoff_seconds(attempt_number: int) -> int:
    steps = settings.FARM_RETRY_BACKOFF_SECONDS
    return steps[min(attempt_number, len(steps)) - 1] if steps else 60


def _post_claim(post_id: int, holder: str) -> bool:
    now = timezone.now()
    return post_transition(
        post_id=post_id,
        from_=PostStatus.QUEUED,
        to=PostStatus.PUBLISHING,
        lease_holder=holder,
        lease_until=now + timedelta(seconds=settings.FARM_PUBLISH_LEASE_SECONDS),
    )


def _current_attempt(post: Post, holder: str, reused: bool) -> PostAttempt:
    attempt = post.attempts.filter(outcome=PostAttempt.Outcome.PENDING).order_by("-number").first()
    if attempt is None:
        attempt = PostAttempt(post=post, account_id=post.account_id, number=post.dispatch_count)
    attempt.started_at = timezone.now()
    attempt.worker = holder
    attempt.outcome = PostAttempt.Outcome.RUNNING
    attempt.browser_reused = reused
    attempt.save()
    return attempt


def _attempt_finish(
    attempt: PostAttempt,
    *,
    outcome: str,
    error_kind: str = "",
    message: str = "",
    counts: bool = True,
    screenshot: bytes | None = None,
) -> None:
    attempt.finished_at = timezone.now()
    attempt.outcome = outcome
    attempt.error_kind = error_kind
    attempt.message = message[:2000]
    attempt.counts_as_attempt = counts
    if screenshot:
        attempt.screenshot.save(f"attempt-{attempt.pk}.webp", ContentFile(screenshot), save=False)
    attempt.save()


def _screenshot_webp(driver: WebDriver | None) -> bytes | None:
    if driver is None:
        return None
    try:
        png = driver.get_screenshot_as_png()
        out = io.BytesIO()
        Image.open(io.BytesIO(png)).save(out, format="WEBP", quality=70)
        return out.getvalue()
    except Exception:
        return None


def _publishing(post_id: int, holder: str, to: str, **fields: object) -> bool:
    """Leave `publishing`, but only while we still hold the post's lease."""
    moved = (
        Post.objects.filter(pk=post_id, status=PostStatus.PUBLISHING, lease_holder=holder).update(
            status=to, lease_holder="", lease_until=None, updated_at=timezone.now(), **fields
        )
        == 1
    )
    if not moved:
        logger.warning("post %s: lease lost before recording %s", post_id, to)
    return moved


def _record_error(
    post: Post, attempt: PostAttempt, holder: str, exc: PublishError, driver: WebDriver | None
) -> Outcome:
    now = timezone.now()
    message = str(exc) or exc.__class__.__name__
    account = post.account
    if isinstance(exc, RateLimitedError):
        wait = exc.retry_after_seconds or backoff_seconds(1)
        _attempt_finish(
            attempt,
            outcome="error",
            error_kind=ErrorKind.RATE_LIMITED,
            message=message,
            counts=False,
        )
        _publishing(
            post.pk,
            holder,
            PostStatus.RATE_LIMITED,
            next_attempt_at=now + timedelta(seconds=wait),
            last_error=message,
        )
        return Outcome(post.pk, PostStatus.RATE_LIMITED)
    if isinstance(exc, LoginRequiredError):
        _attempt_finish(
            attempt,
            outcome="error",
            error_kind=ErrorKind.LOGIN_REQUIRED,
            message=message,
            counts=False,
            screenshot=_screenshot_webp(driver),
        )
        _publishing(post.pk, holder, PostStatus.SCHEDULED, last_error=message)
        if account_mark_needs_login(account=account, reason=message):
            alert_raise(
                workspace=account.workspace_id,
                account=account.pk,
                kind=Alert.Kind.LOGIN_REQUIRED,
                message=f"{account} needs a person to log in: {message}",
                severity=Alert.Severity.CRITICAL,
            )
        account_record_failure(account_id=account.pk, error_kind=ErrorKind.LOGIN_REQUIRED)
        return Outcome(post.pk, PostStatus.SCHEDULED)
    if isinstance(exc, OutcomeUnknownError):
        # The answer may have been lost with the browser: then the next post needs a fresh one.
        alive = driver is not None and driver_alive(driver)
        # Ask the platform once right away: usually the post is there and we are done.
        check = _verify_quietly(post)
        if check is not None and check.found:
            return _record_posted(post, attempt, holder, check, browser_ok=alive)
        _attempt_finish(attempt, outcome="error", error_kind=ErrorKind.UNKNOWN, message=message)
        # Not there yet is not proof it never will be: the reconciler asks again.
        _publishing(post.pk, holder, PostStatus.UNKNOWN, last_error=message)
        return Outcome(post.pk, PostStatus.UNKNOWN, browser_ok=alive)
    if isinstance(exc, ContentRejectedError):
        _attempt_finish(
            attempt,
            outcome="error",
            error_kind=ErrorKind.REJECTED,
            message=message,
            screenshot=_screenshot_webp(driver),
        )
        _publishing(
            post.pk,
            holder,
            PostStatus.FAILED,
            attempts_count=F("attempts_count") + 1,
            last_error=message,
        )
        alert_raise(
            workspace=account.workspace_id,
            account=account.pk,
            kind=Alert.Kind.POST_REJECTED,
            message=f"Post #{post.pk} was rejected: {message}",
        )
        return Outcome(post.pk, PostStatus.FAILED)

    browser_broke = isinstance(exc, BrowserBrokeError)
    kind = ErrorKind.BROWSER if browser_broke else ErrorKind.TRANSIENT
    _attempt_finish(
        attempt,
        outcome="error",
        error_kind=kind,
        message=message,
        screenshot=None if browser_broke else _screenshot_webp(driver),
    )
    used = post.attempts_count + 1
    if not browser_broke:
        # A crashed browser is the farm's trouble, not a sign about the account.
        account_record_failure(account_id=account.pk, error_kind=kind)
    # The breaker decides which kinds say the platform itself is failing.
    circuit_record_failure(platform=account.platform, error_kind=kind, message=message)
    if used >= post.max_attempts:
        _publishing(post.pk, holder, PostStatus.DEAD, attempts_count=used, last_error=message)
        alert_raise(
            workspace=account.workspace_id,
            account=account.pk,
            kind=Alert.Kind.POST_DEAD,
            message=f"Post #{post.pk} gave up after {used} attempts: {message}",
        )
        return Outcome(post.pk, PostStatus.DEAD, browser_ok=not browser_broke)
    delay = settings.FARM_BROWSER_RETRY_SECONDS if browser_broke else backoff_seconds(used)
    _publishing(
        post.pk,
        holder,
        PostStatus.RETRY_WAIT,
        attempts_count=used,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=message,
    )
    return Outcome(post.pk, PostStatus.RETRY_WAIT, browser_ok=not browser_broke)


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
    *, post: Post, driver: WebDriver, holder: str, reused: bool
) -> Outcome:
    """Publish one post that this worker has claimed, and record the outcome."""
    account = post.account
    attempt = _current_attempt(post, holder, reused)
    try:
        publisher = get_publisher(account.platform)
    except LookupError as exc:
        _attempt_finish(attempt, outcome="error", error_kind=ErrorKind.REJECTED, message=str(exc))
        _publishing(post.pk, holder, PostStatus.FAILED, last_error=str(exc))
        return Outcome(post.pk, PostStatus.FAILED)
    try:
        check = _found_from_an_earlier_try(publisher, post)
        if check is None:
            # Capture: the run is recorded as a session linked to this attempt (never fails it).
            with capture_publish_run(driver=driver, post=post, attempt=attempt) as recorded:
                result = publisher.publish(driver=recorded, post=post, account=account)
            # Trust the platform, not the page we were shown.
            check = publisher.verify(post=post, account=account)
        else:
            result = PublishResult(platform_post_id=check.platform_post_id, url=check.url)
    except PublishError as exc:
        return _record_error(post, attempt, holder, exc, driver)
    except SoftTimeLimitExceeded:
        return _record_error(
            post, attempt, holder, BrowserBrokeError("publishing took too long"), None
        )
    except Exception as exc:  # A bug or an unforeseen page: retry, but say what happened.
        logger.exception("post %s: unexpected error while publishing", post.pk)
        return _record_error(
            post,
            attempt,
            holder,
            TransientError(f"unexpected {exc.__class__.__name__}: {exc}"),
            driver,
        )

    if not check.found:
        # The page said yes but the platform cannot show it: let the reaper's verify decide.
        _attempt_finish(
            attempt,
            outcome="error",
            error_kind=ErrorKind.TRANSIENT,
            message="published but not found on the platform",
        )
        _publishing(
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
    return _record_posted(post, attempt, holder, found)


def _record_posted(
    post: Post, attempt: PostAttempt, holder: str, check: VerifyResult, *, browser_ok: bool = True
) -> Outcome:
    _attempt_finish(attempt, outcome="posted")
    _publishing(
        post.pk,
        holder,
        PostStatus.POSTED,
        attempts_count=F("attempts_count") + 1,
        platform_post_id=check.platform_post_id,
        platform_url=check.url,
        posted_at=timezone.now(),
        last_error="",
    )
    account_record_success(account_id=post.account_id)
    circuit_record_success(platform=post.account.platform)
    return Outcome(post.pk, PostStatus.POSTED, browser_ok=browser_ok)


def _verify_quietly(post: Post) -> VerifyResult | None:
    """The platform's answer on whether the post is there; None when it cannot say."""
    try:
        return get_publisher(post.account.platform).verify(post=post, account=post.account)
    except (PublishError, LookupError):
        return None
    except Exception:
        logger.exception("post %s: verify failed unexpectedly", post.pk)
        return None


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
                if not _post_claim(next_id, pool.holder):
                    next_id = _next_queued_post_id(account.pk)
                    continue
                with _holding(next_id):
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
            _browser_failed(post_id, pool.holder, str(exc))
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


def _browser_failed(post_id: int, holder: str, message: str) -> None:
    _post_unqueue(
        post_id,
        to=PostStatus.RETRY_WAIT,
        reason=message,
        error_kind=ErrorKind.BROWSER,
        next_attempt_at=timezone.now() + timedelta(seconds=settings.FARM_BROWSER_RETRY_SECONDS),
        last_error=message,
    )


# The posts this process is publishing right now. The heartbeat renews only
# these: a post left in `publishing` by a crashed task must see its lease run out.
_in_hand: set[int] = set()
_in_hand_lock = threading.Lock()


@contextmanager
def _holding(post_id: int) -> Iterator[None]:
    with _in_hand_lock:
        _in_hand.add(post_id)
    try:
        yield
    finally:
        with _in_hand_lock:
            _in_hand.discard(post_id)


def post_leases_renew(*, holder: str) -> int:
    """The heartbeat: push back the lease of every post this process is publishing."""
    with _in_hand_lock:
        post_ids = list(_in_hand)
    if not post_ids:
        return 0
    until = timezone.now() + timedelta(seconds=settings.FARM_PUBLISH_LEASE_SECONDS)
    return Post.objects.filter(
        pk__in=post_ids, status=PostStatus.PUBLISHING, lease_holder=holder
    ).update(lease_until=until)


def post_leases_expire(*, holders: Collection[str]) -> int:
    """End now the leases of holders known to be dead, so the reaper need not wait them out."""
    if not holders:
        return 0
    return Post.objects.filter(status=PostStatus.PUBLISHING, lease_holder__in=list(holders)).update(
        lease_until=timezone.now()
    )


def posts_reap_expired_leases(*, now: object | None = None) -> int:
    """Publishing posts whose worker vanished become `unknown`: only verify may decide."""
    now = now or timezone.now()
    expired = list(
        Post.objects.filter(status=PostStatus.PUBLISHING, lease_until__lt=now).values_list(
            "id", flat=True
        )
    )
    reaped = 0
    for post_id in expired:
        if post_transition(
            post_id=post_id,
            from_=PostStatus.PUBLISHING,
            to=PostStatus.UNKNOWN,
            lease_holder="",
            lease_until=None,
            last_error="the worker's lease ran out mid-publish",
        ):
            PostAttempt.objects.filter(post_id=post_id, outcome=PostAttempt.Outcome.RUNNING).update(
                outcome=PostAttempt.Outcome.ABANDONED,
                message="the worker's lease ran out mid-publish",
                finished_at=timezone.now(),
            )
            reaped += 1
    return reaped


def posts_reconcile_unknown(*, limit: int = 200) -> dict[str, int]:
    """Ask the platform about each `unknown` post: posted if it is there, else back to the queue.

    "Not there" counts only once the post has been unknown for
    FARM_UNKNOWN_SETTLE_SECONDS: an upload the platform is still processing
    would otherwise be sent a second time.
    """
    counts = {"posted": 0, "scheduled": 0, "still_unknown": 0}
    settled_before = timezone.now() - timedelta(seconds=settings.FARM_UNKNOWN_SETTLE_SECONDS)
    posts = (
        Post.objects.filter(status=PostStatus.UNKNOWN)
        .select_related("account")
        .order_by("updated_at")[:limit]
    )
    for post in posts:
        check = _verify_quietly(post)
        if check is None:
            counts["still_unknown"] += 1
            continue
        if check.found:
            if post_transition(
                post_id=post.pk,
                from_=PostStatus.UNKNOWN,
                to=PostStatus.POSTED,
                platform_post_id=check.platform_post_id,
                platform_url=check.url,
                posted_at=timezone.now(),
                attempts_count=F("attempts_count") + 1,
                last_error="",
            ):
                account_record_success(account_id=post.account_id)
                counts["posted"] += 1
        elif post.updated_at > settled_before:
            counts["still_unknown"] += 1
        elif post_transition(
            post_id=post.pk,
            from_=PostStatus.UNKNOWN,
            to=PostStatus.SCHEDULED,
            next_attempt_at=None,
            last_error="not found on the platform after a lost lease; publishing again",
        ):
            counts["scheduled"] += 1
    return counts
