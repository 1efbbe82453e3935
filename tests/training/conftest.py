"""Captured sessions recorded through the capture services, as the farm records them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from accounts.models import Workspace
from capture.models import CapturedSession, CaptureSettings
from capture.services import session_close, session_events_append, session_open

BASE = "http://127.0.0.1:8000/sandbox"


def element(
    tag: str,
    name: str,
    testid: str | None = None,
    *,
    role: str | None = None,
    text: str = "",
    attributes: dict[str, Any] | None = None,
    nearby: list[dict[str, Any]] | None = None,
    snippet: str = "",
) -> dict[str, Any]:
    selectors = []
    if testid:
        selectors.append(
            {"kind": "testid", "value": f'[data-testid="{testid}"]', "score": 1.0, "unique": True}
        )
    selectors.append({"kind": "css", "value": f"form {tag}", "score": 0.4, "unique": False})
    return {
        "tag": tag,
        "text": text,
        "role": role or {"button": "button", "input": "textbox", "select": "combobox"}.get(tag),
        "name": name,
        "attributes": {**({"data-testid": testid} if testid else {}), **(attributes or {})},
        "bbox": {"x": 10, "y": 20, "width": 80, "height": 30},
        "selectors": selectors,
        "nearby": nearby or [],
        "dom_snippet": snippet or f"<form><{tag}>{text}</{tag}></form>",
    }


TITLE = element("input", "Title", "title-input", attributes={"name": "title"})
VISIBILITY = element("select", "Visibility", "visibility")
PUBLISH = element(
    "button",
    "Publish",
    "upload-submit",
    text="Publish",
    attributes={"type": "submit"},
    nearby=[
        {"tag": "input", "text": "", "role": "textbox", "name": "Title"},
        {
            "tag": "a",
            "text": "Cancel",
            "role": "link",
            "name": "Cancel",
            "selectors": [{"kind": "text", "value": "text=Cancel", "score": 0.7, "unique": True}],
        },
    ],
    snippet='<form><button data-testid="upload-submit">Publish</button></form>',
)
FORM = element("form", "Upload", None, role="form")


def upload_events(title: str = "Holiday clip") -> list[dict[str, Any]]:
    """A person uploads a video on the sandbox: 6 actions after landing on the page."""
    base = {"masked": False, "masked_kinds": [], "scroll": None, "found_in_dom": True}
    rows: list[dict[str, Any]] = [
        {"kind": "navigate", "url": f"{BASE}/upload/", "title": "Upload", "target": None},
        {"kind": "click", "target": TITLE},
        {"kind": "input", "target": TITLE, "value": title[:3]},
        {"kind": "input", "target": TITLE, "value": title},
        {"kind": "click", "target": VISIBILITY},
        {"kind": "input", "target": VISIBILITY, "value": "public"},
        {"kind": "scroll", "target": None, "scroll": {"x": 0, "y": 400}},
        {"kind": "click", "target": PUBLISH},
        {"kind": "submit", "target": FORM},
        {"kind": "navigate", "url": f"{BASE}/posts/", "title": "Posts", "target": None},
    ]
    events = []
    for n, row in enumerate(rows, start=1):
        event = {
            **base,
            "sequence": n,
            "timestamp_ms": 1_732_400_000_000 + n * 1500,
            "url": f"{BASE}/upload/",
            "title": "Upload",
            "value": None,
            "dom_changed": True,
        }
        event.update(row)
        events.append(event)
    return events


# Actions an upload session yields: click title, type, select, scroll, click publish, submit.
MESSAGES_PER_UPLOAD = 6
# Mind2Web drops the scroll and the submit that follows the click.
MIND2WEB_PER_UPLOAD = 4


@pytest.fixture(autouse=True)
def _media_and_tmp(settings: Settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FARM_EXPORT_TMP_DIR = tmp_path / "export-tmp"


@pytest.fixture
def record(workspace: Workspace) -> Callable[..., CapturedSession]:
    """Record a session through the capture services; accepted whatever its score."""
    CaptureSettings.objects.update_or_create(workspace=workspace, defaults={"min_quality": 0.0})

    def make(
        *,
        task: str = "Upload the holiday clip as a public video",
        kind: str = CapturedSession.Kind.HUMAN,
        events: list[dict[str, Any]] | None = None,
        workspace: Workspace = workspace,
        **fields: Any,
    ) -> CapturedSession:
        CaptureSettings.objects.update_or_create(workspace=workspace, defaults={"min_quality": 0.0})
        session = session_open(
            workspace=workspace, kind=kind, task=task, start_url=f"{BASE}/upload/"
        )
        session_events_append(session=session, events=events or upload_events())
        session = session_close(session=session)
        if fields:
            CapturedSession.objects.filter(pk=session.pk).update(**fields)
            session.refresh_from_db()
        return session

    return make


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@pytest.fixture
def sent_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The export ids sent to the worker, collected here instead of sent."""
    from training.tasks import build_export

    sent: list[int] = []
    monkeypatch.setattr(build_export, "delay", sent.append)
    return sent


def export_add_form(workspace: Workspace, **fields: object) -> dict[str, object]:
    """What the console's add-export form posts: human sessions, no other filter."""
    blank_dates = {f"started_{end}_{part}": "" for end in ("from", "until") for part in (0, 1)}
    return {
        "workspace": workspace.pk,
        "format": "messages",
        "kinds": ["human"],
        "min_quality": "",
        "validation_share": "0",
        **blank_dates,
        **fields,
    }
