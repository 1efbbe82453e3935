"""Writes on captured sessions: open, append events, add screenshots, close, archive.

Appending is set-based: one batch of up to 1,000 events costs a handful of
queries whatever its size (lock the session, find which sequences exist,
one bulk INSERT, one UPDATE), and the unique (session, sequence) constraint
makes a resent batch add nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import sqlite3
import warnings
import zipfile
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from PIL import Image

from accounts.models import Account, Workspace
from capture.events import event_errors
from capture.masking import mask_event, mask_text, mask_url
from capture.models import (
    CapturedSession,
    CaptureSettings,
    IngestToken,
    Interaction,
    Screenshot,
)
from capture.quality import session_scores

MAX_EVENTS_PER_BATCH = 1000


class SessionNotRecording(Exception):
    """Events and screenshots go only to a session that is still recording."""

    def __init__(self, session: CapturedSession) -> None:
        super().__init__(
            f"The session is {session.state}; events and screenshots are taken only "
            "while it is recording."
        )
        self.session = session


@dataclass
class AppendResult:
    added: int = 0
    duplicates: int = 0
    # [{"index": i, "sequence": s | None, "errors": {field: [message]}}]
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "duplicates": self.duplicates, "errors": self.errors}


def capture_settings_get(*, workspace: Workspace) -> CaptureSettings:
    """The workspace's capture settings, created with the defaults on first use."""
    found, _ = CaptureSettings.objects.get_or_create(workspace=workspace)
    return found


def session_open(
    *,
    workspace: Workspace,
    kind: str,
    start_url: str = "",
    viewport: dict[str, Any] | None = None,
    user_agent: str = "",
    task: str = "",
    account: Account | None = None,
    profile: Any = None,
    attempt: Any = None,
    token: IngestToken | None = None,
) -> CapturedSession:
    if kind not in CapturedSession.Kind.values:
        raise ValueError(f"kind must be one of {', '.join(CapturedSession.Kind.values)}.")
    for name, linked in (("account", account), ("profile", profile), ("token", token)):
        owner = _workspace_id_of(linked)
        if owner is not None and owner != workspace.pk:
            raise ValueError(f"The {name} belongs to another workspace.")
    masked_task, task_kinds = mask_text(task or "")
    masked_url, url_kinds = mask_url(start_url or "")
    viewport = viewport or {}
    return CapturedSession.objects.create(
        workspace=workspace,
        kind=kind,
        start_url=masked_url[:2000],
        viewport_width=_positive_int(viewport.get("width")),
        viewport_height=_positive_int(viewport.get("height")),
        user_agent=(user_agent or "")[:500],
        task=masked_task,
        masked_kinds=sorted(task_kinds | url_kinds),
        account=account,
        profile=profile,
        attempt=attempt,
        created_by_token=token,
    )


def _workspace_id_of(linked: Any) -> int | None:
    if linked is None:
        return None
    if hasattr(linked, "workspace_id"):
        return linked.workspace_id
    account = getattr(linked, "account", None)  # a browser profile
    return getattr(account, "workspace_id", None)


def _positive_int(value: Any) -> int | None:
    return value if type(value) is int and 0 < value < 2**31 else None


_INSERT_COLUMNS = (
    "session_id",
    "sequence",
    "timestamp_ms",
    "kind",
    "url",
    "title",
    "value",
    "masked_kinds",
    "target",
    "scroll_x",
    "scroll_y",
    "found_in_dom",
    "dom_changed",
    "screenshot_id",
)


def _interaction_row(session_key: Any, event: dict[str, Any], shot_id: int | None) -> list[Any]:
    scroll = event.get("scroll") or {}
    adapt = connection.ops.adapt_json_value
    return [
        session_key,
        event["sequence"],
        event["timestamp_ms"],
        event["kind"],
        event.get("url") or "",
        (event.get("title") or "")[:500],
        event.get("value") or "",
        adapt(event.get("masked_kinds") or [], None),
        None if event.get("target") is None else adapt(event["target"], None),
        int(scroll["x"]) if "x" in scroll else None,
        int(scroll["y"]) if "y" in scroll else None,
        event.get("found_in_dom"),
        event.get("dom_changed"),
        shot_id,
    ]


def _max_query_params() -> int:
    if connection.vendor == "sqlite":
        return 32_000 if sqlite3.sqlite_version_info >= (3, 32) else 999
    return 60_000  # PostgreSQL's limit is 65,535


def _interactions_insert(rows: list[list[Any]]) -> None:
    """Write rows whose (session, sequence) the caller has checked are new.

    On PostgreSQL through COPY: binding 14 values a row into one huge INSERT
    cost more than everything else in a batch. Elsewhere a multi-row INSERT
    ... ON CONFLICT DO NOTHING per up to ~2,000 rows, which is what
    bulk_create(ignore_conflicts=True) sends without building and compiling
    a model instance per row.
    """
    quote = connection.ops.quote_name
    table = quote(Interaction._meta.db_table)
    columns = ", ".join(quote(c) for c in _INSERT_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        row_sql = "(" + ", ".join(["%s"] * len(_INSERT_COLUMNS)) + ")"
        chunk = _max_query_params() // len(_INSERT_COLUMNS)
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                f"VALUES {', '.join([row_sql] * len(part))} "
                f"ON CONFLICT ({quote('session_id')}, {quote('sequence')}) DO NOTHING",
                [value for row in part for value in row],
            )


def _sequences_lookup(sequences: Collection[int]) -> dict[str, Any]:
    """Filter arguments that cover `sequences`, for a caller that intersects the result.

    A batch's sequences are mostly consecutive, and a range is much cheaper
    to send than a thousand bound values; a scattered batch falls back to IN.
    """
    low, high = min(sequences), max(sequences)
    if high - low < 2 * len(sequences) + 100:
        return {"sequence__gte": low, "sequence__lte": high}
    return {"sequence__in": list(sequences)}


def session_events_append(*, session: CapturedSession, events: list[dict]) -> AppendResult:
    """Validate, mask and store a batch; good events are kept beside bad ones.

    Idempotent by (session, sequence): a sequence already stored, or seen
    earlier in the same batch, counts as a duplicate and is not written again.
    """
    if len(events) > MAX_EVENTS_PER_BATCH:
        raise ValueError(f"A batch holds at most {MAX_EVENTS_PER_BATCH} events, not {len(events)}.")
    result = AppendResult()
    good: dict[int, dict[str, Any]] = {}
    for index, event in enumerate(events):
        errors = event_errors(event)
        if errors:
            sequence = event.get("sequence") if isinstance(event, dict) else None
            result.errors.append(
                {
                    "index": index,
                    "sequence": sequence if type(sequence) is int else None,
                    "errors": errors,
                }
            )
        elif event["sequence"] in good:
            result.duplicates += 1
        else:
            good[event["sequence"]] = event
    with transaction.atomic():
        # The row lock makes appends to one session take turns, so the
        # existing-sequence check below is exact and the counters add up.
        locked = CapturedSession.objects.select_for_update().get(pk=session.pk)
        if locked.state != CapturedSession.State.RECORDING:
            raise SessionNotRecording(locked)
        if not good:
            return result
        existing = good.keys() & set(
            Interaction.objects.filter(session_id=locked.pk, **_sequences_lookup(good)).values_list(
                "sequence", flat=True
            )
        )
        result.duplicates += len(existing)
        new = [mask_event(e) for seq, e in good.items() if seq not in existing]
        if new:
            shots = dict(
                Screenshot.objects.filter(
                    session_id=locked.pk, **_sequences_lookup([e["sequence"] for e in new])
                ).values_list("sequence", "id")
            )
            session_key = Interaction._meta.get_field("session").get_db_prep_value(
                locked.pk, connection
            )
            _interactions_insert(
                [_interaction_row(session_key, e, shots.get(e["sequence"])) for e in new]
            )
            result.added = len(new)
            kinds = set(locked.masked_kinds)
            for e in new:
                kinds.update(e["masked_kinds"])
            locked.events_count += len(new)
            locked.masked_kinds = sorted(kinds)
            locked.save(update_fields=["events_count", "masked_kinds"])
            session.events_count = locked.events_count
            session.masked_kinds = locked.masked_kinds
    return result


# Screenshots ---------------------------------------------------------------

ALLOWED_IMAGE_FORMATS = {"PNG", "JPEG"}


def _screenshot_limits() -> tuple[int, int]:
    return (
        getattr(settings, "CAPTURE_MAX_SCREENSHOT_BYTES", 20 * 1024 * 1024),
        getattr(settings, "CAPTURE_MAX_SCREENSHOT_PIXELS", 40_000_000),
    )


def screenshot_to_webp(image_bytes: bytes, *, webp_ok: bool = False) -> tuple[bytes, int, int]:
    """PNG or JPEG in, WebP bytes and the size out; ValueError naming the problem otherwise.

    `webp_ok` is for the farm's own recorder, whose browser already encodes
    its screenshots as WebP: they are checked and stored as they are.
    """
    max_bytes, max_pixels = _screenshot_limits()
    if not image_bytes:
        raise ValueError("The image is empty.")
    if len(image_bytes) > max_bytes:
        raise ValueError(f"The image is {len(image_bytes)} bytes; the limit is {max_bytes}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(image_bytes))
            if image.format not in ALLOWED_IMAGE_FORMATS and not (
                webp_ok and image.format == "WEBP"
            ):
                raise ValueError(
                    f"The image is {image.format or 'of an unknown format'}; send a PNG or a JPEG."
                )
            width, height = image.size
            # Checked before decoding: a small file can declare a huge canvas.
            if width * height > max_pixels:
                raise ValueError(
                    f"The image is {width}x{height} pixels; at most {max_pixels} pixels "
                    "are accepted."
                )
            if image.format == "WEBP":
                return image_bytes, width, height
            image.load()
    except ValueError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"The image is too large to decode safely: {exc}") from None
    except Exception as exc:  # Pillow raises many kinds for a broken file
        raise ValueError(f"The image cannot be read as PNG or JPEG ({exc}).") from None
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert(
            "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
        )
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=80, method=4)
    return out.getvalue(), width, height


def session_screenshot_add(
    *,
    session: CapturedSession,
    image_bytes: bytes,
    sequence: int | None = None,
    webp_ok: bool = False,
) -> Screenshot:
    if session.state != CapturedSession.State.RECORDING:
        raise SessionNotRecording(session)
    if sequence is not None and (type(sequence) is not int or not 0 <= sequence < 2**31):
        raise ValueError("sequence must be a non-negative integer.")
    webp, width, height = screenshot_to_webp(image_bytes, webp_ok=webp_ok)
    digest = hashlib.sha256(webp).hexdigest()
    name = f"{session.pk}-{sequence if sequence is not None else 'x'}-{digest[:12]}.webp"
    with transaction.atomic():
        shot = Screenshot(
            session=session,
            sequence=sequence,
            width=width,
            height=height,
            size_bytes=len(webp),
            sha256=digest,
        )
        shot.image.save(name, ContentFile(webp), save=False)
        shot.save()
        if sequence is not None:
            Interaction.objects.filter(
                session=session, sequence=sequence, screenshot__isnull=True
            ).update(screenshot=shot)
    return shot


# Closing -------------------------------------------------------------------

_FINAL = (
    CapturedSession.State.ACCEPTED,
    CapturedSession.State.REJECTED,
    CapturedSession.State.ARCHIVED,
)


def session_close(*, session: CapturedSession, ended_at: datetime | None = None) -> CapturedSession:
    """Score the session, then accept it or reject it against the workspace's minimum.

    Closing a session already decided returns it as it is, so a resent close is harmless.
    """
    with transaction.atomic():
        locked = CapturedSession.objects.select_for_update().get(pk=session.pk)
        if locked.state in _FINAL:
            return locked
        interactions = list(
            Interaction.objects.filter(session=locked)
            .order_by("sequence")
            .values(
                "sequence",
                "timestamp_ms",
                "kind",
                "url",
                "title",
                "value",
                "masked_kinds",
                "target",
                "found_in_dom",
                "dom_changed",
                "screenshot_id",
            )
        )
        shot_sequences = set(
            Screenshot.objects.filter(session=locked, sequence__isnull=False).values_list(
                "sequence", flat=True
            )
        )
        scores = session_scores(interactions=interactions, screenshot_sequences=shot_sequences)
        minimum = capture_settings_get(workspace=locked.workspace).min_quality
        locked.completeness = scores.completeness
        locked.selector_reliability = scores.selector_reliability
        locked.training_value = scores.training_value
        locked.quality = scores.quality
        locked.quality_details = scores.details
        locked.ended_at = ended_at or locked.ended_at or timezone.now()
        if scores.quality < minimum:
            locked.state = CapturedSession.State.REJECTED
            locked.rejection_reason = scores.rejection_reason(minimum)
        else:
            locked.state = CapturedSession.State.ACCEPTED
            locked.rejection_reason = ""
        locked.save()
    return locked


# Archives ------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
        buffer = io.BytesIO()
        manifest: dict[str, dict[str, Any]] = {}
        shots = list(Screenshot.objects.filter(session=locked).order_by("sequence", "id"))
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
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
            lines = io.StringIO()
            for row in (
                Interaction.objects.filter(session=locked)
                .order_by("sequence")
                .iterator(chunk_size=2000)
            ):
                item = interaction_payload(row)
                item["screenshot"] = (
                    shot_names.get(row.screenshot_id) if row.screenshot_id else None
                )
                lines.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
                lines.write("\n")
            files: list[tuple[str, bytes]] = [
                ("session.json", json.dumps(payload, indent=2, ensure_ascii=False).encode()),
                ("interactions.jsonl", lines.getvalue().encode()),
            ]
            for shot in shots:
                with shot.image.open("rb") as fh:
                    files.append((shot_names[shot.pk], fh.read()))
            for name, data in files:
                archive.writestr(name, data)
                manifest[name] = {"sha256": _sha256(data), "size": len(data)}
            archive.writestr(
                "manifest.json",
                json.dumps(
                    {"session": str(locked.pk), "files": manifest}, indent=2, sort_keys=True
                ),
            )
        locked.archive.save(f"{locked.pk}.zip", ContentFile(buffer.getvalue()), save=False)
        image_names = [shot.image.name for shot in shots]
        Interaction.objects.filter(session=locked).delete()
        Screenshot.objects.filter(session=locked).delete()
        locked.state = CapturedSession.State.ARCHIVED
        locked.archived_at = timezone.now()
        locked.save()
        # Files go only once the rows are gone for good.
        transaction.on_commit(lambda: _delete_files(image_names))
    return locked


def _delete_files(names: list[str]) -> None:
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


# Ingest tokens ---------------------------------------------------------------

TOKEN_PREFIX = "cap_"


def ingest_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ingest_token_create(*, workspace: Workspace, name: str) -> tuple[IngestToken, str]:
    """A new token for the workspace; the plain token is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = IngestToken.objects.create(
        workspace=workspace, name=name, token_hash=ingest_token_hash(plain)
    )
    return token, plain


def ingest_token_revoke(*, token: IngestToken) -> bool:
    return (
        IngestToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        == 1
    )


def ingest_token_touch(*, token: IngestToken, every_seconds: int = 60) -> None:
    """Note the token's use, at most once a minute so ingest is not one write per request."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(seconds=every_seconds):
        IngestToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
