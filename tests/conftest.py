"""Fixtures shared by every test: workspaces, accounts, people, posts, clients, a whole farm.

The builders themselves are in tests/factories.py; these hand them out with
the database at hand.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from kombu import Connection
from kombu.transport import virtual
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from accounts.models import Account, Membership, Workspace
from tests import factories
from tests.factories import (
    Farm,
    MakeAccount,
    MakeClient,
    MakePost,
    MakeUser,
    MakeWorkspace,
    MemberOfTwo,
)
from tests.fakes import ScriptedPlatform
from uploads.publishers import _REGISTRY as PUBLISHERS
from uploads.publishers import register


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Throttles and failed logins counted by one test are not another's."""
    yield
    cache.clear()


@pytest.fixture
def make_workspace(db: None) -> MakeWorkspace:
    return factories.make_workspace


@pytest.fixture
def workspace(make_workspace: MakeWorkspace) -> Workspace:
    return make_workspace(name="Acme", slug="acme")


@pytest.fixture
def make_account(db: None) -> MakeAccount:
    return factories.make_account


@pytest.fixture
def account(workspace: Workspace, make_account: MakeAccount) -> Account:
    return make_account(workspace)


@pytest.fixture
def their_account(make_workspace: MakeWorkspace, make_account: MakeAccount) -> Account:
    """An account in someone else's workspace, which the test's people may not see."""
    return make_account(make_workspace())


@pytest.fixture
def make_user(db: None) -> MakeUser:
    return factories.make_user


@pytest.fixture
def superuser(db: None) -> User:
    return factories.make_superuser()


@pytest.fixture
def superuser_client(client: Client, superuser: User) -> Client:
    """The console (the admin) signed in as a superuser."""
    client.force_login(superuser)
    return client


@pytest.fixture
def api_client_for(make_user: MakeUser) -> MakeClient:
    """An API client authenticated by token as a member of the given workspace."""

    def make(workspace: Workspace, role: str = Membership.Role.OPERATOR) -> APIClient:
        return factories.token_client(make_user(workspace, role))

    return make


@pytest.fixture
def member_of_two(workspace: Workspace, api_client_for: MakeClient) -> MemberOfTwo:
    """An operator of the test's workspace and of a second one: their API client, the second."""
    client = api_client_for(workspace)
    return client, factories.join_new_workspace(client)


@pytest.fixture
def make_post(db: None) -> MakePost:
    return factories.make_post


@pytest.fixture
def tiktok() -> Iterator[ScriptedPlatform]:
    """TikTok's publisher, for this test a platform that answers from a script (tests/fakes.py)."""
    register(ScriptedPlatform)
    publisher = PUBLISHERS["tiktok"]
    assert isinstance(publisher, ScriptedPlatform)
    yield publisher
    del PUBLISHERS["tiktok"]


@pytest.fixture
def media_in_tmp(settings: Settings, tmp_path: Path) -> Path:
    """Stored files (media, screenshots, exports) of the test go to a folder of its own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def farm(workspace: Workspace, media_in_tmp: Path) -> Farm:
    """One of every model of the farm, to look at in the console.

    (The end-to-end tests have a `farm` of their own: the farm's processes.)
    """
    return factories.make_farm(workspace)


def admin_url(model: type[Model], view: str, *args: object) -> str:
    """The console's page of a model: changelist, add, change, history, delete."""
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def run_action(client: Client, changelist: str, action: str, ids: Sequence[object]) -> list[str]:
    """Apply a console action to the selected rows; the messages it shows."""
    response = client.post(
        reverse(changelist), {"action": action, "_selected_action": [str(i) for i in ids]}
    )
    assert response.status_code == 302
    return [str(message) for message in get_messages(response.wsgi_request)]


def _broker_channel(conn: Connection) -> virtual.Channel:
    """The connection's channel, a virtual one as for every broker the farm runs on
    (filesystem, Redis): that is the channel with the queue_* calls used here."""
    channel = conn.default_channel
    assert isinstance(channel, virtual.Channel), type(channel)
    return channel


@pytest.fixture(scope="session", autouse=True)
def _own_celery_queue() -> Iterator[str]:
    """Each test process sends its publish messages to a queue of its own, purged at the end."""
    from config.celery import app

    queue = f"test-{uuid.uuid4().hex[:12]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    yield queue
    app.conf.task_default_queue = previous
    with contextlib.suppress(Exception), app.connection_for_write() as conn:
        _broker_channel(conn).queue_delete(queue)


def broker_queue_size(queue: str | None = None) -> int:
    """How many messages wait in a queue of the real broker."""
    from config.celery import app

    name = queue or app.conf.task_default_queue
    with app.connection_for_write() as conn:
        return _broker_channel(conn).queue_declare(queue=name, passive=False).message_count


def broker_queue_purge(queue: str | None = None) -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        _broker_channel(conn).queue_purge(queue or app.conf.task_default_queue)
