"""Re-encrypt every stored secret under the first key in FARM_ENCRYPTION_KEYS.

To rotate: put a new key first in FARM_ENCRYPTION_KEYS, keep the old ones
after it, run this command, then drop the old keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction

from accounts.crypto import DecryptionError, EncryptedJSONField, rotate


def encrypted_fields() -> Iterator[tuple[type[models.Model], EncryptedJSONField]]:
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedJSONField):
                yield model, field


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field under the first key in FARM_ENCRYPTION_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check that every value can be opened and count them; write nothing.",
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, dry_run: bool, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        for model, field in encrypted_fields():
            label = f"{model._meta.label}.{field.name}"
            rotated, changed_meanwhile = self.rotate_field(model, field, label, dry_run, batch_size)
            if dry_run:
                self.stdout.write(f"{label}: {rotated} value(s) would be re-encrypted")
            else:
                line = f"{label}: {rotated} value(s) re-encrypted"
                if changed_meanwhile:
                    line += f", {changed_meanwhile} changed meanwhile and left as written"
                self.stdout.write(line)
        if not dry_run:
            self.stdout.write(self.style.SUCCESS("Every stored secret is under the first key."))

    def rotate_field(
        self,
        model: type[models.Model],
        field: EncryptedJSONField,
        label: str,
        dry_run: bool,
        batch_size: int,
    ) -> tuple[int, int]:
        # Raw SQL on the stored token: going through the field would decrypt on
        # read and encrypt again on write, and a filter on the field would
        # compare against a freshly encrypted (so never equal) token.
        quote = connection.ops.quote_name
        pk_column = model._meta.pk.column
        # Concrete fields (all encrypted_fields() yields) always have a column.
        assert field.column is not None and pk_column is not None
        table, column, pk = (
            quote(model._meta.db_table),
            quote(field.column),
            quote(pk_column),
        )
        where = f"{column} IS NOT NULL AND {column} <> ''"
        first_batch = f"SELECT {pk}, {column} FROM {table} WHERE {where} ORDER BY {pk} LIMIT %s"
        next_batch = (
            f"SELECT {pk}, {column} FROM {table} WHERE {pk} > %s AND {where} ORDER BY {pk} LIMIT %s"
        )
        # Conditional on the old token: a value a worker rewrote meanwhile is
        # already under the current first key and must not be overwritten.
        update = f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s"

        rotated = changed_meanwhile = 0
        last_pk: Any = None
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                if last_pk is None:
                    cursor.execute(first_batch, [batch_size])
                else:
                    cursor.execute(next_batch, [last_pk, batch_size])
                rows = cursor.fetchall()
                for row_pk, token in rows:
                    try:
                        new_token = rotate(token)
                    except DecryptionError:
                        raise CommandError(
                            f"{model._meta.label} id={row_pk} field {field.name}: the stored "
                            "value cannot be decrypted with any key in FARM_ENCRYPTION_KEYS. "
                            "Add the key it was written with and run again; values already "
                            "re-encrypted are safe to re-encrypt again."
                        ) from None
                    if dry_run:
                        rotated += 1
                        continue
                    cursor.execute(update, [new_token, row_pk, token])
                    if cursor.rowcount == 1:
                        rotated += 1
                    else:
                        changed_meanwhile += 1
            if len(rows) < batch_size:
                break
            last_pk = rows[-1][0]
            self.stderr.write(f"{label}: {rotated} so far, up to id {last_pk}")
        return rotated, changed_meanwhile
