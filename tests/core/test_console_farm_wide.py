"""Farm-wide pages are for superusers only, and per-workspace lists, filters and
forms offer only the caller's workspaces."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.db.models import Model
from django.forms import ModelChoiceField
from django.test import Client, RequestFactory
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule

from accounts.models import Membership
from core.admin import WorkspaceScopedAdmin
from core.tenancy import Role
from sandbox.services import sandbox_account_create
from tests.conftest import admin_url
from tests.factories import Farm, MakeWorkspace, console_client, make_account, make_post, make_user
from training.models import Export, ExportSchedule
from uploads.models import Post

pytestmark = pytest.mark.django_db

FARM_WIDE = {
    "auth.User",
    "auth.Group",
    "django_celery_beat.PeriodicTask",
    "django_celery_beat.CrontabSchedule",
    "django_celery_beat.IntervalSchedule",
    "django_celery_beat.SolarSchedule",
    "django_celery_beat.ClockedSchedule",
    "uploads.RateLimitRule",
    "uploads.PlatformCircuit",
    "sandbox.SandboxAccount",
    "sandbox.SandboxPost",
    "core.SchedulerLock",
}


def farm_wide_models() -> list[type[Model]]:
    return [
        model
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, WorkspaceScopedAdmin)
        and not getattr(model_admin, "scoped_to_caller", False)
    ]


@pytest.fixture
def owner_with_every_permission(farm: Farm) -> User:
    """An owner of the farm's workspace holding every model permission there is, as a
    superuser might have granted them by hand; staff, not a superuser."""
    user = make_user(farm.workspace, Role.OWNER, is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    return user


def test_the_pages_that_are_not_a_workspaces_are_the_farm_wide_ones() -> None:
    assert {model._meta.label for model in farm_wide_models()} >= FARM_WIDE


def test_farm_wide_pages_are_neither_listed_nor_reachable_for_staff(
    owner_with_every_permission: User, superuser_client: Client
) -> None:
    Group.objects.create(name="operators")
    IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    sandbox_account_create(handle="sandy", password="sandbox-pw-1")
    client = console_client(owner_with_every_permission)

    index = client.get(reverse("admin:index"))
    listed = {
        f"{app['app_label']}.{m['object_name']}"
        for app in index.context["app_list"]
        for m in app["models"]
    }
    for model in farm_wide_models():
        label = model._meta.label
        assert f"{model._meta.app_label}.{model._meta.object_name}" not in listed, label
        assert reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
        ) not in (index.content.decode()), label
        pages = [admin_url(model, "changelist"), admin_url(model, "add")]
        obj = model._default_manager.first()
        if obj is not None:
            pages += [admin_url(model, view, obj.pk) for view in ("change", "history", "delete")]
        for url in pages:
            assert client.get(url).status_code in (302, 403, 404), url
            assert client.post(url, {}).status_code in (302, 403, 404), url
        if obj is not None:  # the superuser's pages stay as they were
            assert superuser_client.get(admin_url(model, "change", obj.pk)).status_code == 200
    for label in ("auth", "django_celery_beat", "sandbox"):
        assert client.get(reverse("admin:app_list", args=[label])).status_code == 404


def test_staff_cannot_make_anyone_a_superuser(owner_with_every_permission: User) -> None:
    client = console_client(owner_with_every_permission)
    me = owner_with_every_permission
    response = client.post(
        admin_url(User, "change", me.pk),
        {
            "username": me.username,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code in (302, 403, 404)
    me.refresh_from_db()
    assert not me.is_superuser
    password = admin_url(User, "change", me.pk).replace("/change/", "/password/")
    assert client.get(password).status_code in (302, 403, 404)


def test_no_list_of_the_farms_people_for_workspace_owners(
    owner_with_every_permission: User,
) -> None:
    User.objects.create_user("someone-elses-person")
    response = console_client(owner_with_every_permission).get(
        reverse("admin:autocomplete"),
        {"app_label": "accounts", "model_name": "membership", "field_name": "user", "term": ""},
    )
    assert response.status_code == 403
    assert b"someone-elses-person" not in response.content


def test_training_filters_list_only_the_callers_workspaces(make_workspace: MakeWorkspace) -> None:
    home, other = make_workspace(name="Home"), make_workspace(name="Zulu Industries")
    for workspace in (home, other):
        Export.objects.create(workspace=workspace)
        ExportSchedule.objects.create(workspace=workspace, name=f"Nightly {workspace.slug}")
    # The model permissions a staff member needed before (ignored now).
    viewer = make_user(home, Membership.Role.VIEWER, is_staff=True)
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=["view_export", "view_exportschedule"])
    )
    client = console_client(viewer)
    for model in (Export, ExportSchedule):
        page = client.get(admin_url(model, "changelist"))
        assert page.status_code == 200
        html = page.content.decode()
        assert "Home" in html
        assert "Zulu" not in html, model


def test_a_raw_id_field_names_only_objects_the_caller_may_pick(
    make_workspace: MakeWorkspace,
) -> None:
    home, other = make_workspace(), make_workspace()
    theirs = make_post(make_account(other, handle="zulu-handle"), title="Zulu post")
    user = make_user(home, Role.OPERATOR, is_staff=True)
    request = RequestFactory().get("/")
    request.user = user
    form_class = admin.site.get_model_admin(Post).get_form(
        request, fields=["workspace", "account", "campaign"]
    )
    form = form_class(initial={"account": theirs.account_id, "workspace": other.pk})
    html = str(form["account"]) + str(form["workspace"])
    assert "zulu" not in html.lower()
    account_field = form.fields["account"]
    assert isinstance(account_field, ModelChoiceField) and account_field.queryset is not None
    assert not account_field.queryset.filter(pk=theirs.account_id).exists()
