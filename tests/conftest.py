"""Fixtures shared by every test: workspaces, accounts, users and API clients."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, cast

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Account, Membership, Workspace
from accounts.services import account_create, membership_add, workspace_create

if TYPE_CHECKING:
    from kombu import Connection
    from kombu.transport.virtual import Channel as VirtualChannel

_counter = itertools.count(1)


@pytest.fixture
def make_workspace(db: None) -> Callable[..., Workspace]:
    def make(**fields: object) -> Workspace:
        n = next(_counter)
        return workspace_create(
            name=str(fields.pop("name", f"Workspace {n}")),
            slug=str(fields.pop("slug", f"workspace-{n}")),
            **fields,  # type: ignore[arg-type]
        )

    return make


@pytest.fixture
def workspace(make_workspace: Callable[..., Workspace]) -> Workspace:
    return make_workspace(name="Acme", slug="acme")


@pytest.fixture
def make_account(db: None) -> Callable[..., Account]:
    def make(workspace: Workspace, **fields: object) -> Account:
        n = next(_counter)
        fields.setdefault("platform", "sandbox")
        fields.setdefault("handle", f"user{n}")
        fields.setdefault("credentials", {"username": fields["handle"], "password": "pw-secret-1"})
        return account_create(workspace=workspace, **fields)  # type: ignore[arg-type]

    return make


@pytest.fixture
def account(workspace: Workspace, make_account: Callable[..., Account]) -> Account:
    return make_account(workspace)


@pytest.fixture
def superuser(db: None) -> User:
    return get_user_model().objects.create_superuser("root", "root@example.com", None)


@pytest.fixture
def superuser_client(client: Client, superuser: User) -> Client:
    """The console (the admin) signed in as a superuser."""
    client.force_login(superuser)
    return client


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(workspace: Workspace | None = None, role: str = Membership.Role.OPERATOR) -> User:
        n = next(_counter)
        user = get_user_model().objects.create_user(username=f"user{n}", password="pw-123456")
        if workspace is not None:
            membership_add(workspace=workspace, user=user, role=role)
        return user

    return make


class MemberClient(APIClient):
    """An API client that keeps the member it is signed in as."""

    user: User


@pytest.fixture
def api_client_for(make_user: Callable[..., User]) -> Callable[..., MemberClient]:
    """An API client authenticated by token as a member of the given workspace."""

    def make(workspace: Workspace, role: str = Membership.Role.OPERATOR) -> MemberClient:
        user = make_user(workspace, role)
        token, _ = Token.objects.get_or_create(user=user)
        client = MemberClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        client.user = user
        return client

    return make


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
        broker_channel(conn).queue_delete(queue)


def broker_channel(conn: Connection) -> VirtualChannel:
    """The connection's default channel, with the queue calls of kombu's virtual transports.

    Both brokers the farm runs on (Redis, the filesystem transport) are virtual
    transports; kombu types default_channel only as the abstract StdChannel.
    """
    return cast("VirtualChannel", conn.default_channel)


def broker_queue_size(queue: str | None = None) -> int:
    """How many messages wait in a queue of the real broker."""
    from config.celery import app

    name = queue or app.conf.task_default_queue
    with app.connection_for_write() as conn:
        return broker_channel(conn).queue_declare(queue=name, passive=False).message_count


def broker_queue_purge(queue: str | None = None) -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        broker_channel(conn).queue_purge(queue or app.conf.task_default_queue)
