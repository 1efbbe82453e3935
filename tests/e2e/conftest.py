"""Real browsers, real workers: Chromium drives the sandbox served by a live server.

Celery workers run as separate processes against the same test database and
broker, exactly as in production; only the platform is the sandbox.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from pytest_django.fixtures import Settings

from accounts.models import Account, Workspace
from browsers.pool import DriverPool
from config.celery import app as celery_app
from core.processes import FarmProcesses
from sandbox.models import SandboxAccount
from sandbox.services import sandbox_account_create
from uploads.dispatcher import posts_dispatch
from uploads.models import Post
from uploads.publishing import post_publish
from uploads.services import post_create


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def _chromium_installed() -> None:
    missing = [
        path
        for path in (settings.FARM_CHROMIUM_BINARY, settings.FARM_CHROMEDRIVER_PATH)
        if not shutil.which(path)
    ]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: install Debian's chromium and chromium-driver "
            "(`make setup` does it when run as root)."
        )


@pytest.fixture
def sandbox(live_server: object, settings: Settings) -> str:
    """The sandbox's base URL, and the farm pointed at it."""
    settings.SANDBOX_BASE_URL = live_server.url  # type: ignore[attr-defined]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return live_server.url  # type: ignore[attr-defined]


@pytest.fixture
def sandbox_account(
    transactional_db: None, make_account: Callable[..., Account]
) -> Callable[..., tuple[Account, SandboxAccount]]:
    """A farm account and its twin on the sandbox, with optional faults switched on."""

    def make(workspace: Workspace, handle: str, **faults: object) -> tuple[Account, SandboxAccount]:
        password = f"pw-{handle}-secret"
        account = make_account(
            workspace, handle=handle, credentials={"username": handle, "password": password}
        )
        remote = sandbox_account_create(handle=handle, password=password, **faults)
        return account, remote

    return make


@pytest.fixture
def pool() -> Iterator[DriverPool]:
    pool = DriverPool(size=2, idle_seconds=60)
    yield pool
    pool.close_all()


PublishNewPost = Callable[..., tuple[Account, Post]]


def queue_and_publish(pool: DriverPool, *posts: Post) -> list[Post]:
    """Dispatch (the real dispatcher) and publish in this process, as a worker would."""
    assert posts_dispatch() >= len(posts)
    for post in posts:
        post_publish(post_id=post.pk, pool=pool)
    return [Post.objects.get(pk=p.pk) for p in posts]


@pytest.fixture
def publish_new_post(
    sandbox: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple[Account, SandboxAccount]],
    pool: DriverPool,
) -> PublishNewPost:
    """A new sandbox account, with the faults named, has a text post published in this process.

    Returns the account and the post as the publish left it.
    """

    def publish(handle: str, title: str, **faults: object) -> tuple[Account, Post]:
        account, _ = sandbox_account(workspace, handle, **faults)
        post = post_create(workspace=workspace, account=account, title=title)
        (post,) = queue_and_publish(pool, post)
        return account, post

    return publish


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = quote(db.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def farm_env(base_url: str) -> dict[str, str]:
    """What a farm process needs to share this test's database, broker (its queue) and sandbox."""
    return {
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": celery_app.conf.task_default_queue,
        "FARM_DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "FARM_ENCRYPTION_KEYS": ",".join(settings.FARM_ENCRYPTION_KEYS),
        "SANDBOX_BASE_URL": base_url,
        "FARM_BROWSER_IDLE_SECONDS": "5",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def farm(sandbox: str, tmp_path: Path) -> Iterator[FarmProcesses]:
    """The farm's worker and beat processes, sharing this test's database, broker and sandbox.

    `farm.start_worker(env=...)` and `farm.start_beat(env=...)` start them with
    extra settings; `farm.logs()` says what they wrote.
    """
    processes = FarmProcesses(env=farm_env(sandbox), log_dir=tmp_path / "farm")
    yield processes
    processes.stop(grace=10)


def wait_until(
    condition: Callable[[], bool], *, timeout: float, interval: float = 0.5, on_timeout: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting. {on_timeout}")
