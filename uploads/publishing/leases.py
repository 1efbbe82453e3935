"""Who holds a `publishing` post: a lease (holder `host:pid`, `lease_until`).

A worker claims a queued post with a conditional UPDATE, leaves
`publishing` only while it still holds the lease, and renews the leases of
the posts in its hands from the pool's heartbeat. A post whose worker
vanished sees its lease run out and is reaped into `unknown`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from uploads.models import Post, PostAttempt, PostStatus
from uploads.services import post_transition

logger = logging.getLogger(__name__)


def post_claim(post_id: int, holder: str) -> bool:
    """queued -> publishing for this holder; False when someone else got there first."""
    now = timezone.now()
    return post_transition(
        post_id=post_id,
        from_=PostStatus.QUEUED,
        to=PostStatus.PUBLISHING,
        lease_holder=holder,
        lease_until=now + timedelta(seconds=settings.FARM_PUBLISH_LEASE_SECONDS),
    )


def post_leave_publishing(post_id: int, holder: str, to: str, **fields: object) -> bool:
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


# The posts this process is publishing right now. The heartbeat renews only
# these: a post left in `publishing` by a crashed task must see its lease run out.
_in_hand: set[int] = set()
_in_hand_lock = threading.Lock()


@contextmanager
def post_in_hand(post_id: int) -> Iterator[None]:
    """Mark a post as being published by this process, for the heartbeat."""
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


def posts_reap_expired_leases(*, now: datetime | None = None) -> int:
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
