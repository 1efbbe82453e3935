"""A platform's circuit breaker: opens on repeated infrastructure failures, probes, resumes.

Posts go through the real dispatcher and the real publish service; only the
platform itself is a stand-in (a publisher that answers from a script), the
way the e2e tests use the sandbox.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from pytest_django.fixtures import Settings
from selenium.webdriver.remote.webdriver import WebDriver

from accounts.models import Account, Workspace
from browsers.models import BrowserProfile
from browsers.pool import DriverPool
from monitoring.models import Alert
from tests.conftest import broker_queue_purge, broker_queue_size
from tests.factories import MakeAccount, make_posts
from tests.fakes import HOLDER, ScriptedPlatform, publish
from uploads.circuits import (
    circuit_close,
    circuit_probe_claim,
    circuit_record_failure,
    circuit_record_success,
    circuits_gate,
)
from uploads.dispatcher import posts_dispatch
from uploads.models import ErrorKind, PlatformCircuit, Post, PostAttempt, PostStatus
from uploads.publishers import (
    BrowserBrokeError,
    ContentRejectedError,
    LoginRequiredError,
    OutcomeUnknownError,
    RateLimitedError,
    TransientError,
)
from uploads.publishing import post_publish
from uploads.services import post_cancel

pytestmark = pytest.mark.django_db(transaction=True)

State = PlatformCircuit.State


@pytest.fixture(autouse=True)
def _breaker_settings(settings: Settings) -> None:
    broker_queue_purge()
    settings.FARM_CIRCUIT_FAILURE_THRESHOLD = 3
    settings.FARM_CIRCUIT_COOLDOWN_SECONDS = 300


@pytest.fixture
def make_busy_account(make_account: MakeAccount) -> MakeAccount:
    """An account whose own limits never get in the way of these tests."""

    def make(workspace: Workspace, platform: str = "tiktok") -> Account:
        return make_account(
            workspace, platform=platform, per_hour_override=1000, per_day_override=1000
        )

    return make


def statuses(posts: list[Post]) -> list[str]:
    by_id = dict(Post.objects.filter(pk__in=[p.pk for p in posts]).values_list("pk", "status"))
    return [by_id[p.pk] for p in posts]


def circuit(platform: str = "tiktok") -> PlatformCircuit:
    return PlatformCircuit.objects.get(platform=platform)


def probe_post(platform: str = "tiktok") -> Post:
    """The post the half-open circuit let through, which the test expects it to have."""
    probe_id = circuit(platform).probe_post_id
    assert probe_id is not None
    return Post.objects.get(pk=probe_id)


def open_circuit_alerts(platform: str = "tiktok") -> list[Alert]:
    return list(
        Alert.objects.filter(
            kind=Alert.Kind.PLATFORM_CIRCUIT_OPEN, platform=platform, resolved_at__isnull=True
        )
    )


def trip(tiktok: ScriptedPlatform, account: Account) -> list[Post]:
    """Open the TikTok circuit the way production does: failures in a row."""
    posts = make_posts(account, settings.FARM_CIRCUIT_FAILURE_THRESHOLD)
    assert posts_dispatch() == len(posts)
    tiktok.script = [TransientError("HTTP 503 from the upload page") for _ in posts]
    for post in posts:
        assert publish(post).status == PostStatus.RETRY_WAIT
    assert circuit().state == State.OPEN
    return posts


@pytest.fixture
def tripped(
    tiktok: ScriptedPlatform, workspace: Workspace, make_busy_account: MakeAccount
) -> Account:
    """A TikTok account whose failures in a row opened the platform's circuit."""
    account = make_busy_account(workspace)
    trip(tiktok, account)
    return account


def posts_waiting(
    tripped: Account, make_busy_account: MakeAccount, accounts: int, each: int
) -> None:
    """Posts due on `accounts` TikTok accounts, the tripped one first, `each` on every one."""
    others = [make_busy_account(tripped.workspace) for _ in range(accounts - 1)]
    for account in [tripped, *others]:
        make_posts(account, each)


def after_cooldown() -> datetime:
    return timezone.now() + timedelta(seconds=settings.FARM_CIRCUIT_COOLDOWN_SECONDS + 1)


def test_failures_in_a_row_open_the_circuit_and_alert_each_workspace_on_the_platform(
    tiktok: ScriptedPlatform,
    make_workspace: Callable[..., Workspace],
    make_busy_account: MakeAccount,
) -> None:
    home, neighbour, elsewhere = make_workspace(), make_workspace(), make_workspace()
    account = make_busy_account(home)
    make_busy_account(neighbour)
    make_busy_account(elsewhere, platform="sandbox")
    posts = make_posts(account, 4)
    assert posts_dispatch() == 4
    tiktok.script = [TransientError("HTTP 502"), TransientError("timed out"), None]
    for post in posts[:3]:
        publish(post)
    # A success in between starts the count again.
    assert circuit().state == State.CLOSED
    assert circuit().consecutive_failures == 0

    trip(tiktok, account)
    tripped = circuit()
    assert tripped.consecutive_failures == settings.FARM_CIRCUIT_FAILURE_THRESHOLD
    assert tripped.last_error == "HTTP 503 from the upload page"
    assert tripped.opened_at is not None
    assert tripped.retry_at == tripped.opened_at + timedelta(
        seconds=settings.FARM_CIRCUIT_COOLDOWN_SECONDS
    )
    alerts = open_circuit_alerts()
    # One platform-wide alert per workspace with a TikTok account, none elsewhere.
    assert {a.workspace_id for a in alerts} == {home.pk, neighbour.pk}
    assert all(a.account_id is None and a.severity == Alert.Severity.CRITICAL for a in alerts)
    # The failing posts' error text is one tenant's: it stays on the circuit row.
    assert "503" not in alerts[0].message

    # Failures of posts already out while it is open neither extend the pause nor alert again.
    assert not circuit_record_failure(platform="tiktok", error_kind=ErrorKind.TRANSIENT)
    assert circuit().retry_at == tripped.retry_at
    assert len(open_circuit_alerts()) == 2


def test_platform_wide_alerts_carry_no_tenants_error_text(
    make_workspace: Callable[..., Workspace], make_busy_account: MakeAccount
) -> None:
    home, neighbour = make_workspace(), make_workspace()
    make_busy_account(home, platform="reddit")
    make_busy_account(neighbour, platform="reddit")
    leak = "HTTP 503 while uploading 'Acme launch' for @acme-private https://acme.example/x?k=1"
    threshold = settings.FARM_CIRCUIT_FAILURE_THRESHOLD
    for _ in range(threshold):
        circuit_record_failure(platform="reddit", error_kind=ErrorKind.TRANSIENT, message=leak)

    opened = circuit("reddit")
    assert opened.last_error == leak  # the detail, on the superusers' page
    assert opened.retry_at is not None
    alerts = open_circuit_alerts("reddit")
    assert {a.workspace_id for a in alerts} == {home.pk, neighbour.pk}
    for alert in alerts:
        assert alert.message == (
            f"Reddit is paused: {threshold} infrastructure failures in a row. One probe post "
            f"goes out after {opened.retry_at:%Y-%m-%d %H:%M:%S} UTC; "
            "its success resumes posting."
        )

    # A failed probe says so again, still in the platform's words only.
    circuit_probe_claim(
        circuit=circuits_gate(now=after_cooldown()).probe_ready[0], now=after_cooldown()
    )
    Alert.objects.filter(platform="reddit").delete()
    assert circuit_record_failure(
        platform="reddit", error_kind=ErrorKind.TRANSIENT, message=leak + " again"
    )
    again = open_circuit_alerts("reddit")
    assert len(again) == 2
    for alert in again:
        assert "still failing after a cool-down" in alert.message
        assert f"{threshold + 1} infrastructure failures in a row" in alert.message
        assert "503" not in alert.message and "acme" not in alert.message.lower()


@pytest.mark.parametrize(
    "error",
    [
        RateLimitedError("slow down", retry_after_seconds=60),
        LoginRequiredError("please log in again"),
        ContentRejectedError("violates the rules"),
        BrowserBrokeError("chrome not reachable"),
        OutcomeUnknownError("the answer page never came"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_about_the_account_the_post_or_our_browser_do_not_count(
    error: Exception,
    tiktok: ScriptedPlatform,
    workspace: Workspace,
    make_busy_account: MakeAccount,
) -> None:
    threshold = settings.FARM_CIRCUIT_FAILURE_THRESHOLD
    accounts = [make_busy_account(workspace) for _ in range(threshold + 1)]
    posts = [make_posts(account, 1)[0] for account in accounts]
    assert posts_dispatch() == len(posts)
    tiktok.script = [error for _ in posts]
    for post in posts:
        publish(post)
    assert not PlatformCircuit.objects.filter(platform="tiktok").exclude(
        state=State.CLOSED, consecutive_failures=0
    )
    assert not open_circuit_alerts()


def test_an_open_circuit_holds_that_platform_only_and_uses_no_attempts(
    tiktok: ScriptedPlatform, workspace: Workspace, make_busy_account: MakeAccount
) -> None:
    account = make_busy_account(workspace)
    trip(tiktok, account)
    broker_queue_purge()
    waiting = make_posts(account, 3)
    retrying = Post.objects.filter(account=account, status=PostStatus.RETRY_WAIT)
    retrying.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    sandbox_posts = make_posts(make_busy_account(workspace, platform="sandbox"), 2)
    attempts_before = PostAttempt.objects.filter(account=account).count()

    assert posts_dispatch() == 2
    assert statuses(sandbox_posts) == [PostStatus.QUEUED] * 2
    assert statuses(waiting) == [PostStatus.SCHEDULED] * 3
    assert retrying.count() == settings.FARM_CIRCUIT_FAILURE_THRESHOLD
    assert PostAttempt.objects.filter(account=account).count() == attempts_before
    assert broker_queue_size() == 2


def test_after_the_cooldown_two_dispatcher_passes_send_exactly_one_probe(
    tripped: Account, make_busy_account: MakeAccount
) -> None:
    posts_waiting(tripped, make_busy_account, accounts=3, each=4)
    broker_queue_purge()

    assert posts_dispatch() == 0  # still cooling down
    later = after_cooldown()
    assert posts_dispatch(now=later) == 1
    assert posts_dispatch(now=later) == 0
    assert posts_dispatch(now=later + timedelta(seconds=5), chunk_accounts=1) == 0

    probing = circuit()
    assert probing.state == State.HALF_OPEN
    (probe,) = Post.objects.filter(account__platform="tiktok", status=PostStatus.QUEUED)
    assert probing.probe_post_id == probe.pk
    assert broker_queue_size() == 1


@pytest.mark.usefixtures("tripped")
def test_dispatchers_that_read_the_same_open_circuit_claim_its_probe_once() -> None:
    later = after_cooldown()
    first, second = circuits_gate(now=later), circuits_gate(now=later)
    assert [c.platform for c in first.probe_ready] == ["tiktok"]
    assert circuit_probe_claim(circuit=first.probe_ready[0], now=later)
    assert not circuit_probe_claim(circuit=second.probe_ready[0], now=later)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite runs one writer at a time anyway"
)
def test_concurrent_dispatchers_send_one_probe(
    tripped: Account, make_busy_account: MakeAccount
) -> None:
    posts_waiting(tripped, make_busy_account, accounts=6, each=3)
    later = after_cooldown()
    start = threading.Barrier(4)
    sent: list[int] = []

    def dispatcher() -> None:
        try:
            start.wait()
            sent.append(posts_dispatch(now=later, chunk_accounts=2))
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(sent) == 1
    assert Post.objects.filter(status=PostStatus.QUEUED).count() == 1


def test_a_successful_probe_closes_the_circuit_and_dispatch_resumes(
    tiktok: ScriptedPlatform, tripped: Account
) -> None:
    waiting = make_posts(tripped, 3)
    assert posts_dispatch(now=after_cooldown()) == 1
    probe = probe_post()
    assert probe.pk in {p.pk for p in waiting}

    tiktok.script = [None]
    assert publish(probe).status == PostStatus.POSTED
    closed = circuit()
    assert closed.state == State.CLOSED
    assert (closed.consecutive_failures, closed.retry_at, closed.probe_post_id) == (0, None, None)
    assert not open_circuit_alerts()
    assert Alert.objects.filter(kind=Alert.Kind.PLATFORM_CIRCUIT_OPEN).exists()
    assert posts_dispatch() == 2


def test_a_failed_probe_opens_the_circuit_for_another_cooldown(
    tiktok: ScriptedPlatform, tripped: Account
) -> None:
    make_posts(tripped, 3)
    assert posts_dispatch(now=after_cooldown()) == 1
    probe = probe_post()
    tiktok.script = [TransientError("HTTP 500")]
    before = timezone.now()

    assert publish(probe).status == PostStatus.RETRY_WAIT
    reopened = circuit()
    assert reopened.state == State.OPEN
    assert reopened.probe_post_id is None
    assert reopened.retry_at is not None
    assert reopened.retry_at >= before + timedelta(seconds=settings.FARM_CIRCUIT_COOLDOWN_SECONDS)
    assert len(open_circuit_alerts()) == 1
    assert posts_dispatch() == 0
    assert posts_dispatch(now=after_cooldown()) == 1  # the next probe, a cool-down later


@pytest.mark.parametrize(
    "ending",
    ["cancelled", "rate_limited", "browser_broke", "unknown"],
)
def test_a_probe_that_ends_without_a_verdict_makes_way_for_a_new_one(
    ending: str, tiktok: ScriptedPlatform, tripped: Account
) -> None:
    make_posts(tripped, 3)
    later = after_cooldown()
    assert posts_dispatch(now=later) == 1
    probe = probe_post()
    if ending == "cancelled":
        assert post_cancel(post=probe)
    else:
        tiktok.script = [
            {
                "rate_limited": RateLimitedError("slow down", retry_after_seconds=60),
                "browser_broke": BrowserBrokeError("chrome not reachable"),
                "unknown": OutcomeUnknownError("the answer page never came"),
            }[ending]
        ]
        publish(probe)
    assert circuit().state == State.HALF_OPEN

    again = later + timedelta(seconds=5)
    assert posts_dispatch(now=again) == 1
    second = circuit()
    assert second.state == State.HALF_OPEN
    assert second.probe_started_at == again
    assert second.probe_post_id is not None
    # The new probe may be the same post once its own wait is over: it was sent anew.
    assert Post.objects.get(pk=second.probe_post_id).status == PostStatus.QUEUED
    assert Post.objects.filter(account__platform="tiktok", status=PostStatus.QUEUED).count() == 1


def test_a_probe_stuck_in_the_queue_is_replaced_after_the_publish_lease(tripped: Account) -> None:
    make_posts(tripped, 3)
    later = after_cooldown()
    assert posts_dispatch(now=later) == 1
    stuck = circuit().probe_post_id
    # No worker takes it: within the lease nothing else goes, after it a new probe does.
    lease = timedelta(seconds=settings.FARM_PUBLISH_LEASE_SECONDS)
    assert posts_dispatch(now=later + lease - timedelta(seconds=1)) == 0
    assert posts_dispatch(now=later + lease + timedelta(seconds=1)) == 1
    assert circuit().probe_post_id not in (None, stuck)


def test_a_claim_whose_dispatcher_died_is_taken_again_after_the_lease(tripped: Account) -> None:
    make_posts(tripped, 2)
    later = after_cooldown()
    # A dispatcher won the slot and vanished before queueing anything.
    assert circuit_probe_claim(circuit=circuits_gate(now=later).probe_ready[0], now=later)
    assert posts_dispatch(now=later) == 0
    lease = timedelta(seconds=settings.FARM_PUBLISH_LEASE_SECONDS)
    assert posts_dispatch(now=later + lease + timedelta(seconds=1)) == 1
    assert circuit().probe_post_id is not None


def test_a_claim_with_nothing_to_send_frees_the_slot_at_once(tripped: Account) -> None:
    # Due posts, but the tripped is at its hourly limit: nothing can be the probe.
    Account.objects.filter(pk=tripped.pk).update(per_hour_override=0)
    make_posts(tripped, 1)
    later = after_cooldown()
    assert posts_dispatch(now=later) == 0
    assert circuit().state == State.HALF_OPEN
    assert circuit().probe_started_at is None
    Account.objects.filter(pk=tripped.pk).update(per_hour_override=1000)
    assert posts_dispatch(now=later + timedelta(seconds=5)) == 1


def test_workers_hold_queued_posts_of_a_paused_platform_and_publish_only_the_probe(
    tiktok: ScriptedPlatform, workspace: Workspace, make_busy_account: MakeAccount
) -> None:
    account = make_busy_account(workspace)
    early = make_posts(account, 2)
    assert posts_dispatch() == 2  # on their way to workers when the platform fails
    trip(tiktok, make_busy_account(workspace))

    def no_browser(profile: BrowserProfile) -> WebDriver:
        raise AssertionError("a held post must not open a browser")

    pool = DriverPool(opener=no_browser, holder=HOLDER)
    for post in early:
        assert post_publish(post_id=post.pk, pool=pool) == []
    assert statuses(early) == [PostStatus.SCHEDULED] * 2
    held = PostAttempt.objects.filter(post__in=early)
    assert {(a.outcome, a.counts_as_attempt) for a in held} == {("abandoned", False)}
    assert all(p.attempts_count == 0 for p in Post.objects.filter(pk__in=[p.pk for p in early]))

    # Half-open: the probe may go, nothing else.
    assert posts_dispatch(now=after_cooldown()) == 1
    probe_id = circuit().probe_post_id
    assert probe_id is not None
    other = Post.objects.filter(account__platform="tiktok", status=PostStatus.SCHEDULED).first()
    assert other is not None
    Post.objects.filter(pk=other.pk).update(status=PostStatus.QUEUED)
    assert post_publish(post_id=other.pk, pool=pool) == []
    assert Post.objects.get(pk=other.pk).status == PostStatus.SCHEDULED
    assert Post.objects.get(pk=probe_id).status == PostStatus.QUEUED


def test_closing_by_hand_resumes_posting_and_resolves_the_alerts(tripped: Account) -> None:
    make_posts(tripped, 2)
    assert circuit_close(platform="tiktok")
    assert circuit().state == State.CLOSED
    assert not open_circuit_alerts()
    assert posts_dispatch() == 2
    assert not circuit_close(platform="tiktok")


@pytest.mark.usefixtures("tripped")
def test_successes_while_open_do_not_cut_the_cooldown_short() -> None:
    assert not circuit_record_success(platform="tiktok")
    assert circuit().state == State.OPEN
    # A platform that never failed has no row, and a success writes none.
    assert not circuit_record_success(platform="youtube")
    assert not PlatformCircuit.objects.filter(platform="youtube").exists()
