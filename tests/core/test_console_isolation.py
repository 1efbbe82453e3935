"""Tenant isolation in the console, walked from the admin site's registry.

Two workspaces hold one of every model: Acme (A) and B, every name of B's
carrying the mark "zulu-x7". A staff member of A with each role walks every
page of every registered model (its list, add page, the change, history and
delete pages of an object of A and of B, and any other page the model admin
adds), the index, each app's page and the autocomplete of every foreign key;
then posts to B's pages and runs every action on B's objects. Nothing of B may
show or change, and in A each role may do exactly what `EXPECTED` says.

A model registered later is walked too: if it is a workspace's, the test asks
for its line in `EXPECTED` (and in `ADD_FORMS` if it can be added); any other
is for superusers only, which `FarmAdminSite.register` makes so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.db.models import Model, QuerySet
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse

from accounts.models import ApiToken, Workspace
from capture.models import CapturedSession, CaptureSettings, IngestToken, Interaction
from core.admin import WorkspaceScopedAdmin
from core.tenancy import Role
from monitoring.models import Alert
from tests.factories import (
    api_token,
    console_client,
    export_add_form,
    make_farm,
    make_user,
    make_workspace,
)
from training.models import Export, ExportSchedule
from uploads.models import Campaign, Post, PostAttempt

pytestmark = pytest.mark.django_db

# In every name of B's, and nowhere else; the dash keeps it out of random tokens
# (CSRF tokens are letters and digits), the length out of a key's shown prefix.
MARK = "zulu-x7"
ROLES = (Role.OWNER, Role.OPERATOR, Role.VIEWER)
ALL = frozenset(ROLES)
WRITE = frozenset({Role.OWNER, Role.OPERATOR})
OWNER = frozenset({Role.OWNER})
NOBODY: frozenset[str] = frozenset()
DENIED = (302, 403, 404)  # to the index ("does not exist"), refused, or not found


@dataclass(frozen=True)
class May:
    """Which roles may do what with a workspace's objects of one model.

    `change` is about an object's own page (some are records, read-only even to
    those who act on them from the list); `actions` names the roles that are
    offered each action (Django's delete_selected follows `delete`).
    """

    view: frozenset[str] = ALL
    add: frozenset[str] = WRITE
    change: frozenset[str] = WRITE
    delete: frozenset[str] = WRITE
    actions: dict[str, frozenset[str]] = field(default_factory=dict)


READ_ONLY = May(add=NOBODY, change=NOBODY, delete=NOBODY)
EXPECTED: dict[str, May] = {
    "accounts.Workspace": May(add=NOBODY, change=OWNER, delete=NOBODY),
    "accounts.Account": May(actions={"pause_accounts": WRITE, "resume_accounts": WRITE}),
    "browsers.BrowserProfile": May(add=NOBODY),
    "uploads.Post": May(
        add=NOBODY,
        change=NOBODY,
        actions={"cancel_posts": WRITE, "requeue_posts": WRITE, "requeue_dead_posts": WRITE},
    ),
    "uploads.PostAttempt": READ_ONLY,
    "uploads.Campaign": May(),
    "monitoring.Alert": May(add=NOBODY, change=NOBODY, actions={"resolve_alerts": WRITE}),
    "capture.CapturedSession": May(add=NOBODY, change=NOBODY, actions={"archive_sessions": WRITE}),
    "capture.Interaction": READ_ONLY,
    "capture.Screenshot": READ_ONLY,
    "capture.IngestToken": May(actions={"revoke_tokens": WRITE}),
    "capture.CaptureSettings": May(add=OWNER, change=OWNER, delete=OWNER),
    "training.Export": May(actions={"run_exports": WRITE}),
    "training.ExportSchedule": May(),
}
# Pages of a person's own things, not a workspace's: everyone sees only their own.
PERSONAL = {"accounts.ApiToken": May(add=ALL, change=NOBODY, delete=ALL)}


def _account_form(ws: Workspace) -> dict[str, object]:
    return {"workspace": ws.pk, "platform": "sandbox", "handle": f"new-{ws.slug}", "daily_quota": 5}


def _settings_form(ws: Workspace) -> dict[str, object]:
    CaptureSettings.objects.filter(workspace=ws).delete()  # one per workspace
    return {
        "workspace": ws.pk,
        "min_quality": "0.3",
        "retention_days": "30",
        "input_allow_list": "[]",
    }


def _schedule_form(ws: Workspace) -> dict[str, object]:
    return {
        **export_add_form(ws),
        "name": f"New schedule of {ws.slug}",
        "enabled": "on",
        "cron": "15 1 * * *",
        "window_days": "7",
    }


# What the add page of each model that can be added posts, for a workspace.
ADD_FORMS: dict[str, Callable[[Workspace], dict[str, object]]] = {
    "accounts.Account": _account_form,
    "uploads.Campaign": lambda ws: {
        "workspace": ws.pk,
        "name": f"New campaign of {ws.slug}",
        "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00",
    },
    "capture.IngestToken": lambda ws: {"workspace": ws.pk, "name": f"New token of {ws.slug}"},
    "capture.CaptureSettings": _settings_form,
    "training.Export": export_add_form,
    "training.ExportSchedule": _schedule_form,
}


# --- The two workspaces ---------------------------------------------------------


@dataclass
class Tenants:
    a: Workspace
    b: Workspace
    b_person: User


def _mark_b(b: Workspace) -> User:
    """Put the mark in every name and text of B's that a page could show."""
    Workspace.objects.filter(pk=b.pk).update(name=f"{MARK} Holdings")
    b.accounts.update(handle=f"{MARK}-alice")
    Campaign.objects.filter(workspace=b).update(name=f"{MARK} spring")
    Post.objects.filter(workspace=b).update(title=f"{MARK} post", last_error=f"{MARK} rejected")
    PostAttempt.objects.filter(post__workspace=b).update(message=f"{MARK} said no")
    Alert.objects.filter(workspace=b).update(message=f"{MARK} alert")
    IngestToken.objects.filter(workspace=b).update(name=f"{MARK} browser")
    CapturedSession.objects.filter(workspace=b).update(
        task=f"{MARK} task", start_url=f"http://{MARK}.example/"
    )
    Interaction.objects.filter(session__workspace=b).update(
        title=f"{MARK} page", url=f"http://{MARK}.example/"
    )
    ExportSchedule.objects.filter(workspace=b).update(name=f"{MARK} nightly")
    Export.objects.filter(workspace=b).update(warnings=[{"code": "x", "message": f"{MARK} warns"}])
    person = User.objects.get(memberships__workspace=b)
    User.objects.filter(pk=person.pk).update(username=f"{MARK}-person", email=f"{MARK}@example.com")
    ApiToken.objects.filter(user=person).update(name=f"{MARK} integration")
    return User.objects.get(pk=person.pk)


@pytest.fixture
def tenants(media_in_tmp: Path) -> Tenants:
    a = make_workspace(name="Acme", slug="acme")
    make_farm(a)
    b = make_workspace(name="B", slug="bee")
    make_farm(b)
    person = _mark_b(b)
    return Tenants(a=a, b=Workspace.objects.get(pk=b.pk), b_person=person)


def member(tenants: Tenants, role: str) -> tuple[User, Client]:
    user = make_user(tenants.a, role, is_staff=True)
    api_token(user, name="my key")
    return user, console_client(user)


# --- The registry ---------------------------------------------------------------


def registry() -> Iterator[tuple[type[Model], admin.ModelAdmin]]:
    yield from admin.site._registry.items()


def label(model: type[Model]) -> str:
    return model._meta.label


def is_scoped(model_admin: admin.ModelAdmin) -> bool:
    return isinstance(model_admin, WorkspaceScopedAdmin)


def may(model: type[Model]) -> May | None:
    """What the roles may do with the model; None for a page of superusers only."""
    model_admin = admin.site.get_model_admin(model)
    if label(model) in PERSONAL:
        return PERSONAL[label(model)]
    if is_scoped(model_admin):
        assert label(model) in EXPECTED, f"Say in EXPECTED what each role may do with {model}"
        return EXPECTED[label(model)]
    assert not getattr(model_admin, "scoped_to_caller", False), model
    return None


def rows_of(model: type[Model], workspace: Workspace, tenants: Tenants) -> QuerySet:
    """The model's rows that belong to the workspace (or to its person, for personal pages)."""
    model_admin = admin.site.get_model_admin(model)
    if label(model) in PERSONAL:
        person = tenants.b_person if workspace == tenants.b else None
        queryset = model._default_manager.all()
        return queryset.filter(user=person) if person else queryset.exclude(user=tenants.b_person)
    assert isinstance(model_admin, WorkspaceScopedAdmin)
    return model_admin.in_workspaces(model._default_manager.all(), [workspace.pk])


def object_of(model: type[Model], workspace: Workspace, tenants: Tenants) -> Model:
    obj = rows_of(model, workspace, tenants).order_by("pk").first()
    assert obj is not None, f"make_farm should make one {model.__name__} in each workspace"
    return obj


def snapshot(tenants: Tenants) -> dict[str, list[dict[str, Any]]]:
    """B's rows of every page's model, and every row of the farm-wide ones."""
    taken: dict[str, list[dict[str, Any]]] = {}
    for model, _ in registry():
        rows = (
            rows_of(model, tenants.b, tenants)
            if may(model) is not None
            else model._default_manager.all()
        )
        values = list(rows.order_by("pk").values())
        for row in values:
            row.pop("last_login", None)  # signing in moves it, for the staff member only
        taken[label(model)] = values
    return taken


def model_urls(model_admin: admin.ModelAdmin, obj: Model | None) -> dict[str, str]:
    """Every named page of the model admin; those that name an object, for `obj`."""
    urls = {}
    for pattern in model_admin.get_urls():
        assert isinstance(pattern, URLPattern)
        if pattern.name is None:
            continue
        arguments = list(pattern.pattern.converters)
        if arguments and obj is None:
            continue
        suffix = pattern.name.removeprefix(
            f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_"
        )
        urls[suffix] = reverse(
            f"admin:{pattern.name}", kwargs={name: str(obj.pk) for name in arguments if obj}
        )
    return urls


def assert_clean(response: Any, where: str, *, echoed: str = "") -> None:
    """No error, and no mark of B's in the page (but in the echo of what was searched)."""
    assert response.status_code < 500, where
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode(errors="replace").lower()
    if echoed:
        for echo in (f'value="{echoed}"', f"q={echoed}", f"q%3d{echoed}"):
            text = text.replace(echo, "")
    assert MARK not in text, where


def defined_actions(model_admin: admin.ModelAdmin) -> set[str]:
    """The actions of the page, whoever may use them: its own and the site's."""
    return {*(str(a) for a in model_admin.actions or ()), *(n for n, _ in admin.site.actions)}


def staff_request(user: User) -> Any:
    request = RequestFactory().get("/")
    request.user = user
    return request


# --- What each role sees ----------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_page_shows_nothing_of_another_workspace(tenants: Tenants, role: str) -> None:
    user, client = member(tenants, role)

    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert_clean(index, "index")
    listed = {
        f"{app['app_label']}.{m['object_name']}"
        for app in index.context["app_list"]
        for m in app["models"]
    }
    assert listed == {label(m) for m, _ in registry() if may(m) is not None}
    visible_apps = {name.split(".")[0] for name in listed}
    for app_label in {model._meta.app_label for model, _ in registry()}:
        page = client.get(reverse("admin:app_list", args=[app_label]))
        assert page.status_code == (200 if app_label in visible_apps else 404), app_label
        assert_clean(page, app_label)

    for model, model_admin in registry():
        rules = may(model)
        if rules is None:
            _assert_superusers_only(client, model, model_admin)
            continue
        mine = object_of(model, tenants.a, tenants)
        if label(model) in PERSONAL:
            mine = rows_of(model, tenants.a, tenants).get(user=user)
        theirs = object_of(model, tenants.b, tenants)
        expected = {
            "changelist": 200 if role in rules.view else 403,
            "add": 200 if role in rules.add else 403,
            "change": 200 if role in rules.view else 403,
            "history": 200 if role in rules.view else 403,
            "delete": 200 if role in rules.delete else 403,
        }
        for suffix, url in model_urls(model_admin, mine).items():
            for query in ("", f"?q={MARK}", "?_popup=1&_to_field=id"):
                response = client.get(url + query)
                where = f"{role} {label(model)} {suffix} of A {query}"
                assert_clean(response, where, echoed=MARK if MARK in query else "")
                if query and suffix != "changelist":
                    continue
                assert response.status_code == expected.get(suffix, 200), where
                if suffix == "changelist" and response.status_code == 200:
                    shown = {obj.pk for obj in response.context["cl"].result_list}
                    assert theirs.pk not in shown and (query or mine.pk in shown), where
                if suffix == "change":
                    assert response.context["has_change_permission"] == (role in rules.change)
        for suffix, url in model_urls(model_admin, theirs).items():
            if suffix in ("changelist", "add"):
                continue
            response = client.get(url)
            where = f"{role} {label(model)} {suffix} of B"
            assert response.status_code in DENIED, where
            assert_clean(response, where)
        if role in rules.add:
            _assert_add_page_names_nothing_of_b(client, model, model_admin, tenants)
        shortcut = reverse(
            "admin:view_on_site",
            args=[ContentType.objects.get_for_model(model).pk, str(theirs.pk)],
        )
        assert client.get(shortcut).status_code in DENIED

    _assert_autocomplete_offers_nothing_of_b(client, tenants)


def _assert_superusers_only(client: Client, model: type[Model], model_admin: Any) -> None:
    obj = model._default_manager.first()
    for suffix, url in model_urls(model_admin, obj).items():
        response = client.get(url)
        assert response.status_code in DENIED, (label(model), suffix)
        assert_clean(response, f"{label(model)} {suffix}")


def _assert_add_page_names_nothing_of_b(
    client: Client, model: type[Model], model_admin: admin.ModelAdmin, tenants: Tenants
) -> None:
    """The add page, opened with each foreign key set to B's object, as a link would."""
    for fk in model._meta.get_fields():
        if not (fk.many_to_one and fk.concrete) or fk.related_model is None:
            continue
        related = fk.related_model
        assert isinstance(related, type)
        if not admin.site.is_registered(related) or may(related) is None:
            continue
        b_obj = object_of(related, tenants.b, tenants)
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
        response = client.get(url, {fk.name: str(b_obj.pk)})
        assert response.status_code == 200
        assert_clean(response, f"add {label(model)} with {fk.name} of B")
        form = response.context["adminform"].form
        if fk.name in form.fields:
            choices = form.fields[fk.name].queryset
            assert not choices.filter(pk=b_obj.pk).exists(), (label(model), fk.name)


def _assert_autocomplete_offers_nothing_of_b(client: Client, tenants: Tenants) -> None:
    for source in apps.get_models():
        for fk in source._meta.get_fields():
            if not (fk.is_relation and fk.concrete and fk.related_model):
                continue
            remote = fk.related_model
            assert isinstance(remote, type)
            if not admin.site.is_registered(remote):
                continue
            for term in ("", MARK, "a"):
                response = client.get(
                    reverse("admin:autocomplete"),
                    {
                        "app_label": source._meta.app_label,
                        "model_name": str(source._meta.model_name),
                        "field_name": fk.name,
                        "term": term,
                    },
                )
                where = f"autocomplete {label(source)}.{fk.name} {term!r}"
                assert_clean(response, where)
                if may(remote) is None:
                    assert response.status_code in DENIED, where
                    continue
                if response.status_code != 200:
                    assert response.status_code == 404, where  # no search fields: no autocomplete
                    continue
                found = {row["id"] for row in response.json()["results"]}
                b_ids = {
                    str(pk)
                    for pk in rows_of(remote, tenants.b, tenants).values_list("pk", flat=True)
                }
                assert not found & b_ids, where


# --- What each role may change ---------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_nothing_of_another_workspace_changes_whatever_is_posted(
    tenants: Tenants, role: str
) -> None:
    _, client = member(tenants, role)
    before = snapshot(tenants)

    for model, model_admin in registry():
        rules = may(model)
        theirs = (
            object_of(model, tenants.b, tenants)
            if rules is not None
            else model._default_manager.first()
        )
        for suffix, url in model_urls(model_admin, theirs).items():
            data = {"post": "yes"} if suffix == "delete" else {}
            response = client.post(url, data)
            assert response.status_code in (*DENIED, 200), (label(model), suffix)
            assert_clean(response, f"POST {label(model)} {suffix}")
        if theirs is None:
            continue
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for action in sorted(defined_actions(model_admin)):
            response = client.post(
                changelist,
                {"action": action, "_selected_action": [str(theirs.pk)], "post": "yes"},
            )
            assert response.status_code in (*DENIED, 200), (label(model), action)
            assert_clean(response, f"action {action} on {label(model)}")

    assert snapshot(tenants) == before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model_label", sorted(EXPECTED))
def test_each_role_is_offered_exactly_its_actions_and_they_act_in_its_workspace(
    tenants: Tenants, role: str, model_label: str
) -> None:
    model = apps.get_model(model_label)
    model_admin = admin.site.get_model_admin(model)
    rules = EXPECTED[model_label]
    user, client = member(tenants, role)
    expected = {name for name, roles in rules.actions.items() if role in roles}
    if role in rules.delete:
        expected.add("delete_selected")
    offered = set(model_admin.get_actions(staff_request(user)))
    assert offered == expected
    defined = defined_actions(model_admin)
    assert set(rules.actions) <= defined

    changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    mine = object_of(model, tenants.a, tenants)
    rows = rows_of(model, tenants.a, tenants)
    for action in sorted(defined - expected):
        before = list(rows.order_by("pk").values())
        client.post(
            changelist, {"action": action, "_selected_action": [str(mine.pk)], "post": "yes"}
        )
        assert list(rows.order_by("pk").values()) == before, action
    for action in sorted(expected - {"delete_selected"}):
        response = client.post(changelist, {"action": action, "_selected_action": [str(mine.pk)]})
        assert response.status_code == 302, action
        shown = [str(m) for m in get_messages(response.wsgi_request)]
        assert shown and "No action selected." not in shown, (action, shown)
    if "delete_selected" in expected:
        selected = {"action": "delete_selected", "_selected_action": [str(mine.pk)]}
        confirm = client.post(changelist, selected)
        assert confirm.status_code == 200
        client.post(changelist, {**selected, "post": "yes"})
        # Deleting may take records along (a post's attempts), which nobody deletes here.
        gone = not model._default_manager.filter(pk=mine.pk).exists()
        assert gone != bool(confirm.context["perms_lacking"]), model_label


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model_label", sorted(ADD_FORMS))
def test_each_role_adds_exactly_where_it_may(tenants: Tenants, role: str, model_label: str) -> None:
    model = apps.get_model(model_label)
    rules = EXPECTED[model_label]
    _, client = member(tenants, role)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
    rows = rows_of(model, tenants.a, tenants)
    form = ADD_FORMS[model_label](tenants.a)
    before = rows.count()

    response = client.post(url, form)

    if role in rules.add:
        assert response.status_code == 302, response.content.decode()[:3000]
        assert rows.count() == before + 1
    else:
        assert response.status_code == 403
        assert rows.count() == before

    # The same form for the other workspace: refused, or the form again with an error.
    theirs = rows_of(model, tenants.b, tenants)
    form = ADD_FORMS[model_label](tenants.b)
    before = theirs.count()
    response = client.post(url, form)
    assert response.status_code in (200, 403)
    assert theirs.count() == before
    assert_clean(response, f"add {model_label} to B")


def test_every_page_a_role_may_add_on_has_an_add_form() -> None:
    for model_label, rules in EXPECTED.items():
        if rules.add:
            assert model_label in ADD_FORMS, f"Say in ADD_FORMS what adding a {model_label} posts"
