from __future__ import annotations

from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.crypto import DecryptionError
from accounts.models import Account, Workspace
from accounts.services import account_set_cookies
from browsers.models import BrowserProfile

PROXY = {"url": "http://proxyuser:proxy-secret-1@proxy.example:3128"}


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def rotate_keys(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("rotate_keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def secrets_under_key_a(
    use_keys: Callable[..., None],
    new_key: Callable[[], str],
    workspace: Workspace,
    make_account: Callable[..., Account],
) -> tuple[str, list[Account]]:
    key_a = new_key()
    use_keys(key_a)
    accounts = [make_account(workspace, handle=f"rot{n}") for n in range(3)]
    account_set_cookies(account=accounts[0], cookies=[{"name": "sid", "value": "cookie-1"}])
    BrowserProfile.objects.filter(account=accounts[1]).update(proxy=PROXY)
    # One account has no credentials at all: nothing to rotate there.
    Account.objects.filter(pk=accounts[2].pk).update(credentials=None)
    return key_a, accounts


def test_rotation_moves_every_secret_to_the_new_key(
    secrets_under_key_a: tuple[str, list[Account]],
    use_keys: Callable[..., None],
    new_key: Callable[[], str],
) -> None:
    key_a, accounts = secrets_under_key_a
    first, second, third = accounts
    before = raw("accounts_account", "credentials", first.pk)
    key_b = new_key()
    use_keys(key_b, key_a)

    out, err = rotate_keys("--batch-size", "1")

    assert "accounts.Account.credentials: 2 value(s) re-encrypted" in out
    assert "accounts.Account.cookies: 1 value(s) re-encrypted" in out
    assert "browsers.BrowserProfile.proxy: 1 value(s) re-encrypted" in out
    for secret in ("pw-secret-1", "cookie-1", "proxy-secret-1"):
        assert secret not in out + err
    assert before not in out + err
    assert raw("accounts_account", "credentials", first.pk) != before

    use_keys(key_b)  # the old key is gone: the new one alone must open everything
    assert Account.objects.get(pk=first.pk).credentials == {
        "username": first.handle,
        "password": "pw-secret-1",
    }
    credentials = Account.objects.get(pk=second.pk).credentials
    assert credentials is not None
    assert credentials["password"] == "pw-secret-1"
    assert Account.objects.get(pk=first.pk).cookies == [{"name": "sid", "value": "cookie-1"}]
    assert Account.objects.get(pk=third.pk).credentials is None
    assert BrowserProfile.objects.get(account=second).proxy == PROXY

    use_keys(new_key())  # a key that opens nothing never yields the ciphertext
    with pytest.raises(DecryptionError):
        Account.objects.get(pk=first.pk)
    with pytest.raises(DecryptionError):
        list(BrowserProfile.objects.filter(account=second))


def test_dry_run_counts_and_writes_nothing(
    secrets_under_key_a: tuple[str, list[Account]],
    use_keys: Callable[..., None],
    new_key: Callable[[], str],
) -> None:
    key_a, accounts = secrets_under_key_a
    before = raw("accounts_account", "credentials", accounts[0].pk)
    use_keys(new_key(), key_a)

    out, _ = rotate_keys("--dry-run")

    assert "accounts.Account.credentials: 2 value(s) would be re-encrypted" in out
    assert raw("accounts_account", "credentials", accounts[0].pk) == before
    use_keys(key_a)
    credentials = Account.objects.get(pk=accounts[0].pk).credentials
    assert credentials is not None
    assert credentials["password"] == "pw-secret-1"


def test_a_value_no_key_opens_stops_with_its_row_and_field(
    secrets_under_key_a: tuple[str, list[Account]],
    use_keys: Callable[..., None],
    new_key: Callable[[], str],
) -> None:
    key_a, accounts = secrets_under_key_a
    lost = accounts[1]
    # Written under a key that is no longer configured.
    use_keys(new_key())
    Account.objects.filter(pk=lost.pk).update(credentials={"password": "pw-lost-7"})
    orphan = raw("accounts_account", "credentials", lost.pk)
    use_keys(new_key(), key_a)

    with pytest.raises(CommandError) as caught:
        rotate_keys()

    message = str(caught.value)
    assert f"accounts.Account id={lost.pk} field credentials" in message
    assert "cannot be decrypted" in message
    assert orphan not in message
    assert "pw-lost-7" not in message
    assert raw("accounts_account", "credentials", lost.pk) == orphan


def test_rotation_twice_is_harmless(
    secrets_under_key_a: tuple[str, list[Account]],
    use_keys: Callable[..., None],
    new_key: Callable[[], str],
) -> None:
    key_a, accounts = secrets_under_key_a
    key_b = new_key()
    use_keys(key_b, key_a)
    rotate_keys()
    out, _ = rotate_keys()
    assert "accounts.Account.credentials: 2 value(s) re-encrypted" in out
    use_keys(key_b)
    credentials = Account.objects.get(pk=accounts[0].pk).credentials
    assert credentials is not None
    assert credentials["password"] == "pw-secret-1"
