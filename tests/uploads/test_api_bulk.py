from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Account, Membership
from tests.factories import MakeClient, MemberOfTwo
from uploads.models import Post

pytestmark = pytest.mark.django_db

BULK = "/api/v1/posts/bulk/"


def row(account: Account, n: int = 1, **fields: Any) -> dict[str, Any]:
    return {"account": account.pk, "kind": "text", "title": f"Post {n}", **fields}


def test_three_good_rows_create_three_posts(account: Account, api_client_for: MakeClient) -> None:
    rows = [
        row(account, 1),
        row(account, 2, caption="Second", priority=8),
        row(account, 3, scheduled_for="2030-05-01T12:00:00", timezone="America/New_York"),
    ]

    response = api_client_for(account.workspace).post(BULK, {"posts": rows}, format="json")

    assert response.status_code == 201, response.content
    created = response.json()["posts"]
    assert [p["title"] for p in created] == ["Post 1", "Post 2", "Post 3"]
    assert all(p["status"] == "scheduled" and p["id"] for p in created)
    assert Post.objects.filter(workspace=account.workspace).count() == 3
    assert Post.objects.get(title="Post 2").priority == 8
    assert Post.objects.get(title="Post 3").scheduled_for.isoformat() == "2030-05-01T16:00:00+00:00"


def test_bad_rows_are_listed_by_index_and_nothing_is_saved(
    account: Account,
    their_account: Account,
    api_client_for: MakeClient,
) -> None:
    rows = [
        row(account, 0),
        row(account, 1, title=""),
        row(account, 2),
        row(their_account, 3),
        row(account, 4, caption="x" * 2201),
        row(account, 5, scheduled_for="2030-05-01T12:00:00"),
        row(account, 6),
    ]

    response = api_client_for(account.workspace).post(BULK, {"posts": rows}, format="json")

    assert response.status_code == 400, response.content
    errors = {e["row"]: e["errors"] for e in response.json()["errors"]}
    assert set(errors) == {1, 3, 4, 5}
    assert "title" in errors[1]
    assert "account" in errors[3]
    assert "caption" in errors[4]
    assert "scheduled_for" in errors[5]
    assert Post.objects.count() == 0


def test_type_errors_are_reported_per_row(account: Account, api_client_for: MakeClient) -> None:
    rows = [
        row(account, 0),
        row(account, 1, priority="x"),
        row(account, 2, scheduled_for="not a time"),
        {"title": "No account"},
        "not an object",
    ]

    response = api_client_for(account.workspace).post(BULK, {"posts": rows}, format="json")

    assert response.status_code == 400, response.content
    errors = {e["row"]: e["errors"] for e in response.json()["errors"]}
    assert set(errors) == {1, 2, 3, 4}
    assert "priority" in errors[1]
    assert "scheduled_for" in errors[2]
    assert "account" in errors[3]
    assert Post.objects.count() == 0


def test_type_and_rule_errors_come_back_in_one_answer(
    account: Account, api_client_for: MakeClient
) -> None:
    rows = [row(account, 0), row(account, 1, priority="x"), row(account, 2, title="")]

    response = api_client_for(account.workspace).post(BULK, {"posts": rows}, format="json")

    assert response.status_code == 400, response.content
    errors = {e["row"]: e["errors"] for e in response.json()["errors"]}
    assert set(errors) == {1, 2}
    assert "priority" in errors[1]
    assert "title" in errors[2]
    assert Post.objects.count() == 0


@pytest.mark.parametrize("kind", ["image", "video"])
def test_rows_with_media_kinds_are_refused(
    account: Account, api_client_for: MakeClient, kind: str
) -> None:
    rows = [row(account, 0), row(account, 1, kind=kind)]

    response = api_client_for(account.workspace).post(BULK, {"posts": rows}, format="json")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["row"] == 1
    assert "text posts only" in error["errors"]["kind"][0]
    assert Post.objects.count() == 0


def test_more_than_a_thousand_rows_are_refused(
    account: Account, api_client_for: MakeClient
) -> None:
    rows = [row(account, n) for n in range(1001)]

    response = api_client_for(account.workspace).post(BULK, {"posts": rows}, format="json")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["row"] is None
    assert "1000" in error["errors"]["posts"][0]
    assert Post.objects.count() == 0


@pytest.mark.parametrize("body", [{"posts": []}, {}, {"posts": "nope"}])
def test_an_empty_or_missing_list_is_refused(
    account: Account, api_client_for: MakeClient, body: dict[str, Any]
) -> None:
    response = api_client_for(account.workspace).post(BULK, body, format="json")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["row"] is None
    assert "posts" in error["errors"]


def test_the_workspace_must_be_named_when_the_caller_has_several(
    account: Account, member_of_two: MemberOfTwo
) -> None:
    client, _ = member_of_two

    unnamed = client.post(BULK, {"posts": [row(account)]}, format="json")
    named = client.post(
        BULK, {"workspace": account.workspace_id, "posts": [row(account)]}, format="json"
    )

    assert unnamed.status_code == 400
    assert "workspace" in unnamed.json()["errors"][0]["errors"]
    assert named.status_code == 201
    assert Post.objects.count() == 1


def test_a_viewer_cannot_bulk_create(account: Account, api_client_for: MakeClient) -> None:
    viewer = api_client_for(account.workspace, role=Membership.Role.VIEWER)

    response = viewer.post(BULK, {"posts": [row(account)]}, format="json")

    assert response.status_code == 403
    assert Post.objects.count() == 0


def test_unauthenticated_bulk_is_refused(account: Account) -> None:
    response = APIClient().post(BULK, {"posts": [row(account)]}, format="json")

    assert response.status_code == 401
    assert Post.objects.count() == 0
