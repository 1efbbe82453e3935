"""The broker or the database restarts mid-run: every post still ends, none twice."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import Workspace
from core.processes import FarmProcesses
from tests.e2e.conftest import wait_until
from tests.reliability.conftest import (
    FAST,
    all_terminal,
    posts_create,
    restart_command,
    run_restart,
    sandbox_copies,
    statuses,
    surviving,
)
from uploads.models import Post, PostStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.restarts]


def _run_with_restart(
    farm: FarmProcesses,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    restart: str,
    prefix: str,
) -> None:
    accounts = [sandbox_account(workspace, f"{prefix}{n}")[0] for n in range(10)]
    posts = posts_create(accounts, 200)
    farm.start_worker(concurrency=2, env=FAST)
    farm.start_beat(env=FAST)
    ids = [post.pk for post in posts]
    wait_until(
        surviving(lambda: Post.objects.filter(pk__in=ids, status=PostStatus.POSTED).count() >= 40),
        timeout=240,
        on_timeout=farm.logs(),
    )

    run_restart(restart)
    connection.close()  # this test's own connection did not survive a database restart

    # Nobody acts: the farm finds its way back by itself.
    wait_until(all_terminal(posts), timeout=480, on_timeout=farm.logs())
    connection.close()
    assert statuses(posts) == {PostStatus.POSTED: 200}, farm.logs()
    assert set(sandbox_copies(posts).values()) == {1}


def test_redis_restart_mid_run(
    farm: FarmProcesses, workspace: Workspace, sandbox_account: Callable[..., tuple]
) -> None:
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("the broker is not Redis")
    restart = restart_command("FARM_TEST_RESTART_REDIS")
    _run_with_restart(farm, workspace, sandbox_account, restart, "redis")


def test_postgres_restart_mid_run(
    farm: FarmProcesses, workspace: Workspace, sandbox_account: Callable[..., tuple]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the database is not PostgreSQL")
    restart = restart_command("FARM_TEST_RESTART_POSTGRES")
    _run_with_restart(farm, workspace, sandbox_account, restart, "pg")
