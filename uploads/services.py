"""Writes on posts: create, cancel, requeue, and the state transitions.

Every transition is one conditional UPDATE that names the state it leaves;
it counts only when exactly one row changed, so two actors can never both
move the same post.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Workspace
from core.errors import RowErrors, ServiceError
from uploads.models import DISPATCHABLE, Campaign, Post, PostStatus
from uploads.validation import aware_schedule, post_errors

BULK_MAX_ROWS = 1000
# Ids beyond a 64-bit key cannot exist, and some databases fail on them instead of matching nothing.
_MAX_ID = 2**63 - 1


def _is_id(value: Any) -> bool:
    # `type(...) is int`: True and False are ints too, and would find rows 1 and 0.
    return type(value) is int and 0 < value <= _MAX_ID


def _ids(values: set[Any]) -> list[int]:
    return [v for v in values if _is_id(v)]


def post_transition(*, post_id: int, from_: str | tuple[str, ...], to: str, **fields: Any) -> bool:
    """Move a post from one state (or any of several) to another; True if it moved."""
    sources = (from_,) if isinstance(from_, str) else tuple(from_)
    return (
        Post.objects.filter(pk=post_id, status__in=sources).update(
            status=to, updated_at=timezone.now(), **fields
        )
        == 1
    )


def post_create(
    *,
    workspace: Workspace,
    account: Account | None,
    title: str,
    caption: str = "",
    kind: str = Post.Kind.TEXT,
    media: UploadedFile | None = None,
    priority: int = 5,
    scheduled_for: datetime | None = None,
    schedule_timezone: str | None = None,
    campaign: Campaign | None = None,
    max_attempts: int | None = None,
) -> Post:
    errors = post_errors(
        workspace=workspace,
        account=account,
        kind=kind,
        title=title,
        caption=caption,
        media=media,
        scheduled_for=scheduled_for,
        schedule_timezone=schedule_timezone,
        priority=priority,
    )
    if campaign is not None and campaign.workspace_id != workspace.pk:
        errors["campaign"] = ["No such campaign in this workspace."]
    if errors:
        raise ServiceError(errors)
    assert account is not None  # post_errors reports a missing account
    return Post.objects.create(
        workspace=workspace,
        account=account,
        campaign=campaign,
        kind=kind,
        title=title,
        caption=caption,
        media=media or "",
        priority=priority,
        scheduled_for=aware_schedule(scheduled_for, schedule_timezone),
        max_attempts=max_attempts or settings.FARM_MAX_ATTEMPTS,
    )


@dataclass
class BulkResult:
    posts: list[Post] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def posts_bulk_create(
    *,
    workspace: Workspace,
    rows: list[dict[str, Any] | None],
    known_errors: dict[int, dict[str, Any]] | None = None,
) -> list[Post]:
    """Create text posts from rows, all or nothing; errors name each bad row.

    `known_errors` are problems the caller already found (a row it could not
    even parse is given as None): they are reported beside the rule checks of
    the other rows, so one answer lists every bad row.
    """
    known_errors = known_errors or {}
    if not rows:
        raise RowErrors([{"row": None, "errors": {"posts": ["No rows given."]}}])
    if len(rows) > BULK_MAX_ROWS:
        raise RowErrors(
            [{"row": None, "errors": {"posts": [f"At most {BULK_MAX_ROWS} rows a call."]}}]
        )
    parsed = [row for row in rows if row is not None]
    accounts = Account.objects.filter(
        workspace=workspace, pk__in=_ids({row.get("account") for row in parsed})
    ).in_bulk()
    campaigns = Campaign.objects.filter(
        workspace=workspace, pk__in=_ids({row.get("campaign") for row in parsed})
    ).in_bulk()
    errors: list[dict[str, Any]] = []
    prepared: list[Post] = []
    for index, row in enumerate(rows):
        if row is None or index in known_errors:
            errors.append({"row": index, "errors": known_errors.get(index, {})})
            continue
        account = accounts.get(row["account"]) if _is_id(row.get("account")) else None
        row_errors = post_errors(
            workspace=workspace,
            account=account,
            kind=row.get("kind", Post.Kind.TEXT),
            title=row.get("title", ""),
            caption=row.get("caption", ""),
            scheduled_for=row.get("scheduled_for"),
            schedule_timezone=row.get("timezone"),
            priority=row.get("priority", 5),
        )
        campaign = None
        if row.get("campaign") is not None:
            campaign = campaigns.get(row["campaign"]) if _is_id(row["campaign"]) else None
            if campaign is None:
                row_errors["campaign"] = ["No such campaign in this workspace."]
        if row_errors:
            errors.append({"row": index, "errors": row_errors})
            continue
        prepared.append(
            Post(
                workspace=workspace,
                account=account,
                campaign=campaign,
                kind=row.get("kind", Post.Kind.TEXT),
                title=row["title"],
                caption=row.get("caption", ""),
                priority=row.get("priority", 5),
                scheduled_for=aware_schedule(row.get("scheduled_for"), row.get("timezone")),
                max_attempts=settings.FARM_MAX_ATTEMPTS,
            )
        )
    if errors:
        raise RowErrors(errors)
    with transaction.atomic():
        return Post.objects.bulk_create(prepared, batch_size=500)


def post_cancel(*, post: Post) -> bool:
    """Cancel a post that no worker has started on."""
    moved = post_transition(
        post_id=post.pk,
        from_=(*DISPATCHABLE, PostStatus.QUEUED),
        to=PostStatus.CANCELLED,
        lease_holder="",
        lease_until=None,
    )
    if moved:
        post.status = PostStatus.CANCELLED
    return moved


REQUEUABLE = (PostStatus.DEAD, PostStatus.FAILED, PostStatus.CANCELLED)


def post_requeue(*, post: Post, from_: tuple[str, ...] = REQUEUABLE) -> bool:
    """Give a dead, failed or cancelled post a fresh set of attempts.

    The attempts count starts again from zero; the publish token and the
    dispatch count stay, so the next dispatch first asks the platform whether
    an earlier try got through.
    """
    moved = post_transition(
        post_id=post.pk,
        from_=from_,
        to=PostStatus.SCHEDULED,
        attempts_count=0,
        next_attempt_at=None,
        scheduled_for=timezone.now(),
        last_error="",
    )
    if moved:
        post.status = PostStatus.SCHEDULED
    return moved


@dataclass
class RequeueResult:
    requeued: list[int] = field(default_factory=list)
    # Post id -> why it was left alone.
    skipped: dict[int, str] = field(default_factory=dict)


def posts_requeue_dead(*, posts: Iterable[Post]) -> RequeueResult:
    """Requeue the dead posts among these, each on its own; say why any other was left alone."""
    result = RequeueResult()
    for post in posts:
        if post_requeue(post=post, from_=(PostStatus.DEAD,)):
            result.requeued.append(post.pk)
            continue
        # Read again: the state that refused the move may be newer than the one given.
        status = Post.objects.filter(pk=post.pk).values_list("status", flat=True).first()
        result.skipped[post.pk] = (
            f"The post is {PostStatus(status).label.lower()}, not dead."
            if status
            else "The post no longer exists."
        )
    return result
