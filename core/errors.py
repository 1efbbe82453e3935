"""The project's errors: what a service raises when it refuses.

The API's exception handler (`core.api.exception_handler`) turns them into
answers, so views carry no try/except of their own:

- `ServiceError`: bad input, 400, naming the field when one is to blame.
  It is a Django `ValidationError`, so forms, the admin and management
  commands treat it as one.
- `RowErrors`: bad rows of a batch, 400, each row by index; nothing saved.
- `StateConflict`: the object's current state does not allow it, 409.

Anything else (a `ValueError` from a bug) is a 500 and a traceback in the
logs, never a 400 showing an internal message.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model


class ServiceError(ValidationError):
    """Input a service refuses; `field` names what is wrong when one field is.

    Several fields at once: `ServiceError({"title": ["..."], "media": ["..."]})`.
    """

    def __init__(self, message: str | dict[str, list[str]], *, field: str | None = None) -> None:
        self.field = field
        super().__init__({field: [message]} if field else message)


class RowErrors(ServiceError):
    """A batch refused whole: `rows` is a list of {"row": index or None, "errors": {...}}."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        super().__init__(f"{len(rows)} bad row(s); nothing was saved.")


class StateConflict(Exception):
    """The object's current state does not allow this change."""


def require_state_change(changed: bool, obj: Model, *, field: str, allowed: str) -> None:
    """Raise `StateConflict` unless a state change happened, saying what state stopped it.

    The services' state changes are conditional UPDATEs that answer whether
    they moved the row; the caller says which states would have allowed it.
    """
    if changed:
        return
    obj.refresh_from_db(fields=[field])
    shown = getattr(obj, f"get_{field}_display")().lower()
    raise StateConflict(f"The {obj._meta.verbose_name} is {shown}; only {allowed}.")
