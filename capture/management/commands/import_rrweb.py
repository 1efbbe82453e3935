"""Import an rrweb recording as a captured session."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Workspace
from capture.models import CapturedSession
from capture.rrweb import RrwebError, rrweb_convert
from capture.services import (
    MAX_EVENTS_PER_BATCH,
    capture_settings_get,
    session_close,
    session_events_append,
    session_open,
)


class Command(BaseCommand):
    help = (
        "Turn an rrweb recording (a JSON array of rrweb events: Meta, FullSnapshot, and "
        "IncrementalSnapshot clicks, inputs and scrolls) into a captured session, scored "
        "and accepted or rejected like any other."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The recording: a .json file holding an array of events.")
        parser.add_argument(
            "--workspace", help="The workspace's slug; needed when there is more than one."
        )
        parser.add_argument("--task", default="", help="What the person in the recording did.")

    def handle(
        self, *args: Any, file: str, workspace: str | None, task: str, **options: Any
    ) -> None:
        target = self._workspace(workspace)
        path = Path(file)
        try:
            with path.open("rb") as handle:
                recording = json.load(handle)
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file.") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{file} is not JSON: {exc}.") from None

        allow = capture_settings_get(workspace=target).input_allow_list or []
        show = self._progress if isinstance(recording, list) and len(recording) >= 5000 else None
        try:
            converted = rrweb_convert(recording, allow_list=allow, progress=show)
        except RrwebError as exc:
            raise CommandError(f"{file}: {exc}") from None
        finally:
            if show is not None:
                self.stderr.write("")
        if not converted.events:
            raise CommandError(f"{file}: no page, click, input or scroll to import.")
        for note in converted.skipped[:20]:
            self.stderr.write(f"skipped {note}")
        if len(converted.skipped) > 20:
            self.stderr.write(f"... and {len(converted.skipped) - 20} more skipped")

        session = session_open(
            workspace=target,
            kind=CapturedSession.Kind.HUMAN,
            start_url=converted.start_url,
            viewport=converted.viewport,
            task=task,
        )
        errors = 0
        for start in range(0, len(converted.events), MAX_EVENTS_PER_BATCH):
            result = session_events_append(
                session=session, events=converted.events[start : start + MAX_EVENTS_PER_BATCH]
            )
            errors += len(result.errors)
            for error in result.errors[:5]:
                self.stderr.write(f"event refused: {error}")
        session = session_close(session=session)
        self.stdout.write(
            f"Imported {session.events_count} events as session {session.pk} "
            f"({session.state}, quality {session.quality:.2f})"
            + (f": {session.rejection_reason}" if session.rejection_reason else "")
            + (f"; {errors} events refused" if errors else "")
        )

    def _workspace(self, slug: str | None) -> Workspace:
        if slug:
            found = Workspace.objects.filter(slug=slug).first()
            if found is None:
                raise CommandError(f"No workspace with slug {slug!r}.")
            return found
        workspaces = list(Workspace.objects.order_by("pk")[:2])
        if len(workspaces) != 1:
            raise CommandError(
                "Say which workspace with --workspace SLUG."
                if workspaces
                else "There is no workspace yet."
            )
        return workspaces[0]

    def _progress(self, done: int, total: int) -> None:
        # One line, rewritten in place on a terminal; a line per step in a log.
        text = f"reading events: {done:,}/{total:,} ({done * 100 // total}%)"
        if sys.stderr.isatty():
            self.stderr.write("\r" + text, ending="")
        else:
            self.stderr.write(text)
