"""What every console page shares: workspace scoping, secrets kept unloaded, read-only
records, actions applied one object at a time; and the page of farm-wide locks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import BooleanField, ExpressionWrapper, Model, Q, QuerySet
from django.db.models.fields.related import ForeignKey
from django.http import HttpRequest

from core.models import SchedulerLock
from core.tenancy import member_workspace_ids


def _secret_fields(model: type[Model]) -> tuple[str, ...]:
    # A model lists its encrypted columns in `secret_fields`.
    return tuple(getattr(model, "secret_fields", ()))


def deferring_secrets(queryset: QuerySet, *paths: str) -> QuerySet:
    """Leave encrypted columns unloaded, on the model or on the models across `paths`.

    Nothing in the console shows them, and loading would decrypt every row.
    """
    if not paths:
        return queryset.defer(*_secret_fields(queryset.model))
    deferred = []
    for path in paths:
        model = queryset.model
        for step in path.split("__"):
            model = model._meta.get_field(step).related_model
        deferred += [f"{path}__{name}" for name in _secret_fields(model)]
    return queryset.defer(*deferred)


def stored_flag(field: str) -> ExpressionWrapper:
    # Says whether a secret is stored without reading (and decrypting) it.
    return ExpressionWrapper(Q(**{f"{field}__isnull": False}), output_field=BooleanField())


class WorkspaceScopedAdmin(admin.ModelAdmin):
    """Staff who are not superusers see only the workspaces they are members of.

    `workspace_path` is the lookup from the model to its workspace.
    """

    workspace_path = "workspace"

    def scoped_workspace_ids(self, request: HttpRequest) -> list[int] | None:
        # Cached on the request: changelists ask once per filter and form field.
        if not hasattr(request, "_farm_workspace_ids"):
            request._farm_workspace_ids = member_workspace_ids(user=request.user)  # type: ignore[attr-defined]
        return request._farm_workspace_ids  # type: ignore[attr-defined]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        ids = self.scoped_workspace_ids(request)
        if ids is None:
            return queryset
        lookup = "pk__in" if self.workspace_path == "" else f"{self.workspace_path}__in"
        return queryset.filter(**{lookup: ids})

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField | None:
        # Choices (and raw ids typed in) are limited to the user's workspaces too.
        ids = self.scoped_workspace_ids(request)
        related = db_field.related_model
        if _secret_fields(related):
            kwargs.setdefault("queryset", deferring_secrets(related._default_manager.all()))
        if ids is not None:
            if related._meta.label == settings.FARM_WORKSPACE_MODEL:
                kwargs["queryset"] = related._default_manager.filter(pk__in=ids)
            elif any(f.name == "workspace" for f in related._meta.get_fields()):
                base = kwargs.get("queryset", related._default_manager.all())
                kwargs["queryset"] = base.filter(workspace_id__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def apply_to_each(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        service: Callable[..., bool],
        *,
        keyword: str,
        fields: tuple[str, ...],
        done: str,
        skipped: str,
    ) -> None:
        """Run a state-changing service on each selected object and say how many it moved.

        `done` is formatted with the count moved (e.g. "Paused {} account(s)."),
        `skipped` with the count the service refused.
        """
        selected = list(queryset.select_related(None).only("pk", *fields))
        moved = sum(1 for obj in selected if service(**{keyword: obj}))
        text = done.format(moved)
        if len(selected) > moved:
            text += " " + skipped.format(len(selected) - moved)
        self.message_user(request, text, messages.SUCCESS if moved else messages.WARNING)


class ReadOnlyAdminMixin:
    """A record: shown, never added or edited here."""

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


@admin.register(SchedulerLock)
class SchedulerLockAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who holds the farm-wide locks (the one beat): for looking, not editing."""

    list_display = ["name", "holder", "acquired_at", "expires_at"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return bool(request.user.is_superuser)
