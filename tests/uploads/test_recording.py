"""A publish run's recording takes what the page returns as untrusted input."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from capture.models import CapturedSession, Interaction
from capture.services import session_open
from tests.factories import make_event, png_bytes
from uploads.recording import _DRAIN, _STOP_AND_DRAIN, PublishRecording


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


class PageDriver(WebDriver):
    """A driver whose page answers each drain with what the test gives it; no CDP."""

    def __init__(self, drains: list[Any]) -> None:  # no browser behind it
        self.drains = drains

    def execute_script(self, script: str, *args: Any) -> Any:
        if script in (_DRAIN, _STOP_AND_DRAIN):
            return self.drains.pop(0) if self.drains else None
        return None  # the recorder's bootstrap

    def execute_cdp_cmd(self, cmd: str, cmd_args: dict) -> dict:
        raise WebDriverException("no CDP here")

    def get_screenshot_as_png(self) -> bytes:
        return png_bytes()


def _recording(workspace, drains: list[Any]) -> PublishRecording:
    session = session_open(workspace=workspace, kind=CapturedSession.Kind.AUTOMATED)
    recording = PublishRecording(driver=PageDriver(drains), session=session, allow_list=[])
    recording.install()
    return recording


@pytest.mark.django_db
def test_what_the_page_returns_is_checked_like_the_api_and_bad_events_dropped(
    workspace, caplog
) -> None:
    huge = make_event(0, value="a" * 20_000 + "@!")
    nested = make_event(0)
    nested["target"]["nearby"] = [{"tag": "a", "nearby": [{"tag": "b"}]}]
    drained = [
        make_event(0),
        "not an event",
        None,
        {**make_event(0), "kind": ["click"]},
        huge,
        make_event(0, scroll={"x": 0, "y": 1e300}),
        nested,
        {**make_event(0), "target": {"tag": "a", "dom_snippet": "<a>" * 5000}},
        make_event(0, kind="submit"),
    ]
    recording = _recording(workspace, [drained, [make_event(0), 42]])
    with caplog.at_level(logging.WARNING, logger="uploads.recording"):
        recording.checkpoint(screenshot=False)
        assert recording.active, caplog.text
        recording.finish(failed=False, browser_usable=True)

    rows = list(Interaction.objects.filter(session=recording.session).order_by("sequence"))
    # Numbered by the run in the order drained, objects only: 0..6 and 7 in the second drain.
    assert [(r.sequence, r.kind) for r in rows] == [(0, "click"), (6, "submit"), (7, "click")]
    assert recording.events_stored == 3
    assert "2 of the 9 events the page returned are not objects" in caplog.text
    assert "5 events dropped, refused by the ingest checks" in caplog.text
    assert "1 of the 2 events" in caplog.text
    session = CapturedSession.objects.get(pk=recording.session.pk)
    assert session.state in (CapturedSession.State.ACCEPTED, CapturedSession.State.REJECTED)
    assert session.events_count == 3


@pytest.mark.django_db
@pytest.mark.parametrize("answer", ["a string", {"events": []}, 42])
def test_a_drain_that_is_not_a_list_is_dropped(workspace, caplog, answer: Any) -> None:
    recording = _recording(workspace, [answer, [make_event(0)]])
    with caplog.at_level(logging.WARNING, logger="uploads.recording"):
        recording.checkpoint(screenshot=False)
        recording.checkpoint(screenshot=False)
    assert recording.active
    assert "not a list of events; dropped" in caplog.text
    assert recording.events_stored == 1


@pytest.mark.django_db
def test_a_full_session_stops_the_recording_not_the_run(workspace, settings, caplog) -> None:
    settings.CAPTURE_MAX_EVENTS_PER_SESSION = 5
    recording = _recording(workspace, [[make_event(0) for _ in range(8)]])
    with caplog.at_level(logging.WARNING, logger="uploads.recording"):
        recording.checkpoint(screenshot=False)
        recording.finish(failed=False, browser_usable=True)
    assert not recording.active
    assert "may hold at most 5" in caplog.text
    assert Interaction.objects.filter(session=recording.session).count() == 0
