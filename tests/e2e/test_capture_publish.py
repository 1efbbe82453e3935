"""Recording publish runs: failures are recorded too, and capture never stops a post."""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import pytest
from PIL import Image
from pytest_django.fixtures import Settings
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chromium.webdriver import ChromiumDriver

from capture import recorder
from capture.models import CapturedSession
from tests.e2e.conftest import PublishNewPost
from tests.factories import target_of
from uploads.models import PostAttempt, PostStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rejected_post_is_recorded_up_to_the_platforms_answer(
    publish_new_post: PublishNewPost,
) -> None:
    _, post = publish_new_post("rita", "Spam?", reject_reason="No links allowed")
    assert post.status == PostStatus.FAILED

    session = CapturedSession.objects.get(attempt=PostAttempt.objects.get(post=post))
    assert session.state != CapturedSession.State.RECORDING
    assert session.task == 'Publish a text post titled "Spam?" on sandbox as @rita'
    assert session.ended_at is not None
    events = list(session.interactions.order_by("sequence"))
    submit_click = [e for e in events if e.kind == "click"][-1]
    assert target_of(submit_click)["attributes"]["data-testid"] == "upload-submit"
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
    publish_new_post: PublishNewPost,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = tmp_path / "recorder.js"
    broken.write_text("this is not ( javascript")
    monkeypatch.setattr(recorder, "RECORDER_PATH", broken)
    recorder.recorder_source.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="uploads.recording"):
            _, post = publish_new_post("sam", "Still goes out")
    finally:
        recorder.recorder_source.cache_clear()

    assert post.status == PostStatus.POSTED
    assert "could not start recording" in caplog.text
    # The session opened for the attempt is closed, not left recording, and holds nothing.
    session = CapturedSession.objects.get(attempt=PostAttempt.objects.get(post=post))
    assert session.state == CapturedSession.State.REJECTED
    assert session.events_count == 0


def test_capture_can_be_turned_off(publish_new_post: PublishNewPost, settings: Settings) -> None:
    settings.CAPTURE_PUBLISH_RUNS = False
    _, post = publish_new_post("tom", "Unrecorded")
    assert post.status == PostStatus.POSTED
    assert not CapturedSession.objects.exists()


def test_without_cdp_a_run_is_still_recorded(
    publish_new_post: PublishNewPost, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A remote node may not pass CDP through: the recorder is put in after each
    # page load instead, and screenshots come as PNG, stored as WebP.
    refused: list[str] = []
    real = ChromiumDriver.execute_cdp_cmd

    def no_page_domain(self: ChromiumDriver, cmd: str, cmd_args: dict) -> dict:
        if cmd.startswith("Page."):
            refused.append(cmd)
            raise WebDriverException(f"unknown command: {cmd}")
        return real(self, cmd, cmd_args)

    monkeypatch.setattr(ChromiumDriver, "execute_cdp_cmd", no_page_domain)
    _, post = publish_new_post("remy", "Through a grid")
    assert post.status == PostStatus.POSTED
    assert "Page.addScriptToEvaluateOnNewDocument" in refused
    assert "Page.captureScreenshot" not in refused  # not asked once CDP was found missing

    session = CapturedSession.objects.get(attempt=PostAttempt.objects.get(post=post))
    assert session.state == CapturedSession.State.ACCEPTED, session.rejection_reason
    last_click = session.interactions.filter(kind="click").order_by("sequence").last()
    assert last_click is not None
    assert target_of(last_click)["attributes"]["data-testid"] == "upload-submit"
    shot = session.screenshots.order_by("-pk").first()
    assert shot is not None
    assert Image.open(io.BytesIO(shot.image.read())).format == "WEBP"
