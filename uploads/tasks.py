"""Celery tasks: thin wrappers that load by primary key and call a service."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_process_shutdown
from django.conf import settings

from browsers.models import BrowserProfile
from browsers.pool import DriverPool
from uploads.dispatcher import posts_dispatch, publish_messages_send, queued_posts_resend
from uploads.models import Post, PostStatus
from uploads.publishing import post_publish, posts_reap_expired_leases, posts_reconcile_unknown

logger = logging.getLogger(__name__)

_pool: DriverPool | None = None


def _hand_off(profile_id: int) -> None:
    """A browser just closed: whatever its account still has queued needs a new message."""
    account_id = (
        BrowserProfile.objects.filter(pk=profile_id).values_list("account_id", flat=True).first()
    )
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
        _pool = DriverPool(on_release=_hand_off)
    return _pool


@worker_process_shutdown.connect
def _close_browsers(**_: object) -> None:
    if _pool is not None:
        _pool.close_all()


@shared_task(
    ignore_result=True,
    acks_late=True,
    soft_time_limit=settings.FARM_PUBLISH_SOFT_TIME_LIMIT,
    time_limit=settings.FARM_PUBLISH_TIME_LIMIT,
)
def publish_post(post_id: int) -> None:
    outcomes = post_publish(post_id=post_id, pool=worker_pool())
    for outcome in outcomes:
        logger.info("post %s -> %s", outcome.post_id, outcome.status)


@shared_task(ignore_result=True)
def dispatch_due_posts() -> int:
    """Beat's heartbeat for the queue: reap lost leases, reconcile, resend, dispatch."""
    posts_reap_expired_leases()
    posts_reconcile_unknown()
    queued_posts_resend()
    return posts_dispatch()
