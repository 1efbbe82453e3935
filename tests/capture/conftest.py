"""Sessions opened through the capture services, their files in a folder of the test's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from accounts.models import Workspace
from capture.models import CapturedSession
from capture.services import session_open
from tests.chromium import chromium_open


@pytest.fixture(autouse=True)
def _media_in_tmp(media_in_tmp: Path) -> None:
    """Screenshots and archives of a test go to a folder of its own."""


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
    driver = chromium_open(tmp_path_factory.mktemp("profile"), "--window-size=1200,800")
    yield driver
    driver.quit()
