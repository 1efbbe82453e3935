"""What each outcome of a publish does: one table from a publisher's error to the post's fate.

`OUTCOME_RULES` is the table; docs/design.md quotes it as `outcome_table_markdown()`
prints it (a test keeps the two the same). Every kind of failure is reported
to the platform's circuit breaker, which counts only the kinds that say the
platform itself is failing (transient).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from PIL import Image
from selenium.webdriver.remote.webdriver import WebDriver

from accounts.services import (
    account_mark_needs_login,
    account_record_failure,
    account_record_success,
)
from browsers.pool import driver_alive
from uploads.circuits import circuit_record_failure, circuit_record_success
from uploads.models import ErrorKind, Post, PostAttempt, PostStatus
from uploads.publishers import (
    BrowserBrokeError,
    ContentRejectedError,
    LoginRequiredError,
    OutcomeUnknownError,
    PublishError,
    RateLimitedError,
    TransientError,
    VerifyResult,
    get_publisher,
)
from uploads.publishing.leases import post_leave_publishing
from uploads.signals import post_dead, post_rejected

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    post_id: int
    status: str
    browser_ok: bool = True


class Wait(StrEnum):
    NONE = "none"
    PLATFORM = "platform"  # the time the platform named, else the first backoff step
    BACKOFF = "backoff"  # FARM_RETRY_BACKOFF_SECONDS by the number of attempts used
    BROWSER = "browser"  # FARM_BROWSER_RETRY_SECONDS: soon, on a fresh browser


@dataclass(frozen=True)
class OutcomeRule:
    error_kind: str
    status: str  # where the post goes
    uses_attempt: bool = True  # one of the post's `max_attempts` is spent
    counts_toward_limits: bool = True  # the attempt counts in the trailing hour and day
    screenshot: bool = True  # keep a screenshot of the page the error showed
    against_account: bool = False  # counted in the account's failures (its health)
    wait: Wait = Wait.NONE
    needs_login: bool = False  # the account waits for a person to log in
    verify_first: bool = False  # ask the platform before deciding anything
    retries: bool = False  # retry_wait, or dead once the attempts are used up
    browser_ok: bool = True  # the browser may serve the next post
    told: Signal | None = None  # announced to the apps above (monitoring alerts)


OUTCOME_RULES: dict[type[PublishError], OutcomeRule] = {
    RateLimitedError: OutcomeRule(
        ErrorKind.RATE_LIMITED,
        PostStatus.RATE_LIMITED,
        uses_attempt=False,
        counts_toward_limits=False,
        screenshot=False,
        wait=Wait.PLATFORM,
    ),
    LoginRequiredError: OutcomeRule(
        ErrorKind.LOGIN_REQUIRED,
        PostStatus.SCHEDULED,
        uses_attempt=False,
        counts_toward_limits=False,
        against_account=True,
        needs_login=True,
    ),
    OutcomeUnknownError: OutcomeRule(
        ErrorKind.UNKNOWN,
        PostStatus.UNKNOWN,
        uses_attempt=False,
        screenshot=False,
        verify_first=True,
    ),
    ContentRejectedError: OutcomeRule(ErrorKind.REJECTED, PostStatus.FAILED, told=post_rejected),
    # A crashed browser is the farm's trouble, not the account's: not held against it.
    BrowserBrokeError: OutcomeRule(
        ErrorKind.BROWSER,
        PostStatus.RETRY_WAIT,
        screenshot=False,
        wait=Wait.BROWSER,
        retries=True,
        browser_ok=False,
    ),
    TransientError: OutcomeRule(
        ErrorKind.TRANSIENT,
        PostStatus.RETRY_WAIT,
        against_account=True,
        wait=Wait.BACKOFF,
        retries=True,
    ),
}


_WAIT_TEXT = {
    Wait.NONE: "",
    Wait.PLATFORM: "the platform's, else the first backoff step",
    Wait.BACKOFF: "FARM_RETRY_BACKOFF_SECONDS by attempt",
    Wait.BROWSER: "FARM_BROWSER_RETRY_SECONDS",
}


def outcome_table_markdown() -> str:
    """OUTCOME_RULES as the Markdown table docs/design.md quotes."""

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    rows = [
        "| error | kind | post goes to | uses an attempt | counts toward limits "
        "| screenshot | against the account | wait | told |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for error, rule in OUTCOME_RULES.items():
        goes_to = rule.status
        if rule.verify_first:
            goes_to = f"posted if verify finds it, else {rule.status}"
        if rule.retries:
            goes_to += ", dead once attempts are used up"
        if rule.needs_login:
            goes_to += " (account needs_login)"
        told = ", ".join(
            name
            for name, on in (
                ("login_required", rule.needs_login),
                ("post_rejected", rule.told is post_rejected),
                ("post_dead", rule.retries),
            )
            if on
        )
        rows.append(
            f"| {error.__name__} | {rule.error_kind} | {goes_to} | {yes(rule.uses_attempt)} "
            f"| {yes(rule.counts_toward_limits)} | {yes(rule.screenshot)} "
            f"| {yes(rule.against_account)} | {_WAIT_TEXT[rule.wait]} | {told} |"
        )
    return "\n".join(rows) + "\n"


def outcome_rule(exc: PublishError) -> OutcomeRule:
    """The rule of the error's nearest class in the table (a subclass follows its parent)."""
    for cls in type(exc).__mro__:
        if cls in OUTCOME_RULES:
            return OUTCOME_RULES[cls]
    return OUTCOME_RULES[TransientError]


def backoff_seconds(attempt_number: int) -> int:
    steps = settings.FARM_RETRY_BACKOFF_SECONDS
    return steps[min(attempt_number, len(steps)) - 1] if steps else 60


def _wait_seconds(rule: OutcomeRule, exc: PublishError, attempts_used: int) -> int | None:
    if rule.wait == Wait.PLATFORM:
        return getattr(exc, "retry_after_seconds", None) or backoff_seconds(1)
    if rule.wait == Wait.BACKOFF:
        return backoff_seconds(attempts_used)
    if rule.wait == Wait.BROWSER:
        return settings.FARM_BROWSER_RETRY_SECONDS
    return None


def attempt_start(post: Post, holder: str, reused: bool) -> PostAttempt:
    """The attempt the dispatcher wrote for this dispatch, now running on this worker."""
    attempt = post.attempts.filter(outcome=PostAttempt.Outcome.PENDING).order_by("-number").first()
    if attempt is None:
        attempt = PostAttempt(post=post, account_id=post.account_id, number=post.dispatch_count)
    attempt.started_at = timezone.now()
    attempt.worker = holder
    attempt.outcome = PostAttempt.Outcome.RUNNING
    attempt.browser_reused = reused
    attempt.save()
    return attempt


def attempt_finish(
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


def post_verify_quietly(post: Post) -> VerifyResult | None:
    """The platform's answer on whether the post is there; None when it cannot say."""
    try:
        return get_publisher(post.account.platform).verify(post=post, account=post.account)
    except (PublishError, LookupError):
        return None
    except Exception:
        logger.exception("post %s: verify failed unexpectedly", post.pk)
        return None


def record_error(
    post: Post, attempt: PostAttempt, holder: str, exc: PublishError, driver: WebDriver | None
) -> Outcome:
    """Record a failed attempt as OUTCOME_RULES says for the error's class."""
    rule = outcome_rule(exc)
    message = str(exc) or exc.__class__.__name__
    account = post.account
    browser_ok = rule.browser_ok
    if rule.verify_first:
        # The answer may have been lost with the browser: then the next post needs a fresh one.
        browser_ok = driver is not None and driver_alive(driver)
        # Ask the platform once right away: usually the post is there and we are done.
        check = post_verify_quietly(post)
        if check is not None and check.found:
            return record_posted(post, attempt, holder, check, browser_ok=browser_ok)
    attempt_finish(
        attempt,
        outcome="error",
        error_kind=rule.error_kind,
        message=message,
        counts=rule.counts_toward_limits,
        screenshot=_screenshot_webp(driver) if rule.screenshot else None,
    )
    if rule.needs_login:
        # Back to wait first, so the post is not left publishing while the account pauses.
        post_leave_publishing(post.pk, holder, rule.status, last_error=message)
        account_mark_needs_login(account=account, reason=message)
    if rule.against_account:
        account_record_failure(account_id=account.pk, error_kind=rule.error_kind)
    if rule.needs_login:
        return Outcome(post.pk, rule.status, browser_ok=browser_ok)
    if rule.retries:
        # The breaker decides which kinds say the platform itself is failing.
        circuit_record_failure(
            platform=account.platform, error_kind=rule.error_kind, message=message
        )

    status = rule.status
    fields: dict[str, object] = {"last_error": message}
    used = post.attempts_count + 1 if rule.uses_attempt else post.attempts_count
    if rule.uses_attempt:
        fields["attempts_count"] = F("attempts_count") + 1 if not rule.retries else used
    if rule.retries and used >= post.max_attempts:
        status = PostStatus.DEAD
    else:
        wait = _wait_seconds(rule, exc, used)
        if wait is not None:
            fields["next_attempt_at"] = timezone.now() + timedelta(seconds=wait)
    post_leave_publishing(post.pk, holder, status, **fields)
    if status == PostStatus.DEAD:
        post_dead.send(sender=Post, post=post, attempts=used, message=message)
    elif rule.told is not None:
        rule.told.send(sender=Post, post=post, message=message)
    return Outcome(post.pk, status, browser_ok=browser_ok)


def record_posted(
    post: Post, attempt: PostAttempt, holder: str, check: VerifyResult, *, browser_ok: bool = True
) -> Outcome:
    attempt_finish(attempt, outcome="posted")
    post_leave_publishing(
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
