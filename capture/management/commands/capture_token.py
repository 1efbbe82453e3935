"""Create an ingest token for the browser extension and print it, once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Workspace
from capture.services import ingest_token_create


class Command(BaseCommand):
    help = (
        "Create an ingest token for a workspace and print it. Only its SHA-256 is stored, "
        "so this is the one time it is shown."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="The workspace's slug.")
        parser.add_argument("name", help="A name to tell the token apart, e.g. the person's.")

    def handle(self, *args: Any, workspace: str, name: str, **options: Any) -> None:
        target = Workspace.objects.filter(slug=workspace).first()
        if target is None:
            raise CommandError(f"No workspace with slug {workspace!r}.")
        if not name.strip():
            raise CommandError("Give the token a name.")
        _, plain = ingest_token_create(workspace=target, name=name.strip()[:120])
        self.stdout.write(plain)
        self.stderr.write(
            f"Ingest token {name!r} for {target.slug}. Send it as "
            "`Authorization: Capture <token>`; it is not shown again."
        )
