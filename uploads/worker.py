"""A worker process's wiring for never losing a post.

Each pool process keeps one DriverPool whose heartbeat renews its leases; a
replacement process first frees what a killed one left behind; and on
SIGTERM (Celery's warm shutdown) every process stops taking posts, finishes
the one in hand, or gives it back when it is not done within
FARM_SHUTDOWN_GRACE_SECONDS. `config/celery.py` connects these to Celery's
worker signals (`worker_signals_connect`).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event as ProcessEvent

from celery.signals import (
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_shutting_down,
)
from django.conf import settings
from django.db import connection

from browsers.models import BrowserProfile
from browsers.pool import DriverPool, browsers_reap_orphans
from uploads.messages import publish_messages_send
from uploads.models import Post, PostStatus
from uploads.publishing import post_leases_expire, post_leases_renew

logger = logging.getLogger(__name__)

_pool: DriverPool | None = None
# Set in the main worker process when shutdown starts; made before the pool
# processes fork, so they all see it.
_shutting_down: ProcessEvent | None = None


def _hand_off(profile_id: int) -> None:
    """A browser just closed: whatever its account still has queued needs a new message."""
    account_id = (
        BrowserProfile.objects.filter(pk=profile_id).values_list("account_id", flat=True).first()
    )
    if account_id is None:
        return  # no such profile any more, so no account to hand off for
    waiting = (
        Post.objects.filter(account_id=account_id, status=PostStatus.QUEUED)
        .order_by("-priority", "scheduled_for", "id")
        .values_list("id", flat=True)
        .first()
    )
    if waiting is not None:
        publish_messages_send([waiting])


def worker_pool() -> DriverPool:
    """This process's pool of live browsers (one per prefork child)."""
    global _pool
    if _pool is None:
        _pool = DriverPool(
            on_release=_hand_off, on_heartbeat=lambda holder: post_leases_renew(holder=holder)
        )
    return _pool


def shutting_down() -> bool:
    return _shutting_down is not None and _shutting_down.is_set()


def _make_shutdown_flag(**_: object) -> None:
    global _shutting_down
    _shutting_down = multiprocessing.get_context("fork").Event()


def _raise_shutdown_flag(**_: object) -> None:
    if _shutting_down is not None:
        _shutting_down.set()


def _free_what_dead_processes_left(**_: object) -> None:
    """A pool process starts, maybe in place of one that was killed: tidy up after it."""
    try:
        reaped = browsers_reap_orphans()
        expired = post_leases_expire(holders=reaped.dead_holders)
        if reaped.dead_holders:
            logger.warning(
                "freed %d profile leases and %d post leases of dead processes %s",
                reaped.leases_released,
                expired,
                sorted(reaped.dead_holders),
            )
    except Exception:
        logger.exception("could not free what dead worker processes left behind")
    finally:
        connection.close()  # never share a connection with the processes forked next


def _close_browsers(**_: object) -> None:
    if _pool is not None:
        _pool.close_all()


def _give_back_when_shutting_down(pool: DriverPool, done: threading.Event) -> None:
    """Watch a publish in progress: past the grace after shutdown began, kill its browser.

    The publish then fails fast and records where it got to: before the
    submit, the post waits for a retry; after it, it is verified on the
    platform (posted if there, else `unknown` for the reconciler).
    """
    assert _shutting_down is not None
    while not done.is_set():
        if _shutting_down.wait(timeout=1.0):
            if not done.wait(timeout=settings.FARM_SHUTDOWN_GRACE_SECONDS):
                logger.warning("shutting down: killing a browser still publishing")
                pool.kill_all()
            return


@contextmanager
def shutdown_watch(pool: DriverPool) -> Iterator[None]:
    """Around a publish in a worker: past the grace after shutdown began, kill its browser."""
    done = threading.Event()
    if _shutting_down is not None:  # in a worker, not a test calling the task directly
        threading.Thread(
            target=_give_back_when_shutting_down, args=(pool, done), daemon=True
        ).start()
    try:
        yield
    finally:
        done.set()


def worker_signals_connect() -> None:
    """Connect the handlers above to Celery's worker signals (once per process)."""
    worker_init.connect(_make_shutdown_flag, weak=False, dispatch_uid="farm.shutdown_flag")
    worker_shutting_down.connect(_raise_shutdown_flag, weak=False, dispatch_uid="farm.shutdown")
    worker_process_init.connect(
        _free_what_dead_processes_left, weak=False, dispatch_uid="farm.free_dead"
    )
    worker_process_shutdown.connect(_close_browsers, weak=False, dispatch_uid="farm.close")
