"""Breaking the farm for real: killed workers, restarted services, doubled beats, load.

The farm runs as in production (celery worker and beat processes against
the test database and the configured broker, headless Chromium publishing
to the sandbox), with its timings shortened so that recovery shows within
a test. The sandbox's records are the ground truth: every post must be on
it exactly once, and none may be missing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable, Sequence

import pytest
from django.db import DatabaseError, connection
from django.db.models import Count

from accounts.models import Account
from sandbox.models import SandboxPost

# The shared end-to-end fixtures: the live sandbox, farm processes, accounts.
from tests.e2e.conftest import (  # noqa: F401
    _chromium_installed,
    farm,
    sandbox,
    sandbox_account,
)
from tests.factories import make_posts
from uploads.models import TERMINAL, Post

# Recovery in seconds rather than minutes: short leases with a fast heartbeat,
# a dispatcher pass every second, quick resends, retries and settling.
FAST = {
    "FARM_DISPATCH_INTERVAL_SECONDS": "1",
    "FARM_PUBLISH_LEASE_SECONDS": "6",
    "FARM_PROFILE_LEASE_SECONDS": "6",
    "FARM_LEASE_HEARTBEAT_SECONDS": "1.5",
    "FARM_QUEUED_RESEND_SECONDS": "8",
    "FARM_UNKNOWN_SETTLE_SECONDS": "3",
    "FARM_RETRY_BACKOFF_SECONDS": "2,2,2",
    "FARM_BROWSER_RETRY_SECONDS": "2",
    "FARM_MAX_ATTEMPTS": "8",
    "FARM_BEAT_LOCK_SECONDS": "6",
    "FARM_SHUTDOWN_GRACE_SECONDS": "3",
    "FARM_BROWSER_IDLE_SECONDS": "5",
    # A restarted database makes the sandbox answer 500s for a moment, which
    # rightly trips the platform's circuit breaker: keep its pause short.
    "FARM_CIRCUIT_COOLDOWN_SECONDS": "5",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.fspath):
            item.add_marker(pytest.mark.reliability)
            item.add_marker(pytest.mark.e2e)


def posts_create(accounts: Sequence[Account], count: int) -> list[Post]:
    """`count` text posts spread round-robin over the accounts, due now.

    The accounts' daily quotas are raised out of the way: a dispatch whose
    worker died counts against the quota, and a test's posts must all fit.
    """
    Account.objects.filter(pk__in=[account.pk for account in accounts]).update(daily_quota=10_000)
    return make_posts(accounts, count)


def sandbox_copies(posts: Iterable[Post]) -> dict[str, int]:
    """How many times the sandbox holds each post, by publish token (0 when missing)."""
    tokens = [str(post.publish_token) for post in posts]
    found = dict(
        SandboxPost.objects.filter(publish_token__in=tokens)
        .values_list("publish_token")
        .annotate(n=Count("id"))
    )
    return {token: found.get(token, 0) for token in tokens}


def surviving(condition: Callable[[], bool]) -> Callable[[], bool]:
    """A wait condition that reads the database, kept alive across a database restart."""

    def check() -> bool:
        try:
            return condition()
        except DatabaseError:
            connection.close()
            return False

    return check


def all_terminal(posts: Sequence[Post]) -> Callable[[], bool]:
    ids = [post.pk for post in posts]
    return surviving(
        lambda: not Post.objects.filter(pk__in=ids).exclude(status__in=TERMINAL).exists()
    )


def statuses(posts: Sequence[Post]) -> dict[str, int]:
    return dict(
        Post.objects.filter(pk__in=[post.pk for post in posts])
        .values_list("status")
        .annotate(n=Count("id"))
    )


def restart_command(variable: str) -> str:
    """The shell command in `variable` that restarts a shared service, or skip the test."""
    command = os.environ.get(variable, "")
    if not command:
        pytest.skip(f"set {variable} to a command that restarts the service (CI does)")
    return command


def run_restart(command: str) -> None:
    subprocess.run(command, shell=True, check=True, timeout=120)
