"""Post writes: creation checks, conditional transitions, cancel and requeue."""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Account, Workspace
from tests.factories import png_upload
from uploads.models import DEFAULT_POST_LIMITS, Post, PostStatus, RateLimitRule
from uploads.services import (
    RowErrors,
    post_cancel,
    post_create,
    post_requeue,
    post_transition,
    posts_bulk_create,
    posts_requeue_dead,
)
from uploads.validation import is_time_zone

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_in_tmp")]


def errors_of(**kwargs: object) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        post_create(**kwargs)  # type: ignore[arg-type]
    return caught.value.message_dict


def test_transition_moves_only_from_the_named_state(workspace: Workspace, account: Account) -> None:
    post = post_create(workspace=workspace, account=account, title="t")
    assert post_transition(post_id=post.pk, from_=PostStatus.SCHEDULED, to=PostStatus.QUEUED)
    # A second actor trying the same move finds the post gone from `scheduled`.
    assert not post_transition(post_id=post.pk, from_=PostStatus.SCHEDULED, to=PostStatus.QUEUED)
    assert Post.objects.get(pk=post.pk).status == PostStatus.QUEUED


def test_bad_posts_name_the_field(
    workspace: Workspace, make_workspace, make_account, account: Account
) -> None:
    assert "title" in errors_of(workspace=workspace, account=account, title="")
    assert "caption" in errors_of(
        workspace=workspace, account=account, title="t", caption="x" * 2201
    )
    assert "media" in errors_of(workspace=workspace, account=account, title="t", kind="image")
    not_image = SimpleUploadedFile("a.png", b"this is not a png")
    assert "media" in errors_of(
        workspace=workspace, account=account, title="t", kind="image", media=not_image
    )
    assert "media" in errors_of(
        workspace=workspace, account=account, title="t", kind="video", media=png_upload("a.png")
    )
    assert "timezone" in errors_of(
        workspace=workspace, account=account, title="t", schedule_timezone="Mars/Olympus"
    )
    assert "scheduled_for" in errors_of(
        workspace=workspace, account=account, title="t", scheduled_for=datetime(2030, 1, 1, 9)
    )
    assert "priority" in errors_of(workspace=workspace, account=account, title="t", priority=11)
    foreign = make_account(make_workspace())
    assert "account" in errors_of(workspace=workspace, account=foreign, title="t")
    assert Post.objects.count() == 0


def test_naive_time_with_a_timezone_is_read_in_that_zone(
    workspace: Workspace, account: Account
) -> None:
    post = post_create(
        workspace=workspace,
        account=account,
        title="t",
        scheduled_for=datetime(2030, 7, 1, 9, 0),
        schedule_timezone="America/New_York",
    )
    post.refresh_from_db()
    assert post.scheduled_for.isoformat() == "2030-07-01T13:00:00+00:00"


def test_image_post_keeps_its_media(workspace: Workspace, account: Account) -> None:
    post = post_create(
        workspace=workspace, account=account, title="t", kind="image", media=png_upload("a.png")
    )
    assert post.media.name is not None
    assert post.media.name.endswith(".png")
    assert post.max_attempts == 4


def test_bulk_is_all_or_nothing_with_errors_per_row(workspace: Workspace, account: Account) -> None:
    rows: list[dict[str, Any] | None] = [
        {"account": account.pk, "title": "good"},
        {"account": account.pk, "title": ""},
        {"account": account.pk, "title": "fine"},
        {"account": 999999, "title": "who"},
    ]
    with pytest.raises(RowErrors) as caught:
        posts_bulk_create(workspace=workspace, rows=rows)
    assert [e["row"] for e in caught.value.rows] == [1, 3]
    assert "title" in caught.value.rows[0]["errors"]
    assert "account" in caught.value.rows[1]["errors"]
    assert Post.objects.count() == 0
    created = posts_bulk_create(workspace=workspace, rows=[rows[0], rows[2]])
    assert len(created) == 2 and Post.objects.count() == 2


def test_bulk_ids_past_any_key_are_no_such_account_not_a_database_error(
    workspace: Workspace, account: Account
) -> None:
    rows: list[dict[str, Any] | None] = [
        {"account": 2**63, "title": "too big"},
        {"account": account.pk, "title": "fine", "campaign": 10**30},
        {"account": True, "title": "a bool is not an id"},
    ]
    with pytest.raises(RowErrors) as caught:
        posts_bulk_create(workspace=workspace, rows=rows)
    assert [(e["row"], list(e["errors"])) for e in caught.value.rows] == [
        (0, ["account"]),
        (1, ["campaign"]),
        (2, ["account"]),
    ]
    assert Post.objects.count() == 0


def test_time_zones_are_the_iana_names() -> None:
    assert is_time_zone("Europe/Paris") and is_time_zone("UTC")
    for name in ("America", "posixrules", "Europe/", "../etc/passwd", "x" * 300, ""):
        assert not is_time_zone(name), name


def test_requeue_dead_moves_only_dead_posts(workspace: Workspace, account: Account) -> None:
    posts = [post_create(workspace=workspace, account=account, title=str(n)) for n in range(3)]
    dead, failed, scheduled = posts
    Post.objects.filter(pk=dead.pk).update(status=PostStatus.DEAD, attempts_count=4)
    Post.objects.filter(pk=failed.pk).update(status=PostStatus.FAILED)

    result = posts_requeue_dead(posts=posts)

    assert result.requeued == [dead.pk]
    assert result.skipped == {
        failed.pk: "The post is failed, not dead.",
        scheduled.pk: "The post is scheduled, not dead.",
    }
    assert [p.status for p in Post.objects.order_by("pk")] == ["scheduled", "failed", "scheduled"]
    assert Post.objects.get(pk=dead.pk).attempts_count == 0


def test_cancel_and_requeue(workspace: Workspace, account: Account) -> None:
    post = post_create(workspace=workspace, account=account, title="t")
    assert not post_requeue(post=post)  # scheduled: nothing to requeue
    assert post_cancel(post=post)
    assert not post_cancel(post=post)
    assert post_requeue(post=post)
    Post.objects.filter(pk=post.pk).update(status=PostStatus.DEAD, attempts_count=4)
    assert post_requeue(post=post)
    post.refresh_from_db()
    assert (post.status, post.attempts_count) == (PostStatus.SCHEDULED, 0)
    Post.objects.filter(pk=post.pk).update(status=PostStatus.PUBLISHING)
    assert not post_cancel(post=post)  # a worker is on it


def test_shipped_limits_match_the_platforms_posted_ones() -> None:
    # Run the data migration itself: a transactional test elsewhere may have flushed its rows.
    migration = importlib.import_module("uploads.migrations.0002_default_rate_limits")
    RateLimitRule.objects.all().delete()
    migration.add_defaults(django_apps, None)
    rules = {
        r.platform: (r.per_hour, r.per_day) for r in RateLimitRule.objects.filter(action="post")
    }
    assert rules["tiktok"] == (3, 10)
    assert rules["instagram"] == (5, 15)
    assert rules["youtube"] == (5, 20)
    assert rules["x"] == (10, 50)
    assert rules["reddit"] == (2, 10)
    # The dispatcher's fallback for a missing row says the same.
    assert rules == DEFAULT_POST_LIMITS
