"""One error contract: what the API answers for each of the project's errors, and for a bug."""

from __future__ import annotations

import logging

import pytest

from accounts.models import Account, Workspace
from core.errors import ServiceError, StateConflict
from core.tasks import registered_task
from tests.factories import MakeClient
from training.services import EXPORT_TASK
from uploads.api import views as uploads_api_views
from uploads.messages import PUBLISH_TASK

POSTS = "/api/v1/posts/"


def test_a_refusal_names_its_field(
    workspace: Workspace, account: Account, api_client_for: MakeClient
) -> None:
    client = api_client_for(workspace)
    answer = client.post(
        POSTS, {"account": account.pk, "title": "x", "kind": "video"}, format="json"
    )
    assert answer.status_code == 400
    assert "media" in answer.json()


def test_a_state_conflict_is_a_409_that_says_why(
    workspace: Workspace, account: Account, api_client_for: MakeClient
) -> None:
    client = api_client_for(workspace)
    post_id = client.post(POSTS, {"account": account.pk, "title": "x"}, format="json").json()["id"]
    assert client.post(f"{POSTS}{post_id}/cancel/").status_code == 200
    again = client.post(f"{POSTS}{post_id}/cancel/")
    assert again.status_code == 409
    assert again.json()["detail"].startswith("The post is cancelled; only a post")


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (
            ServiceError("The farm is not taking posts for this account today."),
            400,
            {"non_field_errors": ["The farm is not taking posts for this account today."]},
        ),
        (
            StateConflict("Someone else changed this post a moment ago."),
            409,
            {"detail": "Someone else changed this post a moment ago."},
        ),
    ],
    ids=["service error without a field", "state conflict"],
)
def test_a_services_refusal_is_answered_by_the_one_handler(
    workspace: Workspace,
    account: Account,
    api_client_for: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: int,
    body: dict[str, object],
) -> None:
    def refuse(**_: object) -> None:
        raise error

    monkeypatch.setattr(uploads_api_views, "post_create", refuse)
    answer = api_client_for(workspace).post(
        POSTS, {"account": account.pk, "title": "x"}, format="json"
    )
    assert answer.status_code == status
    assert answer.json() == body


def test_a_bug_is_a_500_in_the_logs_not_a_400_showing_its_message(
    workspace: Workspace,
    account: Account,
    api_client_for: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(**_: object) -> None:
        raise ValueError("internal detail: list index 7")

    monkeypatch.setattr(uploads_api_views, "post_create", broken)
    client = api_client_for(workspace)
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        answer = client.post(POSTS, {"account": account.pk, "title": "x"}, format="json")
    assert answer.status_code == 500
    assert b"internal detail" not in answer.content
    assert any("internal detail" in str(record.exc_info) for record in caplog.records)


@pytest.mark.parametrize("name", [PUBLISH_TASK, EXPORT_TASK])
def test_tasks_that_services_message_by_name_are_registered(name: str) -> None:
    assert registered_task(name).name == name
