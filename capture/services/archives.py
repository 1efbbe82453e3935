"""A session as a ZIP with a manifest of checksums; the retention task that archives old ones."""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Workspace
from capture.models import (
    CapturedSession,
    CaptureSettings,
    Interaction,
    Screenshot,
)


def session_payload(session: CapturedSession) -> dict[str, Any]:
    """The session row as it goes into an archive's session.json."""
    return {
        "id": str(session.pk),
        "workspace": session.workspace.slug,
        "kind": session.kind,
        "state": session.state,
        "account_id": session.account_id,
        "profile_id": session.profile_id,
        "attempt_id": session.attempt_id,
        "started_at": session.started_at.isoformat(),
        "ended_at": session.ended_at.isoformat() if session.ended_at else None,
        "start_url": session.start_url,
        "viewport": {"width": session.viewport_width, "height": session.viewport_height},
        "user_agent": session.user_agent,
        "task": session.task,
        "completeness": session.completeness,
        "selector_reliability": session.selector_reliability,
        "training_value": session.training_value,
        "quality": session.quality,
        "quality_details": session.quality_details,
        "rejection_reason": session.rejection_reason,
        "events_count": session.events_count,
        "masked_kinds": session.masked_kinds,
    }


def interaction_payload(row: Interaction) -> dict[str, Any]:
    return {
        "sequence": row.sequence,
        "timestamp_ms": row.timestamp_ms,
        "kind": row.kind,
        "url": row.url,
        "title": row.title,
        "value": row.value,
        "masked_kinds": row.masked_kinds,
        "target": row.target,
        "scroll": (
            {"x": row.scroll_x, "y": row.scroll_y}
            if row.scroll_x is not None or row.scroll_y is not None
            else None
        ),
        "found_in_dom": row.found_in_dom,
        "dom_changed": row.dom_changed,
        "screenshot_id": row.screenshot_id,
    }


def session_archive(*, session: CapturedSession) -> CapturedSession:
    """Write the session's ZIP, then remove its raw interaction and screenshot rows.

    The ZIP holds session.json, interactions.jsonl, screenshots/*.webp and a
    manifest.json listing each file's SHA-256. Archiving twice does nothing.
    It is written as a stream, in memory that does not grow with the session:
    interactions are read in chunks and each entry goes straight into a
    temporary file (where Django spools uploads), which storage then copies.
    """
    with transaction.atomic():
        locked = (
            CapturedSession.objects.select_for_update()
            .select_related("workspace")
            .get(pk=session.pk)
        )
        if locked.state == CapturedSession.State.ARCHIVED:
            return locked
        previous_state = locked.state
        manifest: dict[str, dict[str, Any]] = {}
        shots = list(Screenshot.objects.filter(session=locked).order_by("sequence", "id"))
        with tempfile.TemporaryFile(
            prefix="capture-archive-", dir=settings.FILE_UPLOAD_TEMP_DIR
        ) as spool:
            with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                payload = session_payload(locked)
                payload["state_before_archive"] = previous_state
                payload["screenshots"] = []
                shot_names: dict[int, str] = {}
                for shot in shots:
                    label = shot.sequence if shot.sequence is not None else "none"
                    name = f"screenshots/{label}-{shot.pk}.webp"
                    shot_names[shot.pk] = name
                    payload["screenshots"].append(
                        {
                            "id": shot.pk,
                            "file": name,
                            "sequence": shot.sequence,
                            "width": shot.width,
                            "height": shot.height,
                            "sha256": shot.sha256,
                            "taken_at": shot.taken_at.isoformat(),
                        }
                    )
                with _entry(archive, "session.json", manifest) as out:
                    out.write(json.dumps(payload, indent=2, ensure_ascii=False).encode())
                with _entry(archive, "interactions.jsonl", manifest) as out:
                    for row in (
                        Interaction.objects.filter(session=locked)
                        .order_by("sequence")
                        .iterator(chunk_size=_CHUNK)
                    ):
                        item = interaction_payload(row)
                        item["screenshot"] = (
                            shot_names.get(row.screenshot_id) if row.screenshot_id else None
                        )
                        line = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
                        out.write(line.encode() + b"\n")
                for shot in shots:
                    with (
                        shot.image.open("rb") as fh,
                        _entry(archive, shot_names[shot.pk], manifest) as out,
                    ):
                        for chunk in fh.chunks(_COPY_BYTES):
                            out.write(chunk)
                archive.writestr(
                    "manifest.json",
                    json.dumps(
                        {"session": str(locked.pk), "files": manifest}, indent=2, sort_keys=True
                    ),
                )
            spool.seek(0)
            locked.archive.save(f"{locked.pk}.zip", File(spool), save=False)
        image_names = [shot.image.name for shot in shots]
        Interaction.objects.filter(session=locked).delete()
        Screenshot.objects.filter(session=locked).delete()
        locked.state = CapturedSession.State.ARCHIVED
        locked.archived_at = timezone.now()
        locked.save()
        # Files go only once the rows are gone for good.
        transaction.on_commit(lambda: _delete_files(image_names))
    return locked


# Interactions read per query, and bytes copied per read of a screenshot.
_CHUNK = 200
_COPY_BYTES = 1024 * 1024


class _HashingWriter:
    """Writes into a ZIP entry, counting the bytes and their SHA-256 on the way."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.sha256.update(data)
        self.size += len(data)


@contextmanager
def _entry(
    archive: zipfile.ZipFile, name: str, manifest: dict[str, dict[str, Any]]
) -> Iterator[_HashingWriter]:
    # Zip64 from the start: the entry's size is not known until it is written.
    with archive.open(name, "w", force_zip64=True) as out:
        writer = _HashingWriter(out)
        yield writer
    manifest[name] = {"sha256": writer.sha256.hexdigest(), "size": writer.size}


def _delete_files(names: list[str | None]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        if name:
            default_storage.delete(name)


def sessions_archive_expired(*, now: datetime | None = None, limit: int = 500) -> int:
    """Archive sessions older than their workspace's retention; the beat task's service.

    Idempotent: archived sessions are skipped, so overlapping runs do no harm.
    """
    now = now or timezone.now()
    archived = 0
    default_days = CaptureSettings._meta.get_field("retention_days").default
    workspaces = Workspace.objects.values_list("pk", "capture_settings__retention_days")
    for workspace_id, days in workspaces:
        cutoff = now - timedelta(days=days if days is not None else default_days)
        due = (
            CapturedSession.objects.filter(workspace_id=workspace_id, started_at__lt=cutoff)
            .filter(~Q(state=CapturedSession.State.ARCHIVED))
            .values_list("pk", flat=True)[: max(limit - archived, 0)]
        )
        for pk in list(due):
            session_archive(session=CapturedSession(pk=pk))
            archived += 1
        if archived >= limit:
            break
    return archived
