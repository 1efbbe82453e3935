"""Dead letters through the API: posts whose attempts are used up, listed and requeued."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Account, Membership
from tests.factories import MakeAccount, MakeClient, MakePost, join_new_workspace
from uploads.models import Post, PostAttempt, PostStatus

pytestmark = pytest.mark.django_db

DEAD = "/api/v1/posts/dead/"
REQUEUE_DEAD = "/api/v1/posts/dead/requeue/"


def dead_post(make_post: MakePost, account: Account, title: str = "Gave up") -> Post:
    post = make_post(
        account,
        status=PostStatus.DEAD,
        title=title,
        attempts_count=4,
        dispatch_count=4,
        last_error="the sandbox did not answer in time",
    )
    for number in range(1, 5):
        PostAttempt.objects.create(
            post=post,
            account=account,
            number=number,
            outcome=PostAttempt.Outcome.ERROR,
            error_kind="transient",
            message=f"timeout {number}",
        )
    return post


def statuses(*posts: Post) -> list[str]:
    return [Post.objects.get(pk=post.pk).status for post in posts]


# --- Listing -----------------------------------------------------------------


def test_dead_posts_are_listed_with_their_attempts_inline(
    account: Account,
    their_account: Account,
    make_post: MakePost,
    api_client_for: MakeClient,
) -> None:
    dead = dead_post(make_post, account)
    make_post(account, status=PostStatus.RETRY_WAIT, attempts_count=2)
    make_post(account, status=PostStatus.FAILED)
    dead_post(make_post, their_account, title="Someone else's")

    response = api_client_for(account.workspace, role=Membership.Role.VIEWER).get(DEAD)

    assert response.status_code == 200
    assert response.json()["count"] == 1
    [row] = response.json()["results"]
    assert (row["id"], row["status"]) == (dead.pk, "dead")
    assert (row["attempts_count"], row["max_attempts"]) == (4, 4)
    assert row["last_error"] == "the sandbox did not answer in time"
    assert [a["number"] for a in row["attempts"]] == [1, 2, 3, 4]
    assert row["attempts"][3]["message"] == "timeout 4"


def test_the_dead_list_takes_the_lists_filters(
    account: Account,
    make_account: MakeAccount,
    make_post: MakePost,
    api_client_for: MakeClient,
) -> None:
    other = make_account(account.workspace)
    mine = dead_post(make_post, account)
    dead_post(make_post, other)
    client = api_client_for(account.workspace)

    response = client.get(DEAD, {"account": account.pk})

    assert [row["id"] for row in response.json()["results"]] == [mine.pk]
    assert client.get(DEAD, {"account": "x"}).status_code == 400


def test_the_status_filter_finds_the_same_dead_posts(
    account: Account, make_post: MakePost, api_client_for: MakeClient
) -> None:
    dead = dead_post(make_post, account)
    make_post(account)

    response = api_client_for(account.workspace).get("/api/v1/posts/", {"status": "dead"})

    assert [(r["id"], r["attempts_count"]) for r in response.json()["results"]] == [(dead.pk, 4)]


def test_the_dead_list_needs_a_login(account: Account) -> None:
    assert APIClient().get(DEAD).status_code == 401


# --- Requeue one -------------------------------------------------------------


def test_requeue_one_dead_post_keeps_its_token_so_the_next_try_checks_first(
    account: Account, make_post: MakePost, api_client_for: MakeClient
) -> None:
    post = dead_post(make_post, account)

    response = api_client_for(account.workspace).post(f"/api/v1/posts/{post.pk}/requeue/")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["attempts_count"]) == ("scheduled", 0)
    stored = Post.objects.get(pk=post.pk)
    assert stored.publish_token == post.publish_token
    # Not a first dispatch any more: the publisher asks the platform before posting again.
    assert stored.dispatch_count == 4
    assert stored.attempts.count() == 4  # the history stays


# --- Requeue many ------------------------------------------------------------


def test_requeue_dead_posts_together_and_say_why_others_were_left(
    account: Account,
    their_account: Account,
    make_account: MakeAccount,
    make_post: MakePost,
    api_client_for: MakeClient,
) -> None:
    client = api_client_for(account.workspace)
    first, second = dead_post(make_post, account), dead_post(make_post, account)
    posted = make_post(account, status=PostStatus.POSTED)
    theirs = dead_post(make_post, their_account)
    # Dead, but in a workspace where this caller may only read.
    read_only = join_new_workspace(client, Membership.Role.VIEWER)
    watched = dead_post(make_post, make_account(read_only))
    missing = theirs.pk + 1000

    ids = [first.pk, posted.pk, theirs.pk, second.pk, missing, watched.pk, first.pk]
    response = client.post(REQUEUE_DEAD, {"ids": ids}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "requeued": sorted([first.pk, second.pk]),
        "skipped": [
            {"id": posted.pk, "reason": "The post is posted, not dead."},
            {"id": theirs.pk, "reason": "No such post in a workspace you may change."},
            {"id": missing, "reason": "No such post in a workspace you may change."},
            {"id": watched.pk, "reason": "No such post in a workspace you may change."},
        ],
    }
    assert statuses(first, second, posted, theirs, watched) == [
        "scheduled",
        "scheduled",
        "posted",
        "dead",
        "dead",
    ]
    assert Post.objects.get(pk=first.pk).attempts_count == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": []}, {"ids": "1,2"}, {"ids": ["x"]}, {"ids": [0]}, {"ids": [10**30]}],
)
def test_requeue_dead_refuses_a_bad_list_of_ids(
    account: Account, make_post: MakePost, api_client_for: MakeClient, body: dict
) -> None:
    post = dead_post(make_post, account)

    response = api_client_for(account.workspace).post(REQUEUE_DEAD, body, format="json")

    assert response.status_code == 400
    assert "ids" in response.json()
    assert statuses(post) == ["dead"]


def test_a_viewer_cannot_requeue_dead_posts(
    account: Account, make_post: MakePost, api_client_for: MakeClient
) -> None:
    post = dead_post(make_post, account)
    viewer = api_client_for(account.workspace, role=Membership.Role.VIEWER)

    response = viewer.post(REQUEUE_DEAD, {"ids": [post.pk]}, format="json")

    assert response.status_code == 403
    assert statuses(post) == ["dead"]
