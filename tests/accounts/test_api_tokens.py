"""API keys: stored as their SHA-256 only, shown once when made (by a command or in the
console), sent as `Authorization: Token <key>`; keys of rest_framework.authtoken are
hashed into the new table by a migration."""

from __future__ import annotations

import hashlib
import importlib
import io
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from accounts.api.authentication import ApiTokenAuthentication
from accounts.models import Account, ApiToken, Membership, Workspace
from tests.conftest import admin_url
from tests.factories import api_token, console_client, make_user

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts/"


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def stored_text() -> str:
    """Every column of every API token row, as text."""
    return repr(list(ApiToken.objects.values()))


def test_a_key_is_stored_only_as_its_hash(workspace: Workspace) -> None:
    key = api_token(make_user(workspace))
    token = ApiToken.objects.get()
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(token.prefix) and len(token.prefix) < len(key) // 3
    assert key not in stored_text()


def test_the_api_takes_the_key_in_the_token_header(workspace: Workspace) -> None:
    person = make_user(workspace, Membership.Role.VIEWER)
    key = api_token(person)

    assert client_with(key).get(ACCOUNTS).status_code == 200
    assert ApiToken.objects.get().last_used_at is not None
    for wrong in (key + "x", key[:-1], "", f"{key} {key}"):
        response = client_with(wrong).get(ACCOUNTS)
        assert response.status_code == 401, wrong
        assert response["WWW-Authenticate"] == "Token"
    assert APIClient().get(ACCOUNTS).status_code == 401

    person.is_active = False
    person.save()
    assert client_with(key).get(ACCOUNTS).status_code == 401
    person.is_active = True
    person.save()
    ApiToken.objects.all().delete()  # revoked
    assert client_with(key).get(ACCOUNTS).status_code == 401


def test_drfs_plain_token_table_is_gone() -> None:
    assert "rest_framework.authtoken" not in settings.INSTALLED_APPS
    assert "authtoken_token" not in connection.introspection.table_names()
    classes: list[object] = list(api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    assert ApiTokenAuthentication in classes


def test_the_migration_hashes_drfs_keys_and_drops_them(workspace: Workspace) -> None:
    person = make_user(workspace)
    old_key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    created = "timestamp with time zone" if connection.vendor == "postgresql" else "datetime"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created {created} "
            "NOT NULL, user_id integer NOT NULL UNIQUE)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [old_key, datetime(2025, 3, 1, 12, 0, tzinfo=UTC), person.pk],
        )
    MigrationRecorder(connection).record_applied("authtoken", "0001_initial")
    migration = importlib.import_module("accounts.migrations.0003_hash_drf_tokens")

    migration.hash_drf_tokens(apps, connection.schema_editor())

    token = ApiToken.objects.get()
    assert (token.user, token.prefix) == (person, old_key[:12])
    assert token.created_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert old_key not in stored_text()
    assert "authtoken_token" not in connection.introspection.table_names()
    assert not MigrationRecorder(connection).migration_qs.filter(app="authtoken").exists()
    assert client_with(old_key).get(ACCOUNTS).status_code == 200  # integrators change nothing


def test_the_command_prints_a_new_key_once(workspace: Workspace) -> None:
    person = make_user(workspace)
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", person.username, "CI pipeline", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert client_with(key).get(ACCOUNTS).status_code == 200
    assert key not in err.getvalue() and key not in stored_text()
    assert ApiToken.objects.get().name == "CI pipeline"


def test_a_superuser_makes_a_key_in_the_console_and_it_is_shown_once(
    superuser_client: Client, workspace: Workspace
) -> None:
    person = make_user(workspace)
    client = superuser_client
    response = client.post(
        admin_url(ApiToken, "add"), {"user": str(person.pk), "name": "Zapier"}, follow=True
    )
    assert response.status_code == 200
    shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
    key = next(word for word in shown.split() if word.startswith("farm_"))
    token = ApiToken.objects.get()
    assert token.user == person
    assert client_with(key).get(ACCOUNTS).status_code == 200
    for url in (
        admin_url(ApiToken, "changelist"),
        admin_url(ApiToken, "change", token.pk),
        admin_url(ApiToken, "history", token.pk),
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert key not in page.content.decode(), url
        assert token.prefix in page.content.decode(), url


def test_staff_members_see_and_make_only_their_own_keys(workspace: Workspace) -> None:
    me, colleague = (make_user(workspace, is_staff=True) for _ in range(2))
    api_token(colleague, name="colleague's key")
    mine = console_client(me)

    response = mine.post(
        admin_url(ApiToken, "add"), {"user": str(colleague.pk), "name": "my key"}, follow=True
    )
    assert response.status_code == 200
    made = ApiToken.objects.get(name="my key")
    assert made.user == me  # whatever user was posted
    listing = mine.get(admin_url(ApiToken, "changelist"))
    assert list(listing.context["cl"].result_list) == [made]
    assert "colleague" not in listing.content.decode()
    theirs = ApiToken.objects.get(user=colleague)
    assert mine.get(admin_url(ApiToken, "change", theirs.pk)).status_code == 302
    assert mine.post(admin_url(ApiToken, "delete", theirs.pk), {"post": "yes"}).status_code == 302
    assert ApiToken.objects.filter(pk=theirs.pk).exists()
    mine.post(admin_url(ApiToken, "delete", made.pk), {"post": "yes"})
    assert not ApiToken.objects.filter(pk=made.pk).exists()


def test_a_key_acts_with_its_persons_roles(account: Account) -> None:
    viewer = make_user(account.workspace, Membership.Role.VIEWER)
    operator = make_user(account.workspace, Membership.Role.OPERATOR)
    pause = f"{ACCOUNTS}{account.pk}/pause/"
    assert client_with(api_token(viewer)).post(pause).status_code == 403
    assert client_with(api_token(operator)).post(pause).status_code == 200
