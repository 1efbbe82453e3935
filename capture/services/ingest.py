"""Appending events to a recording session.

Appending is set-based: one batch of up to 1,000 events costs a handful of
queries whatever its size (lock the session, find which sequences exist,
one bulk INSERT, one UPDATE), and the unique (session, sequence) constraint
makes a resent batch add nothing. Events are checked (capture.events, with
its caps) and masked before the session is locked, so the lock, on SQLite
the whole database, is held only for the writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from capture.events import event_errors, event_known_fields
from capture.masking import mask_event
from capture.models import (
    INTERACTION_RECORDED_FIELDS,
    CapturedSession,
    Interaction,
    Screenshot,
)
from capture.services.sessions import SessionNotRecording
from core.errors import ServiceError, StateConflict

MAX_EVENTS_PER_BATCH = 1000


def max_events_per_session() -> int:
    return int(getattr(settings, "CAPTURE_MAX_EVENTS_PER_SESSION", 20_000))


class SessionFull(StateConflict):
    """A session keeps at most CAPTURE_MAX_EVENTS_PER_SESSION events; the rest go to a new one."""

    def __init__(self, session: CapturedSession, adding: int, limit: int) -> None:
        super().__init__(
            f"The session holds {session.events_count} events and may hold at most {limit}; "
            f"this batch would add {adding} more. Close it and open a new session for the rest."
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


_INSERT_COLUMNS = ("session_id", *INTERACTION_RECORDED_FIELDS, "screenshot_id")


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
    A batch whose new events would take the session past
    CAPTURE_MAX_EVENTS_PER_SESSION is refused whole (SessionFull, a 409).
    """
    if len(events) > MAX_EVENTS_PER_BATCH:
        raise ServiceError(
            f"A batch holds at most {MAX_EVENTS_PER_BATCH} events, not {len(events)}.",
            field="events",
        )
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
    # Masked before the lock: the time it takes, linear in the text as it is,
    # is not spent while every other writer waits.
    masked = {sequence: mask_event(event_known_fields(e)) for sequence, e in good.items()}
    limit = max_events_per_session()
    with transaction.atomic():
        # The row lock makes appends to one session take turns, so the
        # existing-sequence check below is exact and the counters add up.
        locked = CapturedSession.objects.select_for_update().get(pk=session.pk)
        if locked.state != CapturedSession.State.RECORDING:
            raise SessionNotRecording(locked)
        if not masked:
            return result
        existing = masked.keys() & set(
            Interaction.objects.filter(
                session_id=locked.pk, **_sequences_lookup(masked)
            ).values_list("sequence", flat=True)
        )
        result.duplicates += len(existing)
        new = [e for seq, e in masked.items() if seq not in existing]
        if new and locked.events_count + len(new) > limit:
            raise SessionFull(locked, len(new), limit)
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
