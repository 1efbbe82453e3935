from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from accounts.crypto import _fernet_for


@pytest.fixture
def new_key() -> Callable[[], str]:
    return lambda: Fernet.generate_key().decode()


@pytest.fixture
def use_keys() -> Iterator[Callable[..., None]]:
    """Switch FARM_ENCRYPTION_KEYS for the rest of the test; the first key encrypts."""
    active: list[override_settings] = []

    def use(*keys: str) -> None:
        if active:
            active.pop().disable()
        override = override_settings(FARM_ENCRYPTION_KEYS=list(keys))
        override.enable()
        active.append(override)
        _fernet_for.cache_clear()

    yield use
    if active:
        active.pop().disable()
    _fernet_for.cache_clear()
