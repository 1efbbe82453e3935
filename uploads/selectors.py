"""Reads on posts and the queue, always scoped to a caller's workspaces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import django_filters
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.selectors import IdFilter, accounts_needing_attention
from uploads.models import Campaign, PlatformCircuit, Post, PostAttempt, PostStatus


def post_list(*, workspace_ids: list[int]) -> QuerySet[Post]:
    return Post.objects.filter(workspace_id__in=workspace_ids)


def post_detail_list(*, workspace_ids: list[int]) -> QuerySet[Post]:
    """Posts with their attempts loaded in order, for detail pages."""
    return post_list(workspace_ids=workspace_ids).prefetch_related(
        Prefetch("attempts", queryset=PostAttempt.objects.order_by("number", "id"))
    )


def dead_post_list(*, workspace_ids: list[int]) -> QuerySet[Post]:
    """The dead letters: posts whose attempts are used up, with their attempts loaded."""
    return post_detail_list(workspace_ids=workspace_ids).filter(status=PostStatus.DEAD)


def campaign_get(*, campaign_id: int, workspace_id: int) -> Campaign | None:
    return Campaign.objects.filter(pk=campaign_id, workspace_id=workspace_id).first()


def queue_summary(*, workspace_ids: list[int], now: datetime | None = None) -> dict[str, Any]:
    """How the queue of these workspaces stands: posts by status, recent output, troubled accounts.

    Every status is present in `by_status`, with zero when no post is in it.
    """
    now = now or timezone.now()
    posts = post_list(workspace_ids=workspace_ids)
    by_status = dict.fromkeys(PostStatus.values, 0)
    for row in posts.order_by().values("status").annotate(n=Count("id")):
        by_status[row["status"]] = row["n"]
    posted = posts.filter(status=PostStatus.POSTED, posted_at__gt=now - timedelta(days=1))
    recent = posted.aggregate(
        last_day=Count("id"),
        last_hour=Count("id", filter=Q(posted_at__gt=now - timedelta(hours=1))),
    )
    return {
        "by_status": by_status,
        "posted_last_hour": recent["last_hour"],
        "posted_last_day": recent["last_day"],
        "accounts_needing_attention": accounts_needing_attention(
            workspace_ids=workspace_ids
        ).count(),
    }


def circuits_not_closed() -> list[PlatformCircuit]:
    """The platforms paused or probing right now; farm-wide, the same for every workspace."""
    return list(PlatformCircuit.objects.exclude(state=PlatformCircuit.State.CLOSED))


class UtcDateTimeRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    """A range of ISO times, compared in UTC.

    An offset PostgreSQL does not take (past ±15:59, which ISO 8601 allows)
    names the same instant in UTC.
    """

    def filter(self, qs: QuerySet, value: slice | None) -> QuerySet:
        if value:
            start, stop = (
                t.astimezone(UTC) if t is not None else None for t in (value.start, value.stop)
            )
            value = slice(start, stop)
        return super().filter(qs, value)


class PostFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=PostStatus.choices)
    kind = django_filters.ChoiceFilter(choices=Post.Kind.choices)
    workspace = IdFilter(field_name="workspace_id")
    account = IdFilter(field_name="account_id")
    campaign = IdFilter(field_name="campaign_id")
    # `scheduled_for_after` / `scheduled_for_before`, and the same for `created_at`.
    scheduled_for = UtcDateTimeRangeFilter()
    created_at = UtcDateTimeRangeFilter()

    class Meta:
        model = Post
        fields = [
            "status",
            "kind",
            "workspace",
            "account",
            "campaign",
            "scheduled_for",
            "created_at",
        ]
