"""Posts whose outcome is unknown: the platform, asked by publish token, decides."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from accounts.services import account_record_success
from uploads.models import Post, PostStatus
from uploads.publishing.outcomes import post_verify_quietly
from uploads.services import post_transition


def posts_reconcile_unknown(*, limit: int = 200) -> dict[str, int]:
    """Ask the platform about each `unknown` post: posted if it is there, else back to the queue.

    "Not there" counts only once the post has been unknown for
    FARM_UNKNOWN_SETTLE_SECONDS: an upload the platform is still processing
    would otherwise be sent a second time.
    """
    counts = {"posted": 0, "scheduled": 0, "still_unknown": 0}
    settled_before = timezone.now() - timedelta(seconds=settings.FARM_UNKNOWN_SETTLE_SECONDS)
    posts = (
        Post.objects.filter(status=PostStatus.UNKNOWN)
        .select_related("account")
        .order_by("updated_at")[:limit]
    )
    for post in posts:
        check = post_verify_quietly(post)
        if check is None:
            counts["still_unknown"] += 1
            continue
        if check.found:
            if post_transition(
                post_id=post.pk,
                from_=PostStatus.UNKNOWN,
                to=PostStatus.POSTED,
                platform_post_id=check.platform_post_id,
                platform_url=check.url,
                posted_at=timezone.now(),
                attempts_count=F("attempts_count") + 1,
                last_error="",
            ):
                account_record_success(account_id=post.account_id)
                counts["posted"] += 1
        elif post.updated_at > settled_before:
            counts["still_unknown"] += 1
        elif post_transition(
            post_id=post.pk,
            from_=PostStatus.UNKNOWN,
            to=PostStatus.SCHEDULED,
            next_attempt_at=None,
            last_error="not found on the platform after a lost lease; publishing again",
        ):
            counts["scheduled"] += 1
    return counts
