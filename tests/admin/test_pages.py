"""Every console page answers, and every model has a place in it."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.admin import MembershipInline, WorkspaceAdmin
from accounts.models import Membership
from monitoring.models import Alert
from tests.admin.conftest import Farm
from uploads.admin import PostAdmin, PostAttemptInline
from uploads.models import RateLimitRule

FARM_APPS = ("accounts", "browsers", "uploads", "monitoring", "capture", "training")


def farm_models() -> list[type[Model]]:
    return [model for label in FARM_APPS for model in apps.get_app_config(label).get_models()]


def an_object_of(model: type[Model], farm: Farm) -> Model | None:
    by_model: dict[type[Model], Model] = {
        type(obj): obj
        for obj in (
            farm.workspace,
            farm.account,
            farm.profile,
            farm.campaign,
            farm.post,
            farm.attempt,
            farm.alert,
        )
    }
    return by_model.get(model) or model._default_manager.first()


def admin_url(model: type[Model], view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_farm_model_is_in_the_console() -> None:
    for model in farm_models():
        if model is Membership:
            assert MembershipInline in WorkspaceAdmin.inlines
            continue
        assert admin.site.is_registered(model), model
    assert PostAttemptInline in PostAdmin.inlines


@pytest.mark.parametrize(
    "model",
    [model for model in farm_models() if admin.site.is_registered(model)],
    ids=lambda model: model._meta.label,
)
def test_changelist_change_and_history_pages_answer(
    model: type[Model], superuser: User, superuser_client: Client, farm: Farm
) -> None:
    obj = an_object_of(model, farm)
    assert obj is not None
    pages = [
        admin_url(model, "changelist"),
        admin_url(model, "changelist") + "?q=a",
        admin_url(model, "change", obj.pk),
        admin_url(model, "history", obj.pk),
    ]
    request = RequestFactory().get("/")
    request.user = superuser
    if admin.site.get_model_admin(model).has_add_permission(request):
        pages.append(admin_url(model, "add"))
    for url in pages:
        response = superuser_client.get(url)
        assert response.status_code == 200, url


def test_index_has_the_console_title_and_summary(superuser_client: Client, farm: Farm) -> None:
    response = superuser_client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Farm console" in html
    assert 'id="farm-summary"' in html


def test_post_page_is_read_only_and_shows_attempts_with_screenshot(
    superuser_client: Client, farm: Farm
) -> None:
    response = superuser_client.get(admin_url(type(farm.post), "change", farm.post.pk))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="title"' not in html  # nothing to edit
    assert farm.attempt.screenshot.url in html
    assert "<img" in html
    assert "The platform rejected the post." in html


def test_dead_letters_filter_lists_only_dead_posts(
    superuser_client: Client, farm: Farm, make_post
) -> None:
    dead = make_post(farm.account, "dead", title="Gave up")
    make_post(farm.account, "posted", title="Went out")
    response = superuser_client.get(
        admin_url(type(farm.post), "changelist") + "?status__exact=dead"
    )
    assert [post.pk for post in response.context["cl"].result_list] == [dead.pk]


def test_dead_letters_show_their_attempts_and_last_error(
    superuser_client: Client, farm: Farm, make_post
) -> None:
    make_post(
        farm.account,
        "dead",
        title="Gave up",
        attempts_count=4,
        last_error="x" * 70 + " timed out again",
    )
    response = superuser_client.get(
        admin_url(type(farm.post), "changelist") + "?status__exact=dead"
    )
    html = response.content.decode()
    assert '<td class="field-attempts">4 / 4</td>' in html
    # Cut short in the list; the post's own page has all of it.
    assert "x" * 70 + " timed" in html
    assert "timed out again" not in html
    assert 'value="requeue_dead_posts"' in html


def test_rate_limit_rules_are_edited_in_the_list(superuser_client: Client, farm: Farm) -> None:
    url = admin_url(RateLimitRule, "changelist")
    formset = superuser_client.get(url).context["cl"].formset
    data = {
        "form-TOTAL_FORMS": str(formset.total_form_count()),
        "form-INITIAL_FORMS": str(formset.initial_form_count()),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    target = None
    for form in formset.forms:
        rule = form.instance
        values = {
            "id": rule.pk,
            "per_hour": rule.per_hour,
            "per_day": rule.per_day,
            "min_interval_seconds": rule.min_interval_seconds,
        }
        if target is None:
            target, values["per_hour"] = rule, 1
        data.update({f"{form.prefix}-{key}": str(value) for key, value in values.items()})
    assert target is not None
    response = superuser_client.post(url, data)
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.per_hour == 1


def test_alert_page_is_read_only(superuser_client: Client, farm: Farm) -> None:
    response = superuser_client.get(admin_url(Alert, "change", farm.alert.pk))
    assert response.status_code == 200
    assert 'name="message"' not in response.content.decode()
