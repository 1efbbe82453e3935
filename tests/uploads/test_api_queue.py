from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account, Membership, Workspace
from tests.factories import MakeAccount, MakeClient, MakePost, MakeWorkspace, MemberOfTwo
from uploads.models import PostStatus
from uploads.selectors import queue_summary

pytestmark = pytest.mark.django_db

QUEUE = "/api/v1/queue/"


@pytest.fixture
def busy_workspace(
    workspace: Workspace, make_account: MakeAccount, make_post: MakePost
) -> Workspace:
    """Posts in several states, three of them posted at different times, and troubled accounts."""
    now = timezone.now()
    fine = make_account(workspace)
    make_post(fine)
    make_post(fine)
    make_post(fine, status=PostStatus.QUEUED)
    make_post(fine, status=PostStatus.DEAD)
    make_post(fine, status=PostStatus.POSTED, posted_at=now - timedelta(minutes=10))
    make_post(fine, status=PostStatus.POSTED, posted_at=now - timedelta(hours=5))
    make_post(fine, status=PostStatus.POSTED, posted_at=now - timedelta(days=2))
    make_account(workspace)
    for changes in (
        {"state": Account.State.PAUSED},
        {"state": Account.State.NEEDS_LOGIN},
        {"consecutive_failures": 3},
    ):
        Account.objects.filter(pk=make_account(workspace).pk).update(**changes)
    Account.objects.filter(pk=fine.pk).update(consecutive_failures=2)
    return workspace


def expected_counts(**counts: int) -> dict[str, int]:
    return {status: counts.get(status, 0) for status in PostStatus.values}


def test_queue_summary_counts(busy_workspace: Workspace) -> None:
    summary = queue_summary(workspace_ids=[busy_workspace.pk])

    assert summary == {
        "by_status": expected_counts(scheduled=2, queued=1, dead=1, posted=3),
        "posted_last_hour": 1,
        "posted_last_day": 2,
        "accounts_needing_attention": 3,
    }


def test_the_queue_endpoint_counts_only_the_callers_workspaces(
    busy_workspace: Workspace,
    make_workspace: MakeWorkspace,
    make_account: MakeAccount,
    make_post: MakePost,
    api_client_for: MakeClient,
) -> None:
    other = make_workspace()
    theirs = make_account(other)
    make_post(theirs, status=PostStatus.POSTED, posted_at=timezone.now())
    make_post(theirs, status=PostStatus.FAILED)
    Account.objects.filter(pk=theirs.pk).update(state=Account.State.PAUSED)

    response = api_client_for(busy_workspace, role=Membership.Role.VIEWER).get(QUEUE)

    assert response.status_code == 200
    assert response.json() == {
        "by_status": expected_counts(scheduled=2, queued=1, dead=1, posted=3),
        "posted_last_hour": 1,
        "posted_last_day": 2,
        "accounts_needing_attention": 3,
    }


def test_the_queue_can_be_narrowed_to_one_workspace(
    busy_workspace: Workspace,
    member_of_two: MemberOfTwo,
    make_workspace: MakeWorkspace,
    make_account: MakeAccount,
    make_post: MakePost,
) -> None:
    client, second = member_of_two
    make_post(make_account(second), status=PostStatus.FAILED)

    everything = client.get(QUEUE).json()
    second_only = client.get(QUEUE, {"workspace": second.pk}).json()
    not_mine = client.get(QUEUE, {"workspace": make_workspace().pk}).json()

    assert everything["by_status"]["failed"] == 1
    assert everything["by_status"]["scheduled"] == 2
    assert second_only["by_status"] == expected_counts(failed=1)
    assert second_only["accounts_needing_attention"] == 0
    assert not_mine["by_status"] == expected_counts()


def test_an_empty_queue_has_every_status_at_zero(
    workspace: Workspace, api_client_for: MakeClient
) -> None:
    response = api_client_for(workspace).get(QUEUE)

    assert response.status_code == 200
    assert response.json()["by_status"] == expected_counts()
    assert response.json()["posted_last_day"] == 0


def test_unauthenticated_queue_is_refused(db: None) -> None:
    assert APIClient().get(QUEUE).status_code == 401
