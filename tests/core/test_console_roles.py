"""The console by role: membership roles decide what a staff member may do, per workspace
and per object, with no model permission granted by hand. Viewers view, operators and
owners change, owners alone manage members and settings; an action runs only on the
selected objects the caller may change."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import Account, Membership, Workspace
from capture.models import CapturedSession, CaptureSettings
from core.tenancy import Role
from tests.conftest import admin_url, run_action
from tests.factories import (
    MakeAccount,
    MakePost,
    MakeWorkspace,
    console_client,
    make_user,
    record_session,
)
from uploads.models import Post, PostStatus

pytestmark = pytest.mark.django_db

OUR_APPS = (
    "core",
    "accounts",
    "browsers",
    "uploads",
    "monitoring",
    "capture",
    "training",
    "sandbox",
)


def staff_with(*roles: tuple[Workspace, str], permissions: tuple[str, ...] = ()) -> User:
    """A staff member with a role in each workspace given (and model permissions, if any)."""
    user = make_user(is_staff=True, permissions=permissions)
    for workspace, role in roles:
        Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


@pytest.fixture
def home(make_workspace: MakeWorkspace) -> Workspace:
    return make_workspace(name="Home", slug="home")


@pytest.fixture
def away(make_workspace: MakeWorkspace) -> Workspace:
    return make_workspace(name="Away", slug="away")


def test_a_new_operator_works_in_the_console_without_granted_permissions(
    home: Workspace, make_account: MakeAccount, make_post: MakePost
) -> None:
    post = make_post(make_account(home))
    client = console_client(staff_with((home, Role.OPERATOR)))

    listing = client.get(admin_url(Post, "changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [post]
    shown = run_action(client, "admin:uploads_post_changelist", "cancel_posts", [post.pk])
    assert shown == ["Cancelled 1 post(s)."]
    assert Post.objects.get(pk=post.pk).status == PostStatus.CANCELLED


def test_roles_decide_per_workspace_whatever_model_permissions_say(
    home: Workspace, away: Workspace, make_account: MakeAccount
) -> None:
    # Granted the old way, these would let the viewer of home pause home's accounts.
    user = staff_with(
        (home, Role.VIEWER),
        (away, Role.OWNER),
        permissions=("view_account", "change_account"),
    )
    client = console_client(user)
    watched, owned = make_account(home), make_account(away)

    run_action(client, "admin:accounts_account_changelist", "pause_accounts", [watched.pk])
    assert Account.objects.get(pk=watched.pk).state == Account.State.ACTIVE
    run_action(client, "admin:accounts_account_changelist", "pause_accounts", [owned.pk])
    assert Account.objects.get(pk=owned.pk).state == Account.State.PAUSED

    page = client.get(admin_url(Account, "change", watched.pk))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert 'name="daily_quota"' not in page.content.decode()
    refused = client.post(admin_url(Account, "change", watched.pk), {"daily_quota": "1"})
    assert refused.status_code == 403
    assert client.get(admin_url(Account, "change", owned.pk)).context["has_change_permission"]


def test_an_action_runs_only_on_the_selected_objects_the_caller_may_change(
    home: Workspace, away: Workspace, make_account: MakeAccount, make_post: MakePost
) -> None:
    mine, theirs = make_post(make_account(home)), make_post(make_account(away))
    client = console_client(staff_with((home, Role.OPERATOR), (away, Role.VIEWER)))

    shown = run_action(
        client, "admin:uploads_post_changelist", "cancel_posts", [mine.pk, theirs.pk]
    )

    assert shown == ["Cancelled 1 post(s)."]
    assert Post.objects.get(pk=mine.pk).status == PostStatus.CANCELLED
    assert Post.objects.get(pk=theirs.pk).status == PostStatus.SCHEDULED


def test_archiving_sessions_needs_a_role_that_changes(home: Workspace, media_in_tmp: Path) -> None:
    session = record_session(workspace=home)
    viewer = console_client(staff_with((home, Role.VIEWER), permissions=("view_capturedsession",)))
    changelist = "admin:capture_capturedsession_changelist"

    assert viewer.get(reverse(changelist)).status_code == 200
    viewer.post(
        reverse(changelist), {"action": "archive_sessions", "_selected_action": [str(session.pk)]}
    )
    assert CapturedSession.objects.get(pk=session.pk).state == CapturedSession.State.ACCEPTED

    operator = console_client(staff_with((home, Role.OPERATOR)))
    assert run_action(operator, changelist, "archive_sessions", [session.pk]) == [
        "Archived 1 session(s)."
    ]
    assert CapturedSession.objects.get(pk=session.pk).state == CapturedSession.State.ARCHIVED


def test_every_console_action_declares_the_permission_it_needs() -> None:
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in OUR_APPS:
            continue
        for action in model_admin.actions or ():
            func = model_admin.get_action(action)
            assert func is not None, (model, action)
            assert getattr(func[0], "allowed_permissions", None), (model, action)
    archive = admin.site.get_model_admin(CapturedSession).get_action("archive_sessions")
    assert archive is not None
    assert tuple(getattr(archive[0], "allowed_permissions", ())) == ("change",)


def test_owners_alone_manage_members_and_workspace_settings(home: Workspace) -> None:
    owner = console_client(staff_with((home, Role.OWNER)))
    operator = console_client(staff_with((home, Role.OPERATOR)))
    newcomer = staff_with()
    page = admin_url(Workspace, "change", home.pk)

    def form(name: str, username: str = "") -> dict[str, str]:
        # The change form of the workspace, with one new member row when a username is given.
        members = list(home.memberships.order_by("pk"))
        data = {
            "name": name,
            "timezone": "Europe/Berlin",
            "memberships-TOTAL_FORMS": str(len(members) + bool(username)),
            "memberships-INITIAL_FORMS": str(len(members)),
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        }
        for n, membership in enumerate(members):
            data |= {
                f"memberships-{n}-id": str(membership.pk),
                f"memberships-{n}-workspace": str(home.pk),
                f"memberships-{n}-user": membership.user.username,
                f"memberships-{n}-role": membership.role,
            }
        if username:
            n = len(members)
            data |= {
                f"memberships-{n}-workspace": str(home.pk),
                f"memberships-{n}-user": username,
                f"memberships-{n}-role": Role.VIEWER,
            }
        return data

    assert operator.get(page).context["has_change_permission"] is False
    assert operator.post(page, form("Renamed", newcomer.username)).status_code == 403
    assert not home.memberships.filter(user=newcomer).exists()

    response = owner.post(page, form("Renamed", newcomer.username))
    assert response.status_code == 302, response.content.decode()[:3000]
    home.refresh_from_db()
    assert (home.name, home.timezone) == ("Renamed", "Europe/Berlin")
    assert home.memberships.get(user=newcomer).role == Role.VIEWER

    settings_page = admin_url(CaptureSettings, "add")
    assert operator.get(settings_page).status_code == 403
    assert owner.get(settings_page).status_code == 200


def test_a_form_offers_only_workspaces_where_the_caller_may_write(
    home: Workspace, away: Workspace
) -> None:
    client = console_client(staff_with((home, Role.OPERATOR), (away, Role.VIEWER)))
    page = client.get(admin_url(Account, "add"))
    assert page.status_code == 200
    assert set(page.context["adminform"].form.fields["workspace"].queryset) == {home}

    response = client.post(
        admin_url(Account, "add"),
        {"workspace": str(away.pk), "platform": "sandbox", "handle": "sneaky", "daily_quota": "5"},
    )
    assert response.status_code == 200  # the form again, with the error
    assert "workspace" in response.context["adminform"].form.errors
    assert not Account.objects.filter(handle="sneaky").exists()


def test_staff_status_is_the_key_to_the_console(home: Workspace) -> None:
    member = make_user(home, Role.OWNER)  # not staff
    response = console_client(member).get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))

    nobody = console_client(staff_with())  # staff, but a member of no workspace
    index = nobody.get(reverse("admin:index"))
    assert index.status_code == 200
    listed = {m["object_name"] for app in index.context["app_list"] for m in app["models"]}
    assert listed <= {"ApiToken"}  # their own API keys, nothing of any workspace
    for model in apps.get_app_config("uploads").get_models():
        if admin.site.is_registered(model):
            assert nobody.get(admin_url(model, "changelist")).status_code == 403


def test_members_see_the_console_without_permissions(home: Workspace) -> None:
    client: Client = console_client(staff_with((home, Role.VIEWER)))
    index = client.get(reverse("admin:index"))
    listed = {m["object_name"] for app in index.context["app_list"] for m in app["models"]}
    assert {"Account", "Post", "Alert", "CapturedSession", "Export"} <= listed
