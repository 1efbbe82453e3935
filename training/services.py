"""Writes for training data: create, build and re-run exports; keep schedules in beat.

An export is built as a stream: sessions come from the database in chunks
(`.iterator(chunk_size=…)`), each chunk's interactions in one more query,
and every example goes straight to its file. Memory holds one chunk, never
the export.

A build claims its export with a conditional UPDATE (pending, or running with
a heartbeat gone stale after a crash) and a fresh run token; progress and the
final state are written with UPDATEs that name that token, so a run that was
superseded stops instead of overwriting its successor. A finished export is
left alone: re-running one is an explicit `export_rerun`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts.models import Workspace
from capture.masking import (
    mask_element_summary,
    mask_text,
    mask_url,
    mask_url_value,
    mask_value,
)
from capture.models import CapturedSession, Interaction
from core.errors import ServiceError
from core.tasks import registered_task
from training.formats import (
    FORMATS,
    MAX_NEARBY,
    MAX_SNIPPET,
    MESSAGES,
    FormatStats,
    best_selector,
    session_examples,
)
from training.models import Export, ExportSchedule
from training.selectors import INTERACTION_FIELDS, SESSION_FIELDS, export_sessions
from training.split import TRAIN, VALIDATION
from training.validation import REPORTED_PER_CODE, Problem
from training.writer import SplitWriter, WriteResult

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
EXPORT_TASK = "training.tasks.build_export"
SCHEDULE_TASK = "training.tasks.run_export_schedule"


class ExportSuperseded(Exception):
    """Another run took this export over (it was re-run, or this run was presumed dead)."""


def _stale_after() -> timedelta:
    return timedelta(seconds=settings.FARM_EXPORT_STALE_SECONDS)


# Creating ----------------------------------------------------------------------


def export_create(
    *,
    workspace: Workspace,
    format: str = MESSAGES,
    kinds: Sequence[str] = (),
    min_quality: float | None = None,
    started_from: datetime | None = None,
    started_until: datetime | None = None,
    validation_share: float = 0.1,
    schedule: ExportSchedule | None = None,
) -> Export:
    """A pending export; ServiceError names the field at fault."""
    export = Export(
        workspace=workspace,
        format=format,
        kinds=list(kinds),
        min_quality=min_quality,
        started_from=started_from,
        started_until=started_until,
        validation_share=validation_share,
        schedule=schedule,
    )
    export_filters_check(export)
    export.full_clean()
    export.save()
    return export


def export_filters_check(filters: Export | ExportSchedule) -> None:
    """What a model field cannot say on its own: known kinds, an ordered date range."""
    errors: dict[str, list[str]] = {}
    if filters.format not in FORMATS:
        errors["format"] = [f"choose from {', '.join(FORMATS)}"]
    if not isinstance(filters.kinds, list) or not all(isinstance(k, str) for k in filters.kinds):
        errors["kinds"] = ["a list of session kinds"]
    else:
        unknown = sorted(set(filters.kinds) - set(CapturedSession.Kind.values))
        if unknown:
            errors["kinds"] = [
                f"unknown kind(s) {', '.join(unknown)}; choose from "
                f"{', '.join(CapturedSession.Kind.values)}"
            ]
    start, end = getattr(filters, "started_from", None), getattr(filters, "started_until", None)
    if start is not None and end is not None and start >= end:
        errors["started_until"] = ["must be after the start of the date range"]
    if errors:
        raise ServiceError(errors)


def export_enqueue(*, export: Export) -> None:
    """Send the build message once the export is committed (by the task's name: see EXPORT_TASK)."""
    transaction.on_commit(lambda: registered_task(EXPORT_TASK).delay(export.pk))


def export_rerun(*, export: Export, now: datetime | None = None) -> bool:
    """Start an export over: back to pending, its files and counts dropped, a build sent.

    Refused (False) while a run is alive (running with a fresh heartbeat).
    """
    now = now or timezone.now()
    alive = Q(state=Export.State.RUNNING, heartbeat_at__gte=now - _stale_after())
    names = [f.name for f in (export.train_file, export.validation_file) if f.name]
    changed = (
        Export.objects.filter(pk=export.pk)
        .exclude(alive)
        .update(
            state=Export.State.PENDING,
            run_token=None,
            heartbeat_at=None,
            started_at=None,
            finished_at=None,
            **_zero_counts(),
            errors=[],
            warnings=[],
            train_file=None,
            validation_file=None,
        )
    )
    if not changed:
        return False
    for name in names:
        export.train_file.storage.delete(name)
    export.refresh_from_db()
    export_enqueue(export=export)
    return True


def _zero_counts() -> dict[str, int]:
    return {
        "sessions_total": 0,
        "sessions_done": 0,
        "sessions_count": 0,
        "examples_count": 0,
        "train_count": 0,
        "validation_count": 0,
    }


# Building ------------------------------------------------------------------------


def _claim(export: Export, now: datetime) -> uuid.UUID | None:
    token = uuid.uuid4()
    crashed = Q(state=Export.State.RUNNING) & (
        Q(heartbeat_at__lt=now - _stale_after()) | Q(heartbeat_at__isnull=True)
    )
    claimed = (
        Export.objects.filter(pk=export.pk)
        .filter(Q(state=Export.State.PENDING) | crashed)
        .update(
            state=Export.State.RUNNING,
            run_token=token,
            heartbeat_at=now,
            started_at=now,
            finished_at=None,
            errors=[],
            warnings=[],
            **_zero_counts(),
        )
    )
    return token if claimed else None


def _update_run(export: Export, token: uuid.UUID, **fields: Any) -> None:
    """Write this run's progress, if the export is still this run's."""
    fields.setdefault("heartbeat_at", timezone.now())
    changed = Export.objects.filter(
        pk=export.pk, state=Export.State.RUNNING, run_token=token
    ).update(**fields)
    if not changed:
        raise ExportSuperseded(f"export {export.pk} was taken over by another run")


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _masked_element(element: Any) -> Any:
    return mask_element_summary(
        element, selector_of=best_selector, max_nearby=MAX_NEARBY, max_snippet=MAX_SNIPPET
    )


def _masked_interaction(row: dict[str, Any]) -> dict[str, Any]:
    row["url"] = mask_url_value(row.get("url") or "")
    row["title"] = mask_value(row.get("title"))
    row["value"] = mask_value(row.get("value"))
    row["target"] = _masked_element(row.get("target"))
    return row


def _masked_session(row: dict[str, Any]) -> dict[str, Any]:
    row["task"] = mask_text(row.get("task") or "")[0]
    row["start_url"] = mask_url(row.get("start_url") or "")[0]
    return row


def _sessions_with_interactions(
    sessions: Iterable[dict[str, Any]], chunk_size: int
) -> Iterator[tuple[list[tuple[dict[str, Any], list[dict[str, Any]]]], int]]:
    """Chunks of (session, its interactions in order); one interactions query per chunk."""
    for chunk in _chunks(sessions, chunk_size):
        by_session: dict[Any, list[dict[str, Any]]] = {row["id"]: [] for row in chunk}
        rows = (
            Interaction.objects.filter(session_id__in=list(by_session))
            .order_by("session_id", "sequence")
            .values(*INTERACTION_FIELDS)
        )
        for row in rows:
            by_session[row["session_id"]].append(_masked_interaction(row))
        yield [(_masked_session(s), by_session[s["id"]]) for s in chunk], len(chunk)


def export_build(
    *,
    export: Export,
    chunk_size: int | None = None,
    progress_every: int | None = None,
    on_progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> Export:
    """Build the export's files, if it is pending or its last run crashed.

    Ends `ready` with both files, or `failed` with its errors (the validator's,
    or the exception that stopped it). An export in any other state is
    returned as it is.
    """
    chunk_size = chunk_size or settings.FARM_EXPORT_CHUNK_SIZE
    progress_every = progress_every or settings.FARM_EXPORT_PROGRESS_EVERY
    token = _claim(export, now or timezone.now())
    if token is None:
        export.refresh_from_db()
        return export
    export.refresh_from_db()
    try:
        _build(export, token, chunk_size, progress_every, on_progress)
    except ExportSuperseded:
        logger.info("export %s: superseded by another run; stopping", export.pk)
    except Exception as exc:
        logger.exception("export %s failed", export.pk)
        Export.objects.filter(pk=export.pk, run_token=token).update(
            state=Export.State.FAILED,
            finished_at=timezone.now(),
            errors=[{"code": "exception", "message": f"{type(exc).__name__}: {exc}"}],
        )
    export.refresh_from_db()
    return export


def _build(
    export: Export,
    token: uuid.UUID,
    chunk_size: int,
    progress_every: int,
    on_progress: ProgressCallback | None,
) -> None:
    sessions = export_sessions(export=export)
    total = sessions.count()
    _update_run(export, token, sessions_total=total)
    if on_progress:
        on_progress(0, total)
    tmp_root = Path(settings.FARM_EXPORT_TMP_DIR)
    tmp_root.mkdir(parents=True, exist_ok=True)
    stats = FormatStats()
    with tempfile.TemporaryDirectory(prefix=f"export-{export.pk}-", dir=tmp_root) as tmp:
        paths = {split: Path(tmp) / f"{split}.jsonl" for split in (TRAIN, VALIDATION)}
        with (
            paths[TRAIN].open("w", encoding="utf-8") as train,
            paths[VALIDATION].open("w", encoding="utf-8") as validation,
        ):
            writer = SplitWriter(
                fmt=export.format,
                train=train,
                validation=validation,
                validation_share=export.validation_share,
            )
            done = reported = 0
            rows = sessions.values(*SESSION_FIELDS).iterator(chunk_size=chunk_size)
            for pairs, count in _sessions_with_interactions(rows, chunk_size):
                for session, interactions in pairs:
                    examples = session_examples(export.format, session, interactions, stats)
                    writer.write_session(session["id"], examples)
                done += count
                if done - reported >= progress_every:
                    reported = done
                    _progress(export, token, writer.result, done)
                    if on_progress:
                        on_progress(done, total)
            result = writer.finish()
        if on_progress:
            on_progress(done, total)
        errors = _problems(result, "errors")
        warnings = _problems(result, "warnings") + _format_warnings(stats)
        final: dict[str, Any] = {
            **_counts(result, done),
            "errors": errors,
            "warnings": warnings,
            "finished_at": timezone.now(),
        }
        if errors:
            _update_run(export, token, state=Export.State.FAILED, **final)
            return
        names = {}
        field_of = {TRAIN: export.train_file, VALIDATION: export.validation_file}
        for split, path in paths.items():
            with path.open("rb") as handle:
                field_of[split].save(f"export-{export.pk}-{split}.jsonl", File(handle), save=False)
            name = field_of[split].name
            assert name is not None  # save() has just named the file
            names[f"{split}_file"] = name
        try:
            _update_run(export, token, state=Export.State.READY, **final, **names)
        except ExportSuperseded:
            for name in names.values():
                export.train_file.storage.delete(name)
            raise


def _counts(result: WriteResult, done: int) -> dict[str, int]:
    return {
        "sessions_done": done,
        "sessions_count": result.train.sessions + result.validation.sessions,
        "examples_count": result.examples,
        "train_count": result.train.examples,
        "validation_count": result.validation.examples,
    }


def _progress(export: Export, token: uuid.UUID, result: WriteResult, done: int) -> None:
    _update_run(export, token, **_counts(result, done))


def _problems(result: WriteResult, which: str) -> list[dict[str, Any]]:
    """The problems kept with their line, and a line for each kind with more than that."""
    found: list[dict[str, Any]] = []
    for split, report in result.reports.items():
        kept: list[Problem] = getattr(report, which)
        found.extend(p.as_dict() for p in kept)
        counts = report.error_counts if which == "errors" else report.warning_counts
        for code, count in counts.items():
            if count > REPORTED_PER_CODE:
                found.append(
                    {
                        "code": code,
                        "file": f"{split}.jsonl",
                        "message": f"{count - REPORTED_PER_CODE} more like this not listed",
                    }
                )
    return found


def _format_warnings(stats: FormatStats) -> list[dict[str, Any]]:
    warnings = []
    if stats.skipped_no_target:
        warnings.append(
            {
                "code": "no_target",
                "message": f"{stats.skipped_no_target} action(s) had no target element "
                "and were left out",
            }
        )
    return warnings


# Schedules -----------------------------------------------------------------------


def _periodic_task_name(schedule: ExportSchedule) -> str:
    return f"training-export-schedule-{schedule.pk}"


def export_schedule_save(*, schedule: ExportSchedule) -> ExportSchedule:
    """Save the schedule and create or update its beat entry to match."""
    export_filters_check(schedule)
    schedule.full_clean(exclude=["periodic_task"])
    minute, hour, day_of_month, month_of_year, day_of_week = schedule.cron.split()
    with transaction.atomic():
        schedule.save()
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
            timezone=schedule.workspace.timezone,
        )
        fields = {
            "name": _periodic_task_name(schedule),
            "task": SCHEDULE_TASK,
            "crontab": crontab,
            "interval": None,
            "args": json.dumps([schedule.pk]),
            "enabled": schedule.enabled,
            # Every periodic task expires: a run missed by far is skipped, not piled up.
            "expire_seconds": settings.FARM_EXPORT_SCHEDULE_EXPIRES_SECONDS,
            "description": f"Training-data export: {schedule.name} ({schedule.workspace})",
        }
        task = schedule.periodic_task
        if task is None:
            task = PeriodicTask.objects.filter(name=fields["name"]).first() or PeriodicTask()
        for key, value in fields.items():
            setattr(task, key, value)
        task.save()
        if schedule.periodic_task_id != task.pk:
            schedule.periodic_task = task
            schedule.save(update_fields=["periodic_task"])
    return schedule


def export_schedule_delete(*, schedule: ExportSchedule) -> None:
    with transaction.atomic():
        PeriodicTask.objects.filter(
            Q(pk=schedule.periodic_task_id) | Q(name=_periodic_task_name(schedule))
        ).delete()
        schedule.delete()


def export_schedule_run(*, schedule: ExportSchedule, now: datetime | None = None) -> Export | None:
    """Make and build this run's export; None while the previous run is still alive."""
    now = now or timezone.now()
    busy = schedule.exports.filter(
        Q(state=Export.State.PENDING, created_at__gte=now - _stale_after())
        | Q(state=Export.State.RUNNING, heartbeat_at__gte=now - _stale_after())
    )
    if busy.exists():
        logger.info("schedule %s: the previous export is still under way", schedule.pk)
        return None
    export = export_create(
        workspace=schedule.workspace,
        format=schedule.format,
        kinds=schedule.kinds,
        min_quality=schedule.min_quality,
        started_from=now - timedelta(days=schedule.window_days) if schedule.window_days else None,
        started_until=now,
        validation_share=schedule.validation_share,
        schedule=schedule,
    )
    return export_build(export=export)
