"""Throttles: API calls per caller, failed sign-ins per address and user name; each a 429."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from accounts.models import Workspace
from capture.services import ingest_token_create
from sandbox.services import sandbox_account_create
from tests.factories import MakeClient, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_an_api_caller_over_its_rate_gets_429_with_retry_after(
    workspace: Workspace, api_client_for: MakeClient, settings: Settings
) -> None:
    settings.FARM_API_THROTTLE_CALLER = "3/minute"
    caller, other = api_client_for(workspace), api_client_for(workspace)

    answers = [caller.get("/api/v1/queue/").status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]
    throttled = caller.get("/api/v1/accounts/")
    assert throttled.status_code == 429
    assert "throttled" in throttled.json()["detail"]
    assert 0 < int(throttled["Retry-After"]) <= 60
    # Each caller has a rate of its own.
    assert other.get("/api/v1/queue/").status_code == 200


def test_ingest_tokens_are_throttled_each_on_its_own(
    workspace: Workspace, settings: Settings
) -> None:
    settings.FARM_API_THROTTLE_CALLER = "2/minute"
    clients = []
    for name in ("one", "two"):
        _, plain = ingest_token_create(workspace=workspace, name=name)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Capture {plain}")
        clients.append(client)

    first = [clients[0].get("/api/v1/capture/sessions/").status_code for _ in range(3)]

    assert first == [200, 200, 429]
    assert clients[1].get("/api/v1/capture/sessions/").status_code == 200


def test_calls_without_credentials_are_throttled_by_address(settings: Settings) -> None:
    settings.FARM_API_THROTTLE_ANON = "2/minute"
    settings.FARM_API_THROTTLE_CALLER = "2/minute"
    client = APIClient()

    answers = [client.get("/api/v1/posts/", REMOTE_ADDR="10.9.8.7").status_code for _ in range(3)]

    assert answers[:2] == [401, 401]
    assert answers[2] in (401, 429)  # refused either way; never served


def _person(password: str) -> User:
    user = make_user(is_staff=True)
    user.set_password(password)
    user.save()
    return user


def test_failed_console_sign_ins_lock_that_user_name_at_that_address(client: Client) -> None:
    person = _person("right-password")
    login = {"username": person.username, "password": "wrong"}

    answers = [client.post("/admin/login/", login).status_code for _ in range(5)]

    assert answers == [200, 200, 200, 200, 429]
    locked = client.post("/admin/login/", {**login, "password": "right-password"})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert int(locked["Retry-After"]) == 15 * 60
    # Another address may still sign in as that person.
    elsewhere = Client(REMOTE_ADDR="192.0.2.10").post(
        "/admin/login/", {**login, "password": "right-password"}
    )
    assert elsewhere.status_code == 302


def test_a_successful_console_sign_in_clears_the_count(client: Client) -> None:
    person = _person("right-password")
    for _ in range(4):
        client.post("/admin/login/", {"username": person.username, "password": "wrong"})
    assert (
        client.post(
            "/admin/login/", {"username": person.username, "password": "right-password"}
        ).status_code
        == 302
    )
    client.logout()
    answers = [
        client.post("/admin/login/", {"username": person.username, "password": "wrong"}).status_code
        for _ in range(4)
    ]
    assert answers == [200, 200, 200, 200]


def test_failed_sandbox_sign_ins_lock_that_handle_at_that_address(client: Client) -> None:
    sandbox_account_create(handle="carol", password="carol-password")

    answers = [
        client.post("/sandbox/login/", {"handle": "carol", "password": "wrong"}).status_code
        for _ in range(5)
    ]

    assert answers == [200, 200, 200, 200, 429]
    right = {"handle": "carol", "password": "carol-password"}
    assert client.post("/sandbox/login/", right).status_code == 429
    assert Client(REMOTE_ADDR="192.0.2.10").post("/sandbox/login/", right).status_code == 302
    # The console's count for the same name is its own.
    assert client.post("/admin/login/", {"username": "carol", "password": "x"}).status_code == 200
