"""A superuser's console, and a farm with one of everything to look at."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image
from pytest_django.fixtures import Settings

from accounts.models import Account, Workspace
from accounts.services import account_set_cookies
from browsers.models import BrowserProfile
from core.beat import BEAT_LOCK, scheduler_lock_hold
from monitoring.models import Alert
from monitoring.services import alert_raise
from uploads.models import Campaign, PlatformCircuit, Post, PostAttempt, PostStatus, RateLimitRule
from uploads.services import post_create

COOKIE_SECRET = "cookie-secret-1"
PROXY_SECRET = "proxy-secret-1"
SECRETS = ("pw-secret-1", COOKIE_SECRET, PROXY_SECRET)


@pytest.fixture(autouse=True)
def _fast_hashing_and_media(settings: Settings, tmp_path: Path) -> None:
    # The real hasher is deliberately slow; these tests check the console, not hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"


def set_status(post: Post, status: str, **fields: object) -> None:
    """Put a post in a state for a test (the flow that gets it there is tested elsewhere)."""
    Post.objects.filter(pk=post.pk).update(status=status, **fields)
    post.refresh_from_db()


@pytest.fixture
def make_post(db: None) -> Callable[..., Post]:
    def make(account: Account, status: str = PostStatus.SCHEDULED, **fields: object) -> Post:
        post = post_create(
            workspace=account.workspace, account=account, title=str(fields.pop("title", "Hello"))
        )
        if status != PostStatus.SCHEDULED or fields:
            set_status(post, status, **fields)
        return post

    return make


def webp_bytes() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "WEBP")
    return buffer.getvalue()


def capture_objects_create(*, workspace: Workspace, account: Account, attempt: PostAttempt) -> None:
    """One of each capture model: a closed session with an event, a screenshot and a token."""
    from capture.services import (
        capture_settings_get,
        ingest_token_create,
        session_close,
        session_events_append,
        session_open,
        session_screenshot_add,
    )
    from tests.capture.conftest import make_event, png_bytes

    capture_settings_get(workspace=workspace)
    token, _ = ingest_token_create(workspace=workspace, name="alice's browser")
    session = session_open(
        workspace=workspace, kind="automated", account=account, attempt=attempt, token=token
    )
    session_events_append(session=session, events=[make_event(1)])
    session_screenshot_add(session=session, image_bytes=png_bytes(), sequence=1)
    session_close(session=session)


def training_objects(workspace: Workspace) -> None:
    """A finished export with its files and warnings, and a schedule with its beat entry."""
    from training.models import Export, ExportSchedule
    from training.services import export_schedule_save

    schedule = export_schedule_save(
        schedule=ExportSchedule(workspace=workspace, name="Nightly", kinds=["human"])
    )
    export = Export.objects.create(
        workspace=workspace,
        schedule=schedule,
        state=Export.State.READY,
        sessions_total=12,
        sessions_done=12,
        sessions_count=12,
        examples_count=72,
        train_count=66,
        validation_count=6,
        warnings=[{"code": "no_target", "message": "1 action(s) had no target element"}],
    )
    export.train_file.save("train.jsonl", ContentFile(b"{}\n"), save=False)
    export.validation_file.save("validation.jsonl", ContentFile(b"{}\n"))


@dataclass
class Farm:
    workspace: Workspace
    account: Account
    profile: BrowserProfile
    campaign: Campaign
    post: Post
    attempt: PostAttempt
    alert: Alert


@pytest.fixture
def farm(
    workspace: Workspace, make_account: Callable[..., Account], make_post: Callable[..., Post]
) -> Farm:
    account = make_account(workspace, handle="alice")
    account_set_cookies(account=account, cookies=[{"name": "sid", "value": COOKIE_SECRET}])
    BrowserProfile.objects.filter(account=account).update(
        proxy={"url": f"http://proxyuser:{PROXY_SECRET}@proxy.example:3128"}
    )
    # Migrations ship the rules, but a transactional test elsewhere may have flushed them.
    RateLimitRule.objects.get_or_create(
        platform="sandbox", action="post", defaults={"per_hour": 100, "per_day": 1000}
    )
    # Circuits appear with a platform's first infrastructure failure.
    PlatformCircuit.objects.get_or_create(platform="sandbox", defaults={"consecutive_failures": 1})
    campaign = Campaign.objects.create(workspace=workspace, name="Spring")
    post = make_post(account, PostStatus.FAILED, title="First post", last_error="Rejected")
    Post.objects.filter(pk=post.pk).update(campaign=campaign)
    now = timezone.now()
    attempt = PostAttempt.objects.create(
        post=post,
        account=account,
        number=1,
        dispatched_at=now - timedelta(minutes=2),
        started_at=now - timedelta(minutes=1),
        finished_at=now,
        outcome=PostAttempt.Outcome.ERROR,
        error_kind="rejected",
        message="The platform rejected the post.",
    )
    attempt.screenshot.save("shot.webp", ContentFile(webp_bytes()))
    alert = alert_raise(
        workspace=workspace, account=account, kind=Alert.Kind.POST_REJECTED, message="Rejected"
    )
    capture_objects_create(workspace=workspace, account=account, attempt=attempt)
    # A beat holds its lock, as in a running farm.
    scheduler_lock_hold(name=BEAT_LOCK, holder="beat-host:1", seconds=30)
    training_objects(workspace)
    return Farm(
        workspace=workspace,
        account=account,
        profile=BrowserProfile.objects.get(account=account),
        campaign=campaign,
        post=post,
        attempt=attempt,
        alert=alert,
    )
