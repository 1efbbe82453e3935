from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts.crypto import DecryptionError, decrypt, encrypt, rotate


def test_round_trip(use_keys: Callable[..., None], new_key: Callable[[], str]) -> None:
    use_keys(new_key())
    token = encrypt('{"password": "pw-secret-1"}')
    assert "pw-secret-1" not in token
    assert decrypt(token) == '{"password": "pw-secret-1"}'


def test_every_key_decrypts_and_the_first_encrypts(
    use_keys: Callable[..., None], new_key: Callable[[], str]
) -> None:
    old, new = new_key(), new_key()
    use_keys(old)
    token = encrypt("secret")
    use_keys(new, old)
    assert decrypt(token) == "secret"
    rotated = rotate(token)
    use_keys(new)
    assert decrypt(rotated) == "secret"
    with pytest.raises(DecryptionError):
        decrypt(token)


def test_wrong_key_raises_a_clear_error_and_never_the_ciphertext(
    use_keys: Callable[..., None], new_key: Callable[[], str]
) -> None:
    use_keys(new_key())
    token = encrypt("secret")
    use_keys(new_key())
    with pytest.raises(DecryptionError) as caught:
        decrypt(token)
    message = str(caught.value)
    assert "cannot be decrypted" in message
    assert "FARM_ENCRYPTION_KEYS" in message
    assert token not in message
    with pytest.raises(DecryptionError):
        rotate(token)


def test_garbage_token_raises_decryption_error(
    use_keys: Callable[..., None], new_key: Callable[[], str]
) -> None:
    use_keys(new_key())
    with pytest.raises(DecryptionError):
        decrypt("not a fernet token")


@pytest.mark.parametrize("keys", [("not-a-key",), ("c2hvcnQ=",)])
def test_malformed_key_is_a_configuration_error(
    use_keys: Callable[..., None], keys: tuple[str, ...]
) -> None:
    use_keys(*keys)
    with pytest.raises(ImproperlyConfigured, match="malformed key"):
        encrypt("secret")


def test_no_key_is_a_configuration_error(use_keys: Callable[..., None]) -> None:
    use_keys()
    with pytest.raises(ImproperlyConfigured, match="empty"):
        encrypt("secret")
