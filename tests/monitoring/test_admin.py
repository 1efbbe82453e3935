"""The console's index and its summary, alerts, and what a staff member who is not a superuser
sees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django import forms
from django.contrib import admin
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Workspace
from monitoring.models import Alert
from monitoring.selectors import dashboard_summary
from monitoring.services import alert_raise, alerts_resolve
from tests.conftest import admin_url, run_action
from tests.factories import Farm, MakeAccount, MakePost, MakeUser, MakeWorkspace
from uploads.models import Campaign, Post, PostAttempt, PostStatus


@pytest.fixture
def two_farms(
    make_workspace: MakeWorkspace,
    make_account: MakeAccount,
    make_post: MakePost,
) -> tuple[Workspace, Workspace]:
    """Two workspaces with posts in many states, troubled accounts and alerts."""
    now = timezone.now()
    home, other = make_workspace(slug="home"), make_workspace(slug="other")
    for ws, scale in ((home, 1), (other, 2)):
        ok = make_account(ws, handle=f"{ws.slug}-ok")
        paused = make_account(ws, handle=f"{ws.slug}-paused")
        logged_out = make_account(ws, handle=f"{ws.slug}-logged-out")
        failing = make_account(ws, handle=f"{ws.slug}-failing")
        nearly = make_account(ws, handle=f"{ws.slug}-nearly")
        Account.objects.filter(pk=paused.pk).update(state=Account.State.PAUSED)
        Account.objects.filter(pk=logged_out.pk).update(state=Account.State.NEEDS_LOGIN)
        Account.objects.filter(pk=failing.pk).update(consecutive_failures=3)
        Account.objects.filter(pk=nearly.pk).update(consecutive_failures=2)
        for _ in range(scale):
            make_post(ok)
            make_post(ok, PostStatus.QUEUED)
            make_post(ok, PostStatus.DEAD)
            make_post(ok, PostStatus.POSTED, posted_at=now - timedelta(minutes=10))
            make_post(ok, PostStatus.POSTED, posted_at=now - timedelta(hours=5))
            make_post(ok, PostStatus.POSTED, posted_at=now - timedelta(days=2))
        alert_raise(workspace=ws, account=paused, kind=Alert.Kind.LOGIN_REQUIRED, message="x")
        closed = alert_raise(workspace=ws, kind=Alert.Kind.POST_DEAD, message="y")
        alerts_resolve(alert_ids=[closed.pk])
    return home, other


def expected_summary(workspaces: list[Workspace]) -> dict[str, object]:
    """Counted straight from the rows, one by one."""
    now = timezone.now()
    posts = list(Post.objects.filter(workspace__in=workspaces))
    accounts = Account.objects.filter(workspace__in=workspaces)
    return {
        "by_status": {
            status: sum(1 for p in posts if p.status == status) for status in PostStatus.values
        },
        "posted_last_hour": sum(
            1 for p in posts if p.posted_at and p.posted_at >= now - timedelta(hours=1)
        ),
        "posted_last_day": sum(
            1 for p in posts if p.posted_at and p.posted_at >= now - timedelta(days=1)
        ),
        "accounts_needing_attention": sum(
            1
            for a in accounts
            if a.state in ("paused", "needs_login") or a.consecutive_failures >= 3
        ),
        "open_alerts": Alert.objects.filter(
            workspace__in=workspaces, resolved_at__isnull=True
        ).count(),
    }


def test_index_summary_matches_the_database(
    superuser_client: Client, two_farms: tuple[Workspace, Workspace]
) -> None:
    response = superuser_client.get(reverse("admin:index"))
    summary = response.context["farm_summary"]
    assert summary == expected_summary(list(two_farms))
    assert summary["by_status"]["dead"] == 3
    assert summary["posted_last_hour"] == 3
    assert summary["posted_last_day"] == 6
    assert summary["accounts_needing_attention"] == 6
    assert summary["open_alerts"] == 2

    html = response.content.decode()
    assert f'id="farm-attention">{summary["accounts_needing_attention"]}<' in html
    assert f'id="farm-open-alerts">{summary["open_alerts"]}<' in html
    assert f'id="farm-posted-hour">{summary["posted_last_hour"]}<' in html
    assert 'data-status="dead">3<' in html
    assert reverse("admin:accounts_account_changelist") + "?attention=yes" in html
    assert reverse("admin:monitoring_alert_changelist") + "?open=yes" in html
    assert reverse("admin:uploads_post_changelist") + "?status__exact=dead" in html


def test_summary_links_lead_to_the_same_rows(
    superuser_client: Client, two_farms: tuple[Workspace, Workspace]
) -> None:
    summary = dashboard_summary()
    attention = superuser_client.get(
        reverse("admin:accounts_account_changelist") + "?attention=yes"
    )
    assert attention.context["cl"].result_count == summary["accounts_needing_attention"]
    assert {a.handle.split("-", 1)[1] for a in attention.context["cl"].result_list} == {
        "paused",
        "logged-out",
        "failing",
    }
    alerts = superuser_client.get(reverse("admin:monitoring_alert_changelist") + "?open=yes")
    assert alerts.context["cl"].result_count == summary["open_alerts"]


def test_summary_of_chosen_workspaces(two_farms: tuple[Workspace, Workspace]) -> None:
    home, other = two_farms
    assert dashboard_summary(workspace_ids=[home.pk]) == expected_summary([home])
    assert dashboard_summary(workspace_ids=[other.pk]) == expected_summary([other])
    assert dashboard_summary(workspace_ids=[])["by_status"]["scheduled"] == 0


@pytest.fixture
def staff_client(
    client: Client, make_user: MakeUser, two_farms: tuple[Workspace, Workspace]
) -> Client:
    home, _ = two_farms
    user = make_user(home, is_staff=True)  # an operator: the role decides, not model permissions
    client.force_login(user)
    return client


def test_staff_member_sees_only_their_workspace(
    staff_client: Client, two_farms: tuple[Workspace, Workspace]
) -> None:
    home, other = two_farms
    index = staff_client.get(reverse("admin:index"))
    assert index.context["farm_summary"] == expected_summary([home])

    listed = staff_client.get(reverse("admin:accounts_account_changelist"))
    assert listed.status_code == 200
    assert {a.workspace_id for a in listed.context["cl"].result_list} == {home.pk}
    assert listed.context["cl"].result_count == home.accounts.count()
    assert "other-ok" not in listed.content.decode()

    for name, model_rows in (
        ("admin:uploads_post_changelist", Post.objects.filter(workspace=home)),
        ("admin:monitoring_alert_changelist", Alert.objects.filter(workspace=home)),
        ("admin:accounts_workspace_changelist", Workspace.objects.filter(pk=home.pk)),
    ):
        page = staff_client.get(reverse(name))
        assert page.status_code == 200, name
        assert set(page.context["cl"].result_list) == set(model_rows), name

    foreign = other.accounts.first()
    assert foreign is not None
    page = staff_client.get(reverse("admin:accounts_account_change", args=[foreign.pk]))
    assert page.status_code == 302  # "does not exist", not the page


def test_staff_member_cannot_act_on_another_workspace(
    staff_client: Client, two_farms: tuple[Workspace, Workspace]
) -> None:
    _, other = two_farms
    foreign = other.accounts.get(handle="other-ok")
    staff_client.post(
        reverse("admin:accounts_account_changelist"),
        {"action": "pause_accounts", "_selected_action": [str(foreign.pk)]},
    )
    assert Account.objects.get(pk=foreign.pk).state == Account.State.ACTIVE


def test_staff_member_is_offered_only_their_workspaces(
    staff_client: Client, two_farms: tuple[Workspace, Workspace]
) -> None:
    home, _ = two_farms
    request = RequestFactory().get("/")
    request.user = staff_client.get(reverse("admin:index")).wsgi_request.user
    form = admin.site.get_model_admin(Account).get_form(request)()
    workspace_field = form.fields["workspace"]
    assert isinstance(workspace_field, forms.ModelChoiceField)
    assert workspace_field.queryset is not None
    assert set(workspace_field.queryset) == {home}


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:accounts_account_changelist",
        "admin:accounts_workspace_changelist",
        "admin:browsers_browserprofile_changelist",
        "admin:uploads_post_changelist",
        "admin:uploads_postattempt_changelist",
        "admin:uploads_campaign_changelist",
        "admin:monitoring_alert_changelist",
    ],
)
def test_changelists_do_not_query_per_row(
    changelist: str,
    superuser_client: Client,
    farm: Farm,
    make_account: MakeAccount,
    make_post: MakePost,
) -> None:
    with CaptureQueriesContext(connection) as few:
        assert superuser_client.get(reverse(changelist)).status_code == 200
    for n in range(5):
        extra = make_account(farm.workspace, handle=f"more{n}")
        post = make_post(extra)
        Campaign.objects.create(workspace=farm.workspace, name=f"Campaign {n}")
        PostAttempt.objects.create(post=post, account=extra, number=1)
        alert_raise(workspace=farm.workspace, account=extra, kind="post_dead", message="z")
    with CaptureQueriesContext(connection) as many:
        assert superuser_client.get(reverse(changelist)).status_code == 200
    assert len(many) == len(few)


def test_index_has_the_console_title_and_summary(superuser_client: Client, farm: Farm) -> None:
    response = superuser_client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Farm console" in html
    assert 'id="farm-summary"' in html


def test_alert_page_is_read_only(superuser_client: Client, farm: Farm) -> None:
    response = superuser_client.get(admin_url(Alert, "change", farm.alert.pk))
    assert response.status_code == 200
    assert 'name="message"' not in response.content.decode()


def test_resolve_closes_the_selected_open_alerts(
    superuser_client: Client, workspace: Workspace, account: Account
) -> None:
    first = alert_raise(workspace=workspace, kind=Alert.Kind.POST_DEAD, message="one")
    second = alert_raise(
        workspace=workspace, account=account, kind=Alert.Kind.LOGIN_REQUIRED, message="two"
    )
    untouched = alert_raise(workspace=workspace, kind=Alert.Kind.RATE_LIMITED, message="three")

    shown = run_action(
        superuser_client,
        "admin:monitoring_alert_changelist",
        "resolve_alerts",
        [first.pk, second.pk],
    )

    assert shown == ["Resolved 2 alert(s)."]
    assert set(Alert.objects.filter(resolved_at__isnull=True)) == {untouched}
