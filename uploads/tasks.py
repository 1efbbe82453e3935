"""Celery tasks: thin wrappers that load by primary key and call a service."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import Reject
from django.conf import settings

from uploads.dispatcher import posts_dispatch, queued_posts_resend
from uploads.publishing import post_publish, posts_reap_expired_leases, posts_reconcile_unknown
from uploads.worker import shutdown_watch, shutting_down, worker_pool

logger = logging.getLogger(__name__)


@shared_task(
    ignore_result=True,
    acks_late=True,
    soft_time_limit=settings.FARM_PUBLISH_SOFT_TIME_LIMIT,
    time_limit=settings.FARM_PUBLISH_TIME_LIMIT,
)
def publish_post(post_id: int) -> None:
    if shutting_down():
        # A broker may still hand a stopping worker a message (the filesystem
        # transport polls on through a warm shutdown): give it back untouched
        # for the next worker rather than start a post now.
        raise Reject("the worker is shutting down", requeue=True)
    pool = worker_pool()
    with shutdown_watch(pool):
        outcomes = post_publish(post_id=post_id, pool=pool, should_stop=shutting_down)
    for outcome in outcomes:
        logger.info("post %s -> %s", outcome.post_id, outcome.status)


@shared_task(ignore_result=True)
def dispatch_due_posts() -> int:
    """Beat's heartbeat for the queue: reap lost leases, reconcile, resend, dispatch."""
    posts_reap_expired_leases()
    posts_reconcile_unknown()
    queued_posts_resend()
    return posts_dispatch()
