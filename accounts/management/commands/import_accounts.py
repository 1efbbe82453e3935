"""Create platform accounts from a CSV file, all or nothing.

Columns: platform, handle, username, password, daily_quota (optional).
Rows are numbered as a spreadsheet shows them: the header is row 1.
Cell values are never echoed, so a password in the wrong column cannot leak.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import Account, Platform, Workspace
from accounts.services import account_create

REQUIRED_COLUMNS = ("platform", "handle", "username", "password")
PROGRESS_EVERY = 500


class _RollBack(Exception):
    """Raised inside the import's transaction to undo every row."""


class Command(BaseCommand):
    help = "Create accounts in a workspace from a CSV file; nothing is saved if any row is bad."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="CSV with a header row.")
        parser.add_argument("--workspace", required=True, help="The workspace's slug.")

    def handle(self, *args: Any, file: Path, workspace: str, **options: Any) -> None:
        target = Workspace.objects.filter(slug=workspace).first()
        if target is None:
            raise CommandError(f"No workspace with slug {workspace!r}.")
        rows = self.read(file)
        errors = self.validate(rows, target)
        if not errors:
            errors = self.create(rows, target)
        if errors:
            for number, field, message in errors:
                self.stderr.write(f"row {number}: {field}: {message}")
            bad_rows = len({number for number, _, _ in errors})
            raise CommandError(f"{bad_rows} row(s) have errors; no account was saved.")
        self.stdout.write(self.style.SUCCESS(f"Created {len(rows)} account(s) in {target.slug}."))

    def read(self, path: Path) -> list[tuple[int, dict[str, str]]]:
        try:
            # utf-8-sig: spreadsheets often save a byte-order mark.
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                columns = [name.strip() for name in reader.fieldnames or []]
                missing = [name for name in REQUIRED_COLUMNS if name not in columns]
                if missing:
                    raise CommandError(f"{path}: missing column(s): {', '.join(missing)}.")
                reader.fieldnames = columns
                return [
                    (number, {key: (value or "") for key, value in row.items() if key})
                    for number, row in enumerate(reader, start=2)
                ]
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file.") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"{path}: not a readable UTF-8 CSV file ({exc}).") from None

    def validate(
        self, rows: list[tuple[int, dict[str, str]]], workspace: Workspace
    ) -> list[tuple[int, str, str]]:
        errors: list[tuple[int, str, str]] = []
        if not rows:
            return [(1, "file", "no rows after the header.")]
        handle_max = Account._meta.get_field("handle").max_length
        assert handle_max is not None  # a CharField always has one
        existing = set(workspace.accounts.values_list("platform", "handle"))
        seen: dict[tuple[str, str], int] = {}
        for number, row in rows:
            platform = row.get("platform", "").strip().lower()
            handle = row.get("handle", "").strip()
            if not platform:
                errors.append((number, "platform", "required."))
            elif platform not in Platform.values:
                errors.append(
                    (number, "platform", f"unknown; use one of {', '.join(Platform.values)}.")
                )
            if not handle:
                errors.append((number, "handle", "required."))
            elif len(handle) > handle_max:
                errors.append((number, "handle", f"longer than {handle_max} characters."))
            elif (platform, handle) in existing:
                errors.append((number, "handle", "this account already exists in the workspace."))
            elif (platform, handle) in seen:
                errors.append((number, "handle", f"repeats row {seen[(platform, handle)]}."))
            else:
                seen[(platform, handle)] = number
            if not row.get("username", "").strip():
                errors.append((number, "username", "required."))
            if not row.get("password", ""):
                errors.append((number, "password", "required."))
            quota = row.get("daily_quota", "").strip()
            if quota and not (quota.isdigit() and int(quota) > 0):
                errors.append((number, "daily_quota", "must be a whole number above 0."))
        return errors

    def create(
        self, rows: list[tuple[int, dict[str, str]]], workspace: Workspace
    ) -> list[tuple[int, str, str]]:
        """Create every row in one transaction; any service error undoes them all."""
        errors: list[tuple[int, str, str]] = []
        show_progress = len(rows) > PROGRESS_EVERY
        try:
            with transaction.atomic():
                for done, (number, row) in enumerate(rows, start=1):
                    fields: dict[str, Any] = {}
                    if row.get("daily_quota", "").strip():
                        fields["daily_quota"] = int(row["daily_quota"])
                    try:
                        account_create(
                            workspace=workspace,
                            platform=row["platform"].strip().lower(),
                            handle=row["handle"].strip(),
                            credentials={
                                "username": row["username"].strip(),
                                "password": row["password"],
                            },
                            **fields,
                        )
                    except ValidationError as exc:
                        # The service's own rules, the plan's cap first among them.
                        found = (
                            exc.message_dict
                            if hasattr(exc, "error_dict")
                            else {"account": exc.messages}
                        )
                        errors.extend(
                            (number, field, message)
                            for field, messages in found.items()
                            for message in messages
                        )
                        if "workspace" in found:
                            # Over the cap, every later row would fail the same way.
                            break
                    if show_progress and done % PROGRESS_EVERY == 0:
                        self.stdout.write(f"{done}/{len(rows)} rows")
                if errors:
                    raise _RollBack
        except _RollBack:
            pass
        return errors
