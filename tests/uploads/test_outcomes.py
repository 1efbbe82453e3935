"""What each publisher error does to a post, its account and the alerts, without a browser.

Every row of the outcome table (`uploads.publishing.outcomes.OUTCOME_RULES`)
goes through the real dispatcher and publish service, the platform a script
(tests/fakes.py) and no driver. What is checked is what a person would look
at afterwards: the post's status and attempts, whether the attempt counts
toward the account's limits, when the post is tried again, the account's
state and failures in a row, and the alert raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from pytest_django.fixtures import Settings

from accounts.models import Account, Workspace
from monitoring.models import Alert
from tests.factories import MakeAccount, make_post
from tests.fakes import ScriptedPlatform, publish
from uploads.dispatcher import posts_dispatch
from uploads.models import PostAttempt, PostStatus
from uploads.publishers import (
    BrowserBrokeError,
    ContentRejectedError,
    LoginRequiredError,
    OutcomeUnknownError,
    PublishError,
    RateLimitedError,
    TransientError,
)
from uploads.publishing import OUTCOME_RULES
from uploads.publishing.outcomes import outcome_table_markdown

pytestmark = pytest.mark.django_db

BACKOFF = [100, 200, 400]  # FARM_RETRY_BACKOFF_SECONDS, the wait after the 1st, 2nd, 3rd attempt
BROWSER_RETRY = 7  # FARM_BROWSER_RETRY_SECONDS
MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class Case:
    name: str
    error: PublishError
    status: str  # where the post goes
    attempts: int  # the post's attempts_count afterwards
    counts: bool  # the attempt counts toward the account's limits
    wait: int | None  # seconds until the post is tried again; None: no new time is set
    account_state: str = Account.State.ACTIVE
    failures: int = 0  # the account's consecutive_failures afterwards
    alert: tuple[str, str] | None = None  # (kind, severity) of the one alert raised
    attempts_before: int = 0  # attempts the post had used before this one
    lands: bool = False  # the platform has the post, whatever it answered


def retried(error: PublishError, *, first_wait: int, failures: int) -> list[Case]:
    """An error worth another try: the post waits after a first attempt, is dead after the last."""
    return [
        Case(
            "first attempt",
            error,
            PostStatus.RETRY_WAIT,
            attempts=1,
            counts=True,
            wait=first_wait,
            failures=failures,
        ),
        Case(
            "last attempt",
            error,
            PostStatus.DEAD,
            attempts=MAX_ATTEMPTS,
            counts=True,
            wait=None,
            failures=failures,
            alert=(Alert.Kind.POST_DEAD, Alert.Severity.WARNING),
            attempts_before=MAX_ATTEMPTS - 1,
        ),
    ]


EXPECTED: dict[type[PublishError], list[Case]] = {
    RateLimitedError: [
        Case(name, error, PostStatus.RATE_LIMITED, attempts=0, counts=False, wait=wait)
        for name, error, wait in (
            ("the platform names the wait", RateLimitedError("slow", retry_after_seconds=900), 900),
            ("no wait named", RateLimitedError("slow down"), BACKOFF[0]),
        )
    ],
    LoginRequiredError: [
        Case(
            "logged out",
            LoginRequiredError("please log in again"),
            PostStatus.SCHEDULED,
            attempts=0,
            counts=False,
            wait=None,
            account_state=Account.State.NEEDS_LOGIN,
            failures=1,
            alert=(Alert.Kind.LOGIN_REQUIRED, Alert.Severity.CRITICAL),
        ),
    ],
    OutcomeUnknownError: [
        Case(
            "verify finds the post",
            OutcomeUnknownError("the answer page never came"),
            PostStatus.POSTED,
            attempts=1,
            counts=True,
            wait=None,
            lands=True,
        ),
        Case(
            "verify does not find it",
            OutcomeUnknownError("the answer page never came"),
            PostStatus.UNKNOWN,
            attempts=0,
            counts=True,
            wait=None,
        ),
    ],
    ContentRejectedError: [
        Case(
            "rejected",
            ContentRejectedError("violates the rules"),
            PostStatus.FAILED,
            attempts=1,
            counts=True,
            wait=None,
            alert=(Alert.Kind.POST_REJECTED, Alert.Severity.WARNING),
        ),
    ],
    BrowserBrokeError: retried(
        BrowserBrokeError("chrome not reachable"), first_wait=BROWSER_RETRY, failures=0
    ),
    TransientError: [
        *retried(
            TransientError("HTTP 503 from the upload page"), first_wait=BACKOFF[0], failures=1
        ),
        Case(
            "second attempt",
            TransientError("HTTP 503 from the upload page"),
            PostStatus.RETRY_WAIT,
            attempts=2,
            counts=True,
            wait=BACKOFF[1],
            failures=1,
            attempts_before=1,
        ),
    ],
}


def table_rows() -> list:
    """A test per case of each row of the table; a row without cases is a failing test."""
    params = []
    for error_class in OUTCOME_RULES:
        cases: Sequence[Case | None] = EXPECTED.get(error_class) or [None]
        for case in cases:
            name = (case.name if case else "no case written").replace(" ", "-")
            params.append(pytest.param(error_class, case, id=f"{error_class.__name__}-{name}"))
    return params


@pytest.fixture(autouse=True)
def _waits(settings: Settings) -> None:
    settings.FARM_RETRY_BACKOFF_SECONDS = BACKOFF
    settings.FARM_BROWSER_RETRY_SECONDS = BROWSER_RETRY


@pytest.mark.parametrize(("error_class", "case"), table_rows())
def test_each_error_moves_the_post_the_account_and_the_alerts_as_the_table_says(
    error_class: type[PublishError],
    case: Case | None,
    tiktok: ScriptedPlatform,
    workspace: Workspace,
    make_account: MakeAccount,
) -> None:
    if case is None:
        pytest.fail(f"OUTCOME_RULES has a row for {error_class.__name__}: add its cases here")
    assert type(case.error) is error_class
    account = make_account(workspace, platform="tiktok")
    waited_until = None
    if case.attempts_before:
        # Tried and failed before: due again now.
        waited_until = timezone.now() - timedelta(seconds=1)
        post = make_post(
            account,
            PostStatus.RETRY_WAIT,
            attempts_count=case.attempts_before,
            dispatch_count=case.attempts_before,
            next_attempt_at=waited_until,
        )
    else:
        post = make_post(account)
    assert post.max_attempts == MAX_ATTEMPTS
    assert posts_dispatch() == 1
    if case.lands:
        tiktok.published.add(str(post.publish_token))
    tiktok.script = [case.error]

    before = timezone.now()
    outcome = publish(post)
    after = timezone.now()

    post.refresh_from_db()
    account.refresh_from_db()
    assert outcome.status == post.status == case.status
    assert post.attempts_count == case.attempts
    (attempt,) = PostAttempt.objects.filter(post=post, number=post.dispatch_count)
    assert attempt.counts_as_attempt is case.counts
    if case.wait is None:
        assert post.next_attempt_at == waited_until
    else:
        wait = timedelta(seconds=case.wait)
        assert post.next_attempt_at is not None
        assert before + wait <= post.next_attempt_at <= after + wait
    assert account.state == case.account_state
    assert account.consecutive_failures == case.failures
    alerts = [(alert.kind, alert.severity) for alert in Alert.objects.all()]
    assert alerts == ([case.alert] if case.alert else [])


def test_every_case_here_is_a_row_of_the_table() -> None:
    assert set(EXPECTED) <= set(OUTCOME_RULES)


def test_every_kind_of_publisher_error_has_a_row() -> None:
    # One without would silently be treated as transient.
    assert set(PublishError.__subclasses__()) <= set(OUTCOME_RULES)


def test_the_design_doc_quotes_the_table_as_the_code_has_it() -> None:
    design = Path(django_settings.BASE_DIR, "docs", "design.md").read_text(encoding="utf-8")
    assert outcome_table_markdown() in design
