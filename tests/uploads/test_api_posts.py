from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account, Membership, Workspace
from tests.factories import (
    MakeAccount,
    MakeClient,
    MakePost,
    MakeWorkspace,
    MemberOfTwo,
    join_new_workspace,
    png_bytes,
)
from uploads.models import Campaign, Post, PostAttempt, PostStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_in_tmp")]

POSTS = "/api/v1/posts/"


def url(post: Post, action: str = "") -> str:
    return f"{POSTS}{post.pk}/{action + '/' if action else ''}"


def text_post(account: Account, **fields: Any) -> dict[str, Any]:
    return {"account": account.pk, "kind": "text", "title": "Hello", **fields}


# --- Create -----------------------------------------------------------------


def test_create_a_text_post(account: Account, api_client_for: MakeClient) -> None:
    response = api_client_for(account.workspace).post(
        POSTS,
        text_post(account, caption="First words", priority=7),
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "scheduled"
    assert body["workspace"] == account.workspace_id
    assert body["media"] is None
    assert body["publish_token"]
    post = Post.objects.get(pk=body["id"])
    assert (post.account, post.title, post.caption, post.priority) == (
        account,
        "Hello",
        "First words",
        7,
    )


def test_create_an_image_post_with_a_real_png(account: Account, api_client_for: MakeClient) -> None:
    image = SimpleUploadedFile("cat.png", png_bytes(), content_type="image/png")

    response = api_client_for(account.workspace).post(
        POSTS,
        {"account": account.pk, "kind": "image", "title": "A cat", "media": image},
        format="multipart",
    )

    assert response.status_code == 201, response.content
    assert response.json()["media"].startswith("http://testserver/media/posts/")
    assert response.json()["media"].endswith(".png")
    post = Post.objects.get(pk=response.json()["id"])
    assert post.kind == Post.Kind.IMAGE
    with post.media.open("rb") as stored:
        assert stored.read() == png_bytes()


def test_a_naive_time_is_read_in_the_given_time_zone(
    account: Account, api_client_for: MakeClient
) -> None:
    response = api_client_for(account.workspace).post(
        POSTS,
        text_post(account, scheduled_for="2030-01-15T09:00:00", timezone="Europe/Paris"),
        format="json",
    )

    assert response.status_code == 201, response.content
    post = Post.objects.get(pk=response.json()["id"])
    assert post.scheduled_for == datetime(2030, 1, 15, 8, 0, tzinfo=UTC)


def test_a_time_with_an_offset_needs_no_time_zone(
    account: Account, api_client_for: MakeClient
) -> None:
    response = api_client_for(account.workspace).post(
        POSTS, text_post(account, scheduled_for="2030-01-15T09:00:00+02:00"), format="json"
    )

    assert response.status_code == 201, response.content
    post = Post.objects.get(pk=response.json()["id"])
    assert post.scheduled_for == datetime(2030, 1, 15, 7, 0, tzinfo=UTC)


def test_create_in_a_campaign(account: Account, api_client_for: MakeClient) -> None:
    campaign = Campaign.objects.create(workspace=account.workspace, name="Launch")

    response = api_client_for(account.workspace).post(
        POSTS, text_post(account, campaign=campaign.pk), format="json"
    )

    assert response.status_code == 201, response.content
    assert Post.objects.get(pk=response.json()["id"]).campaign == campaign


def test_a_campaign_of_another_workspace_is_refused(
    account: Account, make_workspace: MakeWorkspace, api_client_for: MakeClient
) -> None:
    theirs = Campaign.objects.create(workspace=make_workspace(), name="Theirs")

    response = api_client_for(account.workspace).post(
        POSTS, text_post(account, campaign=theirs.pk), format="json"
    )

    assert response.status_code == 400
    assert "campaign" in response.json()
    assert Post.objects.count() == 0


def _not_an_image() -> SimpleUploadedFile:
    return SimpleUploadedFile("cat.png", b"this is plain text, not a picture")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"title": None}, "title", id="missing title"),
        pytest.param({"title": "   "}, "title", id="blank title"),
        pytest.param({"caption": "x" * 2201}, "caption", id="caption over 2200"),
        pytest.param({"kind": "podcast"}, "kind", id="unknown kind"),
        pytest.param({"kind": "image"}, "media", id="image without media"),
        pytest.param({"kind": "image", "media": _not_an_image}, "media", id="not an image"),
        pytest.param({"timezone": "Mars/Olympus"}, "timezone", id="invalid time zone"),
        pytest.param({"scheduled_for": "2030-01-15T09:00:00"}, "scheduled_for", id="naive time"),
        pytest.param({"scheduled_for": "next tuesday"}, "scheduled_for", id="not a time"),
        pytest.param({"priority": 0}, "priority", id="priority 0"),
        pytest.param({"priority": 11}, "priority", id="priority 11"),
        pytest.param({"priority": "x"}, "priority", id="priority not a number"),
        pytest.param({"account": None}, "account", id="missing account"),
    ],
)
def test_bad_input_answers_400_naming_the_field(
    account: Account, api_client_for: MakeClient, changes: dict[str, Any], field: str
) -> None:
    data = text_post(account)
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value() if callable(value) else value

    response = api_client_for(account.workspace).post(POSTS, data, format="multipart")

    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert response.json()[field][0]
    assert Post.objects.count() == 0


def test_an_account_of_another_workspace_is_refused_without_revealing_it(
    workspace: Workspace,
    their_account: Account,
    api_client_for: MakeClient,
) -> None:
    client = api_client_for(workspace)

    foreign = client.post(POSTS, text_post(their_account), format="json")
    missing = client.post(
        POSTS, {**text_post(their_account), "account": their_account.pk + 1000}, format="json"
    )

    assert foreign.status_code == missing.status_code == 400
    assert foreign.json()["account"] == missing.json()["account"]
    assert Post.objects.count() == 0


def test_the_workspace_is_required_only_when_the_caller_has_several(
    member_of_two: MemberOfTwo, make_account: MakeAccount
) -> None:
    client, second = member_of_two
    account = make_account(second)

    unnamed = client.post(POSTS, text_post(account), format="json")
    named = client.post(POSTS, text_post(account, workspace=second.pk), format="json")

    assert unnamed.status_code == 400
    assert "workspace" in unnamed.json()
    assert named.status_code == 201
    assert Post.objects.get().workspace == second


def test_a_workspace_the_caller_is_not_in_is_refused(
    account: Account, make_workspace: MakeWorkspace, api_client_for: MakeClient
) -> None:
    response = api_client_for(account.workspace).post(
        POSTS, text_post(account, workspace=make_workspace().pk), format="json"
    )

    assert response.status_code == 400
    assert "workspace" in response.json()
    assert Post.objects.count() == 0


def test_a_viewer_cannot_create_cancel_or_requeue(
    account: Account, api_client_for: MakeClient, make_post: MakePost
) -> None:
    viewer = api_client_for(account.workspace, role=Membership.Role.VIEWER)
    scheduled = make_post(account)
    dead = make_post(account, status=PostStatus.DEAD)

    assert viewer.get(POSTS).json()["count"] == 2
    assert viewer.get(url(scheduled)).status_code == 200
    assert viewer.post(POSTS, text_post(account), format="json").status_code == 403
    assert viewer.post(url(scheduled, "cancel")).status_code == 403
    assert viewer.post(url(dead, "requeue")).status_code == 403
    assert Post.objects.count() == 2
    assert Post.objects.get(pk=scheduled.pk).status == PostStatus.SCHEDULED
    assert Post.objects.get(pk=dead.pk).status == PostStatus.DEAD


def test_a_viewer_here_may_still_write_where_they_operate(
    account: Account,
    make_account: MakeAccount,
    api_client_for: MakeClient,
) -> None:
    client = api_client_for(account.workspace, role=Membership.Role.VIEWER)
    other = join_new_workspace(client)
    other_account = make_account(other)

    as_viewer = client.post(
        POSTS, text_post(account, workspace=account.workspace_id), format="json"
    )
    as_operator = client.post(POSTS, text_post(other_account, workspace=other.pk), format="json")

    assert as_viewer.status_code == 403
    assert as_operator.status_code == 201
    assert Post.objects.get().workspace == other


def test_unauthenticated_requests_are_refused(account: Account, make_post: MakePost) -> None:
    client = APIClient()
    post = make_post(account)

    assert client.get(POSTS).status_code == 401
    assert client.get(url(post)).status_code == 401
    assert client.post(POSTS, text_post(account), format="json").status_code == 401
    assert client.post(url(post, "cancel")).status_code == 401
    assert Post.objects.get(pk=post.pk).status == PostStatus.SCHEDULED


# --- Read -----------------------------------------------------------------


def test_list_shows_only_the_callers_workspaces(
    account: Account,
    their_account: Account,
    make_post: MakePost,
    api_client_for: MakeClient,
) -> None:
    mine = {make_post(account).pk, make_post(account).pk}
    make_post(their_account)

    response = api_client_for(account.workspace).get(POSTS)

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert {row["id"] for row in response.json()["results"]} == mine


def test_list_filters_and_ordering(
    account: Account,
    make_account: MakeAccount,
    make_post: MakePost,
    api_client_for: MakeClient,
) -> None:
    client = api_client_for(account.workspace)
    other_account = make_account(account.workspace)
    now = timezone.now()
    scheduled = make_post(account, priority=3, scheduled_for=now + timedelta(days=2))
    dead = make_post(account, status=PostStatus.DEAD, priority=9)
    posted = make_post(other_account, status=PostStatus.POSTED, priority=5)
    make_post(account, status=PostStatus.CANCELLED, priority=1)

    def ids(**params: Any) -> list[int]:
        response = client.get(POSTS, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert set(ids(status=["scheduled", "dead"])) == {scheduled.pk, dead.pk}
    assert ids(account=other_account.pk) == [posted.pk]
    assert ids(scheduled_for_after=(now + timedelta(days=1)).isoformat()) == [scheduled.pk]
    assert ids(ordering="-priority")[:3] == [dead.pk, posted.pk, scheduled.pk]
    assert client.get(POSTS, {"status": "bogus"}).status_code == 400


def test_detail_includes_the_attempts(
    account: Account, make_post: MakePost, api_client_for: MakeClient
) -> None:
    post = make_post(account, status=PostStatus.RETRY_WAIT, attempts_count=1)
    first = PostAttempt.objects.create(
        post=post,
        account=account,
        number=1,
        worker="worker-a",
        outcome=PostAttempt.Outcome.ERROR,
        error_kind="transient",
        message="The upload page timed out.",
    )
    first.screenshot.save("shot.png", ContentFile(png_bytes()))
    PostAttempt.objects.create(post=post, account=account, number=2)

    response = api_client_for(account.workspace).get(url(post))

    assert response.status_code == 200
    attempts = response.json()["attempts"]
    assert [a["number"] for a in attempts] == [1, 2]
    assert set(attempts[0]) == {
        "number",
        "dispatched_at",
        "started_at",
        "finished_at",
        "worker",
        "outcome",
        "error_kind",
        "message",
        "browser_reused",
        "screenshot",
    }
    assert attempts[0]["worker"] == "worker-a"
    assert attempts[0]["error_kind"] == "transient"
    assert attempts[0]["screenshot"].endswith(".png")
    assert attempts[1]["screenshot"] is None


@pytest.mark.parametrize(
    ("method", "action"), [("get", ""), ("post", "cancel"), ("post", "requeue")]
)
def test_another_workspaces_post_is_not_found(
    workspace: Workspace,
    their_account: Account,
    make_post: MakePost,
    api_client_for: MakeClient,
    method: str,
    action: str,
) -> None:
    status = PostStatus.DEAD if action == "requeue" else PostStatus.SCHEDULED
    theirs = make_post(their_account, status=status)

    response = getattr(api_client_for(workspace), method)(url(theirs, action))

    assert response.status_code == 404
    assert Post.objects.get(pk=theirs.pk).status == status


# --- Cancel and requeue ----------------------------------------------------


def test_cancel_then_requeue(
    account: Account, make_post: MakePost, api_client_for: MakeClient
) -> None:
    client = api_client_for(account.workspace)
    post = make_post(account)

    cancelled = client.post(url(post, "cancel"))
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert Post.objects.get(pk=post.pk).status == PostStatus.CANCELLED

    again = client.post(url(post, "cancel"))
    assert again.status_code == 409
    assert "cancelled" in again.json()["detail"]

    requeued = client.post(url(post, "requeue"))
    assert requeued.status_code == 200
    assert requeued.json()["status"] == "scheduled"
    assert Post.objects.get(pk=post.pk).status == PostStatus.SCHEDULED


def test_a_dead_post_is_requeued_with_fresh_attempts(
    account: Account, make_post: MakePost, api_client_for: MakeClient
) -> None:
    post = make_post(
        account, status=PostStatus.DEAD, attempts_count=4, last_error="Timed out four times."
    )

    response = api_client_for(account.workspace).post(url(post, "requeue"))

    assert response.status_code == 200
    assert response.json()["status"] == "scheduled"
    assert response.json()["attempts_count"] == 0
    post.refresh_from_db()
    assert (post.status, post.attempts_count, post.last_error) == (PostStatus.SCHEDULED, 0, "")


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (PostStatus.SCHEDULED, "requeue"),
        (PostStatus.PUBLISHING, "cancel"),
        (PostStatus.POSTED, "cancel"),
        (PostStatus.POSTED, "requeue"),
    ],
)
def test_cancel_and_requeue_answer_409_when_the_state_does_not_allow_it(
    account: Account, make_post: MakePost, api_client_for: MakeClient, status: str, action: str
) -> None:
    post = make_post(account, status=status)

    response = api_client_for(account.workspace).post(url(post, action))

    assert response.status_code == 409
    assert PostStatus(status).label.lower() in response.json()["detail"]
    assert Post.objects.get(pk=post.pk).status == status
