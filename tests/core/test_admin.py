"""Every console page answers, and every model has a place in it."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import Model
from django.test import Client, RequestFactory

from accounts.admin import MembershipInline, WorkspaceAdmin
from accounts.models import Membership
from tests.conftest import admin_url
from tests.factories import Farm
from uploads.admin import PostAdmin, PostAttemptInline

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
