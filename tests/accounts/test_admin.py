"""Accounts in the console: stored secrets never reach a page, new credentials can only be
written; pause and resume act on the accounts whose state allows it."""

from __future__ import annotations

from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from accounts.models import Account, Workspace
from browsers.models import BrowserProfile
from tests.conftest import run_action
from tests.factories import SECRETS, Farm, MakeAccount, MakeWorkspace


def assert_no_secret(html: str, *extra: str) -> None:
    for secret in (*SECRETS, *extra):
        assert secret not in html


def account_url(view: str, *args: object) -> str:
    return reverse(f"admin:accounts_account_{view}", args=args)


def change_form_data(account: Account, **fields: str) -> dict[str, str]:
    data = {
        "handle": account.handle,
        "daily_quota": str(account.daily_quota),
        "per_hour_override": "",
        "per_day_override": "",
        "min_interval_override": "",
        "username": "",
        "password": "",
    }
    data.update(fields)
    return data


def test_no_secret_on_any_page_of_an_account_its_profile_or_posts(
    superuser_client: Client, farm: Farm
) -> None:
    urls = [
        account_url("changelist"),
        account_url("changelist") + "?q=alice",
        account_url("change", farm.account.pk),
        account_url("history", farm.account.pk),
        account_url("delete", farm.account.pk),
        reverse("admin:browsers_browserprofile_changelist"),
        reverse("admin:browsers_browserprofile_change", args=[farm.profile.pk]),
        reverse("admin:uploads_post_changelist"),
        reverse("admin:uploads_post_change", args=[farm.post.pk]),
        reverse("admin:uploads_postattempt_changelist"),
        reverse("admin:uploads_postattempt_change", args=[farm.attempt.pk]),
        reverse("admin:monitoring_alert_changelist"),
        reverse("admin:index"),
    ]
    for url in urls:
        response = superuser_client.get(url)
        assert response.status_code == 200, url
        assert_no_secret(response.content.decode())


def test_account_page_says_only_whether_secrets_are_stored(
    superuser_client: Client, farm: Farm
) -> None:
    html = superuser_client.get(account_url("change", farm.account.pk)).content.decode()
    assert "Credentials stored" in html
    assert "Cookies stored" in html
    assert 'name="password"' in html
    assert 'name="credentials"' not in html
    assert 'name="cookies"' not in html
    profile_html = superuser_client.get(
        reverse("admin:browsers_browserprofile_change", args=[farm.profile.pk])
    ).content.decode()
    assert "Proxy set" in profile_html
    assert 'name="proxy"' not in profile_html


def test_new_credentials_are_stored_and_never_shown(superuser_client: Client, farm: Farm) -> None:
    new_password = "brand-new-pw-9"
    response = superuser_client.post(
        account_url("change", farm.account.pk),
        change_form_data(farm.account, username="alice2", password=new_password),
        follow=True,
    )
    assert response.status_code == 200
    assert_no_secret(response.content.decode(), new_password)
    assert Account.objects.get(pk=farm.account.pk).credentials == {
        "username": "alice2",
        "password": new_password,
    }
    for entry in LogEntry.objects.all():
        assert new_password not in entry.change_message
    history = superuser_client.get(account_url("history", farm.account.pk)).content.decode()
    assert_no_secret(history, new_password)


def test_a_password_without_a_username_is_refused(superuser_client: Client, farm: Farm) -> None:
    response = superuser_client.post(
        account_url("change", farm.account.pk),
        change_form_data(farm.account, password="lonely-pw-3"),
    )
    assert response.status_code == 200  # the form again, with the error
    html = response.content.decode()
    assert "Give the username together with the password." in html
    assert_no_secret(html, "lonely-pw-3")
    credentials = Account.objects.get(pk=farm.account.pk).credentials
    assert credentials is not None
    assert credentials["password"] == "pw-secret-1"


def test_saving_without_credentials_keeps_the_stored_ones(
    superuser_client: Client, farm: Farm
) -> None:
    response = superuser_client.post(
        account_url("change", farm.account.pk), change_form_data(farm.account, daily_quota="7")
    )
    assert response.status_code == 302
    account = Account.objects.get(pk=farm.account.pk)
    assert account.daily_quota == 7
    assert account.credentials is not None and account.cookies is not None
    assert account.credentials["password"] == "pw-secret-1"
    assert account.cookies[0]["value"] == "cookie-secret-1"


def test_adding_an_account_goes_through_the_service(
    superuser_client: Client, workspace: Workspace
) -> None:
    response = superuser_client.post(
        account_url("add"),
        {
            "workspace": str(workspace.pk),
            "platform": "sandbox",
            "handle": "newbie",
            "daily_quota": "5",
            "username": "newbie",
            "password": "added-pw-4",
        },
    )
    assert response.status_code == 302
    account = Account.objects.get(handle="newbie")
    assert account.credentials == {"username": "newbie", "password": "added-pw-4"}
    assert account.daily_quota == 5
    assert BrowserProfile.objects.filter(account=account).exists()


def test_adding_over_the_plan_cap_saves_nothing_and_says_why(
    superuser_client: Client,
    make_workspace: MakeWorkspace,
    make_account: MakeAccount,
) -> None:
    small = make_workspace(max_accounts=1)
    make_account(small)
    response = superuser_client.post(
        account_url("add"),
        {
            "workspace": str(small.pk),
            "platform": "sandbox",
            "handle": "one-too-many",
            "daily_quota": "20",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "The plan allows 1 accounts; all are in use." in response.content.decode()
    assert not Account.objects.filter(handle="one-too-many").exists()
    assert small.accounts.count() == 1


def states(*accounts: Account) -> list[str]:
    return [Account.objects.get(pk=account.pk).state for account in accounts]


def test_pause_moves_active_and_logged_out_accounts_only(
    superuser_client: Client, workspace: Workspace, make_account: MakeAccount
) -> None:
    active, needs_login, disabled = (make_account(workspace) for _ in range(3))
    Account.objects.filter(pk=needs_login.pk).update(state=Account.State.NEEDS_LOGIN)
    Account.objects.filter(pk=disabled.pk).update(state=Account.State.DISABLED)
    ids = [active.pk, needs_login.pk, disabled.pk]

    shown = run_action(superuser_client, "admin:accounts_account_changelist", "pause_accounts", ids)

    assert states(active, needs_login, disabled) == ["paused", "paused", "disabled"]
    assert shown == [
        "Paused 2 account(s). 1 were not in a state that allows it and were left alone."
    ]


def test_resume_moves_paused_accounts_back(
    superuser_client: Client, workspace: Workspace, make_account: MakeAccount
) -> None:
    paused, disabled = make_account(workspace), make_account(workspace)
    Account.objects.filter(pk=paused.pk).update(state=Account.State.PAUSED)
    Account.objects.filter(pk=disabled.pk).update(state=Account.State.DISABLED)

    shown = run_action(
        superuser_client,
        "admin:accounts_account_changelist",
        "resume_accounts",
        [paused.pk, disabled.pk],
    )

    assert states(paused, disabled) == ["active", "disabled"]
    assert shown[0].startswith("Resumed 1 account(s).")
