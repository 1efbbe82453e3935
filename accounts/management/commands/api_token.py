"""Make an API key for a person and print it, once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import api_token_create


class Command(BaseCommand):
    help = (
        "Make an API key for a person and print it. Only its SHA-256 is stored, so this "
        "is the one time it is shown. The key acts as the person, with their roles."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="The person's username.")
        parser.add_argument("name", help="What the key is for, e.g. the integration's name.")

    def handle(self, *args: Any, username: str, name: str, **options: Any) -> None:
        user = get_user_model()._default_manager.filter(username=username).first()
        if user is None:
            raise CommandError(f"No one has the username {username!r}.")
        if not name.strip():
            raise CommandError("Give the key a name.")
        token, key = api_token_create(user=user, name=name)
        self.stdout.write(key)
        self.stderr.write(
            f"API key {token.name!r} ({token.prefix}…) for {username}. Send it as "
            "`Authorization: Token <key>`; it is not shown again."
        )
