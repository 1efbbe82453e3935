from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Account, Membership, Workspace
from accounts.services import account_disable, account_set_cookies
from tests.factories import MakeAccount, MakeClient, MakeWorkspace, MemberOfTwo

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts/"


def url(account: Account, action: str = "") -> str:
    return f"{ACCOUNTS}{account.pk}/{action + '/' if action else ''}"


def handles(response) -> set[str]:
    return {row["handle"] for row in response.json()["results"]}


def test_list_shows_only_the_callers_workspaces(
    workspace: Workspace,
    make_workspace: MakeWorkspace,
    make_account: MakeAccount,
    api_client_for: MakeClient,
) -> None:
    make_account(workspace, handle="mine-1")
    make_account(workspace, handle="mine-2")
    make_account(make_workspace(), handle="theirs")

    response = api_client_for(workspace).get(ACCOUNTS)

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert handles(response) == {"mine-1", "mine-2"}


def test_list_filters_by_platform_state_workspace_and_searches_handles(
    workspace: Workspace, member_of_two: MemberOfTwo, make_account: MakeAccount
) -> None:
    client, second = member_of_two
    make_account(workspace, handle="sandbox-cats")
    make_account(workspace, platform="tiktok", handle="tiktok-cats")
    paused = make_account(workspace, handle="sandbox-dogs")
    Account.objects.filter(pk=paused.pk).update(state=Account.State.PAUSED)
    make_account(second, handle="second-cats")

    assert handles(client.get(ACCOUNTS, {"platform": "tiktok"})) == {"tiktok-cats"}
    assert handles(client.get(ACCOUNTS, {"state": "paused"})) == {"sandbox-dogs"}
    assert handles(client.get(ACCOUNTS, {"search": "cats"})) == {
        "sandbox-cats",
        "tiktok-cats",
        "second-cats",
    }
    assert handles(client.get(ACCOUNTS, {"workspace": second.pk})) == {"second-cats"}


def test_detail_has_the_documented_fields(account: Account, api_client_for: MakeClient) -> None:
    response = api_client_for(account.workspace).get(url(account))

    assert response.status_code == 200
    assert set(response.json()) == {
        "id",
        "workspace",
        "platform",
        "handle",
        "state",
        "state_reason",
        "daily_quota",
        "quota_used",
        "last_posted_at",
        "last_error_kind",
        "consecutive_failures",
        "created_at",
    }
    assert response.json()["handle"] == account.handle
    assert response.json()["workspace"] == account.workspace_id


def test_no_response_ever_carries_secrets(account: Account, api_client_for: MakeClient) -> None:
    account_set_cookies(account=account, cookies=[{"name": "sid", "value": "cookie-secret-1"}])
    client = api_client_for(account.workspace)

    responses = [
        client.get(ACCOUNTS),
        client.get(url(account)),
        client.post(url(account, "pause"), {"reason": "Checking"}, format="json"),
        client.post(url(account, "resume")),
    ]

    for response in responses:
        assert response.status_code == 200, response.content
        body = response.content.decode()
        for secret in ("pw-secret-1", "cookie-secret-1", "credentials", "cookies"):
            assert secret not in body, (response.request["PATH_INFO"], secret)


@pytest.mark.parametrize(("method", "action"), [("get", ""), ("post", "pause"), ("post", "resume")])
def test_another_workspaces_account_is_not_found(
    workspace: Workspace,
    make_workspace: MakeWorkspace,
    make_account: MakeAccount,
    api_client_for: MakeClient,
    method: str,
    action: str,
) -> None:
    theirs = make_account(make_workspace())
    Account.objects.filter(pk=theirs.pk).update(state=Account.State.PAUSED)

    response = getattr(api_client_for(workspace), method)(url(theirs, action))

    assert response.status_code == 404
    assert Account.objects.get(pk=theirs.pk).state == Account.State.PAUSED


def test_unauthenticated_requests_are_refused(account: Account) -> None:
    client = APIClient()

    assert client.get(ACCOUNTS).status_code == 401
    assert client.get(url(account)).status_code == 401
    assert client.post(url(account, "pause")).status_code == 401
    assert Account.objects.get(pk=account.pk).state == Account.State.ACTIVE


def test_a_viewer_reads_but_cannot_pause_or_resume(
    account: Account, api_client_for: MakeClient
) -> None:
    viewer = api_client_for(account.workspace, role=Membership.Role.VIEWER)

    assert viewer.get(ACCOUNTS).status_code == 200
    assert viewer.get(url(account)).status_code == 200
    assert viewer.post(url(account, "pause")).status_code == 403
    assert Account.objects.get(pk=account.pk).state == Account.State.ACTIVE
    Account.objects.filter(pk=account.pk).update(state=Account.State.PAUSED)
    assert viewer.post(url(account, "resume")).status_code == 403
    assert Account.objects.get(pk=account.pk).state == Account.State.PAUSED


def test_pause_with_a_reason_then_resume(account: Account, api_client_for: MakeClient) -> None:
    client = api_client_for(account.workspace)

    paused = client.post(url(account, "pause"), {"reason": "Rebranding"}, format="json")

    assert paused.status_code == 200
    assert paused.json()["state"] == "paused"
    assert paused.json()["state_reason"] == "Rebranding"
    account.refresh_from_db()
    assert (account.state, account.state_reason) == (Account.State.PAUSED, "Rebranding")

    resumed = client.post(url(account, "resume"))

    assert resumed.status_code == 200
    assert resumed.json()["state"] == "active"
    assert Account.objects.get(pk=account.pk).state == Account.State.ACTIVE


def test_pause_without_a_reason_records_a_default_one(
    account: Account, api_client_for: MakeClient
) -> None:
    response = api_client_for(account.workspace).post(url(account, "pause"))

    assert response.status_code == 200
    assert Account.objects.get(pk=account.pk).state_reason


def test_pause_and_resume_answer_409_when_the_state_does_not_allow_it(
    account: Account, api_client_for: MakeClient
) -> None:
    client = api_client_for(account.workspace)

    resume_active = client.post(url(account, "resume"))
    assert resume_active.status_code == 409
    assert "active" in resume_active.json()["detail"]

    client.post(url(account, "pause"))
    pause_paused = client.post(url(account, "pause"))
    assert pause_paused.status_code == 409
    assert "paused" in pause_paused.json()["detail"]

    account_disable(account=account, reason="Banned")
    for action in ("pause", "resume"):
        response = client.post(url(account, action))
        assert response.status_code == 409
        assert "disabled" in response.json()["detail"]
    assert Account.objects.get(pk=account.pk).state == Account.State.DISABLED
