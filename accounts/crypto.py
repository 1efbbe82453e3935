"""Encryption at rest for credentials and cookies.

MultiFernet over the keys in settings.FARM_ENCRYPTION_KEYS: the first key
encrypts, every key decrypts, so keys rotate without downtime.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FARM_ENCRYPTION_KEYS is empty: set at least one Fernet key.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FARM_ENCRYPTION_KEYS holds a malformed key: each must be 32 url-safe "
            "base64-encoded bytes (generate one with Fernet.generate_key())."
        ) from exc


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FARM_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        # Never fall back to handing back the stored text: it is ciphertext.
        raise DecryptionError(
            "A stored secret cannot be decrypted with any key in FARM_ENCRYPTION_KEYS; "
            "was a key removed before `manage.py rotate_keys` ran?"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a token under the first (primary) key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "A stored secret cannot be decrypted with any configured key."
        ) from None


class EncryptedJSONField(models.TextField):
    """A JSON value stored as a Fernet token.

    Values decrypt on load; a token no configured key opens raises
    DecryptionError rather than surfacing ciphertext.
    """

    # Typing only (django-stubs reads these): the field holds any JSON value,
    # not the str that TextField declares.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    description = "JSON encrypted at rest"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return None
        return json.loads(decrypt(value))

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt(json.dumps(value, separators=(",", ":")))

    def to_python(self, value: Any) -> Any:
        return value

    def value_to_string(self, obj: models.Model) -> str:
        # Serialisers (dumpdata) get the ciphertext, never the secret.
        return self.get_prep_value(self.value_from_object(obj)) or ""
