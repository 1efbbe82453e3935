"""Recording publish runs: failures are recorded too, and capture never stops a post."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from pytest_django.fixtures import Settings

from accounts.models import Workspace
from browsers.pool import DriverPool
from capture import recording
from capture.models import CapturedSession
from uploads.models import PostAttempt, PostStatus
from uploads.services import post_create

from .test_publish import queue_and_publish

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rejected_post_is_recorded_up_to_the_platforms_answer(
    sandbox: str, workspace: Workspace, sandbox_account: Callable[..., tuple], pool: DriverPool
) -> None:
    account, _ = sandbox_account(workspace, "rita", reject_reason="No links allowed")
    post = post_create(workspace=workspace, account=account, title="Spam?")
    (post,) = queue_and_publish(pool, post)
    assert post.status == PostStatus.FAILED

    session = CapturedSession.objects.get(attempt=PostAttempt.objects.get(post=post))
    assert session.state != CapturedSession.State.RECORDING
    assert session.task == 'Publish a text post titled "Spam?" on sandbox as @rita'
    assert session.ended_at is not None
    events = list(session.interactions.order_by("sequence"))
    submit_click = [e for e in events if e.kind == "click"][-1]
    assert submit_click.target["attributes"]["data-testid"] == "upload-submit"
    # The page the run ended on, the rejection, is kept as the last screenshot.
    last = session.screenshots.order_by("-pk").first()
    assert last is not None and last.sequence == events[-1].sequence
    assert events[-1].kind == "navigate"
    data = last.image.read()
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    assert image.size == (last.width, last.height)
    assert (last.width, last.height) == (session.viewport_width, session.viewport_height)
    assert last.sha256 == hashlib.sha256(data).hexdigest()


def test_a_broken_recorder_never_stops_a_post(
    sandbox: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    pool: DriverPool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = tmp_path / "recorder.js"
    broken.write_text("this is not ( javascript")
    monkeypatch.setattr(recording, "RECORDER_PATH", broken)
    recording.recorder_source.cache_clear()
    account, _ = sandbox_account(workspace, "sam")
    post = post_create(workspace=workspace, account=account, title="Still goes out")
    try:
        with caplog.at_level(logging.WARNING, logger="capture.recording"):
            (post,) = queue_and_publish(pool, post)
    finally:
        recording.recorder_source.cache_clear()

    assert post.status == PostStatus.POSTED
    assert "could not start recording" in caplog.text
    # The session opened for the attempt is closed, not left recording, and holds nothing.
    session = CapturedSession.objects.get(attempt=PostAttempt.objects.get(post=post))
    assert session.state == CapturedSession.State.REJECTED
    assert session.events_count == 0


def test_capture_can_be_turned_off(
    sandbox: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    pool: DriverPool,
    settings: Settings,
) -> None:
    settings.CAPTURE_PUBLISH_RUNS = False
    account, _ = sandbox_account(workspace, "tom")
    post = post_create(workspace=workspace, account=account, title="Unrecorded")
    (post,) = queue_and_publish(pool, post)
    assert post.status == PostStatus.POSTED
    assert not CapturedSession.objects.exists()
