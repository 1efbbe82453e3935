"""Export a workspace's captured sessions as training data, here and now.

    manage.py export_training --workspace acme --format messages \\
        --kinds human hybrid --min-quality 0.7 --since 2026-01-01 --until 2026-02-01 \\
        --validation-share 0.1 --out ./exports

Builds the export in this process (the same service the Celery task calls),
with a progress bar on stderr, and prints where the files are. With --out the
train and validation files are copied there as well.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.models import Workspace
from capture.models import CapturedSession
from training.formats import FORMATS, MESSAGES
from training.models import Export
from training.services import export_build, export_create

OPTION_OF_FIELD = {
    "workspace": "--workspace",
    "format": "--format",
    "kinds": "--kinds",
    "min_quality": "--min-quality",
    "started_from": "--since",
    "started_until": "--until",
    "validation_share": "--validation-share",
}


class ProgressBar:
    """`[#####.....]  512/1000 sessions  51%  340/s` on one stderr line, redrawn in place."""

    def __init__(self, stream: OutputWrapper, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.started = time.monotonic()
        self.drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.drawn < 0.2:
            return
        self.drawn = now
        share = done / total if total else 1.0
        filled = int(self.width * share)
        rate = done / max(now - self.started, 1e-6)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} sessions "
            f"{int(share * 100):3d}%  {rate:,.0f}/s",
            ending="",
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("")
        self.stream.flush()


def _when(option: str, text: str | None, *, end_of_day: bool = False) -> datetime | None:
    if text is None:
        return None
    try:
        moment = parse_datetime(text)
        day = None if moment else parse_date(text)
    except ValueError:
        moment = day = None
    if day is not None:
        # A bare date: --since takes the whole day, --until stops before it.
        moment = datetime.combine(day, dtime.min)
    if moment is None:
        raise CommandError(f"{option}: {text!r} is not a date (YYYY-MM-DD) or an ISO date-time.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


class Command(BaseCommand):
    help = "Export captured sessions as training data (messages or Mind2Web JSONL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="the workspace's slug")
        parser.add_argument("--format", default=MESSAGES, help=f"one of {', '.join(FORMATS)}")
        parser.add_argument(
            "--kinds",
            nargs="+",
            default=[],
            help=f"session kinds to take ({', '.join(CapturedSession.Kind.values)}); default all",
        )
        parser.add_argument("--min-quality", help="minimum overall quality, 0..1")
        parser.add_argument("--since", help="sessions started at or after (YYYY-MM-DD or ISO)")
        parser.add_argument("--until", help="sessions started before (YYYY-MM-DD or ISO)")
        parser.add_argument(
            "--validation-share", default="0.1", help="share of sessions for validation, 0..0.5"
        )
        parser.add_argument("--out", help="a folder to copy the train and validation files into")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["workspace"]
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is None:
            raise CommandError(f"--workspace: no workspace with the slug {slug!r}.")
        fmt = options["format"]
        if fmt not in FORMATS:
            raise CommandError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}.")
        kinds = [k for item in options["kinds"] for k in item.split(",") if k]
        unknown = sorted(set(kinds) - set(CapturedSession.Kind.values))
        if unknown:
            raise CommandError(
                f"--kinds: unknown kind(s) {', '.join(unknown)}; choose from "
                f"{', '.join(CapturedSession.Kind.values)}."
            )
        min_quality = self._number("--min-quality", options["min_quality"], 0.0, 1.0)
        share = self._number("--validation-share", options["validation_share"], 0.0, 0.5)
        since = _when("--since", options["since"])
        until = _when("--until", options["until"])
        out = Path(options["out"]) if options["out"] else None
        if out is not None and out.exists() and not out.is_dir():
            raise CommandError(f"--out: {out} exists and is not a folder.")
        try:
            export = export_create(
                workspace=workspace,
                format=fmt,
                kinds=kinds,
                min_quality=min_quality,
                started_from=since,
                started_until=until,
                validation_share=share if share is not None else 0.1,
            )
        except ValidationError as exc:
            raise CommandError(self._named(exc)) from None
        bar = None if options["no_progress"] else ProgressBar(self.stderr)
        try:
            export = export_build(export=export, on_progress=bar)
        finally:
            if bar is not None:
                bar.close()
        self._report(export, out)

    @staticmethod
    def _number(option: str, text: str | None, low: float, high: float) -> float | None:
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            raise CommandError(f"{option}: {text!r} is not a number.") from None
        if not low <= value <= high:
            raise CommandError(f"{option}: {value} is not between {low} and {high}.")
        return value

    @staticmethod
    def _named(exc: ValidationError) -> str:
        return "; ".join(
            f"{OPTION_OF_FIELD.get(field, field)}: {' '.join(messages)}"
            for field, messages in exc.message_dict.items()
        )

    def _report(self, export: Export, out: Path | None) -> None:
        for problem in export.warnings:
            self.stderr.write(f"warning: {_where(problem)}{problem['message']}")
        if export.state != Export.State.READY:
            for problem in export.errors:
                self.stderr.write(f"error: {_where(problem)}{problem['message']}")
            raise CommandError(f"Export {export.pk} failed; nothing was written.")
        files = {"train": export.train_file, "validation": export.validation_file}
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            for split, stored in files.items():
                with stored.open("rb") as source, (out / f"{split}.jsonl").open("wb") as target:
                    shutil.copyfileobj(source, target)
        self.stdout.write(
            f"Export {export.pk} ready: {export.sessions_count} sessions, "
            f"{export.examples_count} examples ({export.train_count} train, "
            f"{export.validation_count} validation)."
        )
        for split, stored in files.items():
            path = out / f"{split}.jsonl" if out is not None else stored.path
            self.stdout.write(f"{split}: {path}")


def _where(problem: dict[str, Any]) -> str:
    file = problem.get("file")
    if not file:
        return ""
    line = problem.get("line")
    return f"{file}:{line}: " if line is not None else f"{file}: "
