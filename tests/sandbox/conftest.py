from __future__ import annotations

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from sandbox.models import SandboxAccount
from sandbox.services import sandbox_account_create
from sandbox.sessions import COOKIE_NAME, session_token

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Settings) -> None:
    # The real hasher is deliberately slow; these tests check behaviour, not strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def account(db: None) -> SandboxAccount:
    return sandbox_account_create(handle="alice", password=PASSWORD)


@pytest.fixture
def signed_in(client: Client, account: SandboxAccount) -> Client:
    client.cookies[COOKIE_NAME] = session_token(account=account)
    return client
