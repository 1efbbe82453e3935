"""Builders of captured events and sessions for the capture tests."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from accounts.models import Workspace
from capture.models import CapturedSession, Interaction
from capture.services import session_open


def target_of(event: Interaction) -> dict[str, Any]:
    """The element an event acted on, which the test expects it to have."""
    assert event.target is not None, event.kind
    return event.target


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    """Screenshots and archives of a test go to a folder of its own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


def make_event(sequence: int, **fields: Any) -> dict[str, Any]:
    """A well-formed click event, as the recorder sends it."""
    event: dict[str, Any] = {
        "sequence": sequence,
        "timestamp_ms": 1_732_400_000_000 + sequence * 1500,
        "kind": "click",
        "url": "http://127.0.0.1:8000/sandbox/upload/",
        "title": "Upload",
        "value": None,
        "masked": False,
        "masked_kinds": [],
        "target": {
            "tag": "button",
            "text": f"Step {sequence}",
            "role": "button",
            "name": f"Step {sequence}",
            "attributes": {"data-testid": f"step-{sequence}", "type": "button"},
            "bbox": {"x": 10, "y": 200, "width": 80, "height": 32},
            "selectors": [
                {
                    "kind": "testid",
                    "value": f'[data-testid="step-{sequence}"]',
                    "score": 1.0,
                    "unique": True,
                },
                {"kind": "css", "value": "form > button", "score": 0.4, "unique": False},
            ],
            "nearby": [{"tag": "input", "text": "", "role": "textbox", "name": "Title"}],
            "dom_snippet": f'<form><button data-testid="step-{sequence}">Step</button></form>',
        },
        "scroll": None,
        "found_in_dom": True,
        "dom_changed": True,
    }
    event.update(fields)
    return event


def png_bytes(width: int = 32, height: int = 24, color: str = "red", fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture
def make_session(workspace: Workspace) -> Callable[..., CapturedSession]:
    def make(**fields: Any) -> CapturedSession:
        fields.setdefault("workspace", workspace)
        fields.setdefault("kind", CapturedSession.Kind.HUMAN)
        fields.setdefault("start_url", "http://127.0.0.1:8000/sandbox/upload/")
        fields.setdefault("task", "Upload a video")
        return session_open(**fields)

    return make


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """One headless Chromium per test module, for the recorder script's tests."""
    options = Options()
    options.binary_location = django_settings.FARM_CHROMIUM_BINARY
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--window-size=1200,800",
        f"--user-data-dir={tmp_path_factory.mktemp('profile')}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        service=Service(executable_path=django_settings.FARM_CHROMEDRIVER_PATH), options=options
    )
    yield driver
    driver.quit()
