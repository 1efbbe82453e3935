"""Captured sessions recorded through the capture services, as the farm records them."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from accounts.models import Workspace
from capture.models import CapturedSession
from tests.factories import record_session


@pytest.fixture(autouse=True)
def _media_and_tmp(media_in_tmp: Path, settings: Settings, tmp_path: Path) -> None:
    settings.FARM_EXPORT_TMP_DIR = tmp_path / "export-tmp"


@pytest.fixture
def record(workspace: Workspace) -> Callable[..., CapturedSession]:
    """Record a session through the capture services; accepted whatever its score.

    In the test's workspace unless another is named (`workspace=`).
    """
    return functools.partial(record_session, workspace=workspace)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


class SentBuilds(list[int]):
    """The export ids sent to the worker, collected here instead of sent.

    The send waits for the transaction's commit, which a test's never makes:
    what runs inside `committing()` has its on-commit work done as it ends.
    """

    def __init__(self, capture_on_commit: Callable[..., AbstractContextManager[object]]) -> None:
        super().__init__()
        self._capture_on_commit = capture_on_commit

    def committing(self) -> AbstractContextManager[object]:
        return self._capture_on_commit(execute=True)


@pytest.fixture
def sent_builds(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Callable[..., Any]
) -> SentBuilds:
    from training.tasks import build_export

    sent = SentBuilds(django_capture_on_commit_callbacks)
    monkeypatch.setattr(build_export, "delay", sent.append)
    return sent
