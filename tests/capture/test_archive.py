"""Archives: one ZIP per session with a manifest of SHA-256s; raw rows removed; retention."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from capture.models import CapturedSession, Interaction, Screenshot
from capture.services import (
    capture_settings_get,
    session_archive,
    session_close,
    session_events_append,
    session_screenshot_add,
    sessions_archive_expired,
)
from capture.tasks import archive_expired_sessions
from tests.factories import make_event, png_bytes


def _filled(make_session: Callable, **fields) -> CapturedSession:
    session = make_session(**fields)
    session_events_append(session=session, events=[make_event(i) for i in range(3)])
    for i in range(2):
        session_screenshot_add(session=session, image_bytes=png_bytes(), sequence=i)
    return session_close(session=session)


def test_the_archive_holds_everything_with_a_manifest(
    make_session: Callable, django_capture_on_commit_callbacks
) -> None:
    session = _filled(make_session)
    image_names = list(Screenshot.objects.values_list("image", flat=True))
    assert all(default_storage.exists(name) for name in image_names)
    with django_capture_on_commit_callbacks(execute=True):
        archived = session_archive(session=session)

    assert archived.state == CapturedSession.State.ARCHIVED
    assert archived.archived_at is not None
    assert not Interaction.objects.filter(session=session).exists()
    assert not Screenshot.objects.filter(session=session).exists()
    assert not any(default_storage.exists(name) for name in image_names)

    with zipfile.ZipFile(archived.archive.open("rb")) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        assert {"session.json", "interactions.jsonl", "manifest.json"} <= names
        assert len([n for n in names if n.startswith("screenshots/")]) == 2
        assert set(manifest["files"]) == names - {"manifest.json"}
        for name, entry in manifest["files"].items():
            assert entry["sha256"] == hashlib.sha256(archive.read(name)).hexdigest()
        lines = archive.read("interactions.jsonl").decode().splitlines()
        assert [json.loads(line)["sequence"] for line in lines] == [0, 1, 2]
        meta = json.loads(archive.read("session.json"))
        assert meta["id"] == str(session.pk)
        assert meta["quality"] == archived.quality
        assert meta["state_before_archive"] == "accepted"


def test_archiving_twice_does_nothing(make_session: Callable) -> None:
    session = _filled(make_session)
    first = session_archive(session=session)
    second = session_archive(session=session)
    assert second.archive.name == first.archive.name


def test_retention_archives_only_sessions_past_their_workspace_setting(
    workspace, make_workspace: Callable, make_session: Callable
) -> None:
    capture_settings_get(workspace=workspace)  # the default: 90 days
    strict = make_workspace()
    strict_settings = capture_settings_get(workspace=strict)
    strict_settings.retention_days = 7
    strict_settings.save()
    now = timezone.now()
    old = _filled(make_session, workspace=workspace)
    CapturedSession.objects.filter(pk=old.pk).update(started_at=now - timedelta(days=91))
    recent = _filled(make_session, workspace=workspace)
    CapturedSession.objects.filter(pk=recent.pk).update(started_at=now - timedelta(days=30))
    strict_old = _filled(make_session, workspace=strict)
    CapturedSession.objects.filter(pk=strict_old.pk).update(started_at=now - timedelta(days=30))

    assert sessions_archive_expired(now=now) == 2
    states = dict(CapturedSession.objects.values_list("pk", "state"))
    assert states[old.pk] == states[strict_old.pk] == CapturedSession.State.ARCHIVED
    assert states[recent.pk] == CapturedSession.State.ACCEPTED
    assert Interaction.objects.filter(session=recent).count() == 3
    # Idempotent: a second run (a doubled beat) finds nothing to do.
    assert archive_expired_sessions() == 0


def test_the_beat_schedule_runs_retention_with_an_expiry() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["archive-expired-captures"]
    assert entry["task"] == "capture.tasks.archive_expired_sessions"
    assert 0 < entry["options"]["expires"] <= entry["schedule"]


def _archive_peak(make_session: Callable, events: int) -> tuple[int, int]:
    """Peak Python allocations while a session of `events` is archived; its jsonl size."""
    session = make_session()
    snippet = "<form>" + "<label>Field</label><input name='x'>" * 100 + "</form>"
    for start in range(0, events, 1000):
        batch = [
            make_event(i, target={**make_event(i)["target"], "dom_snippet": snippet})
            for i in range(start, min(start + 1000, events))
        ]
        session_events_append(session=session, events=batch)
    session = session_close(session=session)
    tracemalloc.start()
    try:
        archived = session_archive(session=session)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    with zipfile.ZipFile(archived.archive.open("rb")) as archive:
        size = archive.getinfo("interactions.jsonl").file_size
    return peak, size


def test_an_archive_is_written_in_memory_that_does_not_grow_with_the_session(
    make_session: Callable,
) -> None:
    small_peak, small_size = _archive_peak(make_session, 500)
    large_peak, large_size = _archive_peak(make_session, 2500)
    assert large_size > 4 * small_size
    # Built in memory, the peak was twice the interactions file (22 MB for the
    # 11 MB here); streamed, it is a chunk of rows (about 2 MB) whatever the session.
    assert large_peak < large_size / 3, (large_peak, large_size)
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
