"""`manage.py import_rrweb`: an rrweb recording becomes a captured session."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Workspace
from capture.models import CapturedSession
from capture.rrweb import RrwebError, rrweb_convert
from capture.services import capture_settings_get
from tests.factories import target_of

FIXTURE = Path(__file__).parent / "fixtures" / "rrweb_upload.json"


def _recording() -> list[dict[str, Any]]:
    return json.loads(FIXTURE.read_text())


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_rrweb", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _write(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "recording.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_the_recording_becomes_a_session_with_resolved_targets(workspace: Workspace) -> None:
    out, err = _run(str(FIXTURE), "--workspace", workspace.slug, "--task", "Sign in and upload")
    session = CapturedSession.objects.get(workspace=workspace)
    assert f"session {session.pk}" in out
    assert "node 999" in err  # an id the page never had is reported, not fatal
    assert session.kind == CapturedSession.Kind.HUMAN
    assert session.start_url == "http://sandbox.test/sandbox/login/"
    assert (session.viewport_width, session.viewport_height) == (1280, 800)
    assert session.task == "Sign in and upload"
    assert session.state in (CapturedSession.State.ACCEPTED, CapturedSession.State.REJECTED)

    events = list(session.interactions.order_by("sequence"))
    assert [(e.kind, (e.target or {}).get("tag")) for e in events] == [
        ("navigate", None),
        ("click", "input"),  # into the handle field
        ("input", "input"),  # three keystrokes, one input event
        ("input", "input"),  # the password
        ("click", "button"),  # the text node's click lands on its button
        ("click", "a"),
        ("navigate", None),
        ("input", "input"),
        ("input", "select"),
        ("click", "label"),
        ("input", "input"),  # the checkbox
        ("scroll", None),  # two scrolls close together make one
        ("click", "button"),  # a button added by a mutation after the snapshot
        ("click", "button"),  # the span inside Publish: its button
    ]
    assert [e.sequence for e in events] == list(range(len(events)))
    assert events[0].title == "Sign in · Sandbox" and events[6].title == "Upload · Sandbox"
    assert events[6].url == "http://sandbox.test/sandbox/upload/"

    handle, password = events[2], events[3]
    assert handle.value == "•••" and handle.masked_kinds == ["input"]
    assert handle.timestamp_ms == 1732400001400  # the last keystroke's time
    assert password.value == "" and password.masked_kinds == ["password"]
    assert events[10].value == "checked"
    assert events[11].scroll_y == 240 and events[11].target is None

    sign_in = target_of(events[4])
    assert sign_in["name"] == "Sign in" and sign_in["role"] == "button"
    assert sign_in["selectors"][0] == {
        "kind": "testid",
        "value": '[data-testid="login-submit"]',
        "score": 1.0,
        "unique": True,
    }
    kinds = {s["kind"]: s for s in sign_in["selectors"]}
    assert kinds["role"] == {
        "kind": "role",
        "value": 'role=button[name="Sign in"]',
        "score": 0.9,
        "unique": True,
    }
    assert kinds["xpath"]["value"] == "/html/body/form/button"
    assert kinds["css"]["unique"]
    assert sign_in["dom_snippet"].startswith('<form method="post"')
    assert 0 < len(sign_in["nearby"]) <= 5
    assert events[4].found_in_dom is True

    handle_target = target_of(handle)
    assert handle_target["name"] == "Handle"
    assert {"kind": "label", "value": 'label="Handle"', "score": 0.8, "unique": True} in (
        handle_target["selectors"]
    )
    assert {"kind": "id", "value": "#id_handle", "score": 0.6, "unique": True} in (
        handle_target["selectors"]
    )
    # Two links read "Help": their role and text selectors are not unique and score lower.
    help_link = {s["kind"]: s for s in target_of(events[5])["selectors"]}
    assert help_link["role"]["unique"] is False and help_link["role"]["score"] == 0.45
    assert help_link["text"]["unique"] is False and help_link["text"]["score"] == 0.35
    assert target_of(events[12])["name"] == "Add a tag"
    assert target_of(events[13])["selectors"][0]["value"] == '[data-testid="upload-submit"]'

    # No typed or preset value survives: not as a value, not in a snippet or attribute.
    stored = json.dumps([[e.value, e.target, e.url, e.title] for e in events], ensure_ascii=False)
    for secret in ("alice@example.com", "hunter2", "Lisbon", "prefilled-handle", "csrf-token"):
        assert secret not in stored


def test_allow_listed_fields_keep_their_values(workspace: Workspace) -> None:
    settings = capture_settings_get(workspace=workspace)
    settings.input_allow_list = ["visibility"]
    settings.save()
    _run(str(FIXTURE))  # the only workspace needs no --workspace
    select = CapturedSession.objects.get().interactions.get(kind="input", target__tag="select")
    assert select.value == "private" and select.masked_kinds == []


@pytest.mark.parametrize(
    ("recording", "message"),
    [
        ("{not json", "is not JSON"),
        ({"events": []}, "JSON array of events"),
        ([{"type": 4, "data": {"href": "http://a.test/"}, "timestamp": 1}, 7], "event 1:"),
        ([{"type": "meta", "timestamp": 1}], "event 0: `type` must be an integer"),
        ([{"type": 4, "data": {}, "timestamp": 1}], "event 0 (type 4): a Meta event needs"),
        ([{"type": 4, "data": {"href": "x"}, "timestamp": -5}], "event 0 (type 4): `timestamp`"),
        (
            [
                {"type": 4, "data": {"href": "http://a.test/"}, "timestamp": 1},
                {"type": 3, "data": {"source": 2, "type": 2, "id": 3}, "timestamp": 2},
            ],
            "event 1 (type 3): it comes before any FullSnapshot",
        ),
        (
            [
                {"type": 4, "data": {"href": "http://a.test/"}, "timestamp": 1},
                {"type": 2, "data": {"node": {"type": 0, "childNodes": []}}, "timestamp": 2},
            ],
            "event 1 (type 2): the FullSnapshot's `data.node` is broken",
        ),
        (
            [
                {"type": 4, "data": {"href": "http://a.test/"}, "timestamp": 1},
                {"type": 2, "data": {"node": {"type": 0, "id": 1}}, "timestamp": 2},
                {"type": 3, "data": {"source": 3, "id": 1, "x": "far"}, "timestamp": 3},
            ],
            "event 2 (type 3): a Scroll needs numbers",
        ),
        ([], "no page, click, input or scroll"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_event(
    workspace: Workspace, tmp_path: Path, recording: Any, message: str
) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _run(_write(tmp_path, recording))
    assert not CapturedSession.objects.exists()


def test_a_missing_file_and_an_unknown_workspace_are_named(
    workspace: Workspace, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="no such file"):
        _run(str(tmp_path / "nope.json"))
    with pytest.raises(CommandError, match="No workspace with slug 'ghost'"):
        _run(str(FIXTURE), "--workspace", "ghost")


def test_a_big_recording_shows_its_progress(workspace: Workspace, tmp_path: Path) -> None:
    recording = _recording()
    scrolls = [
        {"type": 3, "data": {"source": 3, "id": 1, "x": 0, "y": i}, "timestamp": 1732400100000 + i}
        for i in range(6000)
    ]
    out, err = _run(_write(tmp_path, recording + scrolls))
    assert "reading events: 1,000/" in err and "(100%)" in err
    assert "Imported" in out


def test_conversion_reports_progress_and_raises_rrweb_errors() -> None:
    seen: list[tuple[int, int]] = []
    converted = rrweb_convert(_recording(), progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(_recording()), len(_recording()))
    assert converted.start_url == "http://sandbox.test/sandbox/login/"
    with pytest.raises(RrwebError):
        rrweb_convert("nope")
