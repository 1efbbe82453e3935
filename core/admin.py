"""What every console page shares: workspace scoping and permissions by role, secrets kept
unloaded, read-only records, actions applied one object at a time; and the page of
farm-wide locks, for superusers only.

Who may do what in the console is decided by the caller's membership roles, per
workspace, never by Django's model permissions: viewers read, owners and operators
change, owners alone manage a workspace's members and settings (see
`core.tenancy`). Staff status is only the key to the console's door; a superuser may
do everything. A page that is not scoped to workspaces this way is for superusers
only (`core.console.FarmWideAdminMixin`); the console's site applies it to any model
admin that does not scope itself (`monitoring.sites.FarmAdminSite.register`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import BooleanField, ExpressionWrapper, Model, Q, QuerySet
from django.db.models.fields.related import ForeignKey
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.text import Truncator

from core.console import FarmWideAdminMixin
from core.models import SchedulerLock
from core.tenancy import READ_ROLES, WRITE_ROLES, workspace_roles

Roles = Sequence[str]


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


# --- The caller and their roles -----------------------------------------------


def console_roles(request: HttpRequest) -> dict[int, str]:
    """The caller's role by workspace id, read once per request."""
    roles = getattr(request, "_farm_console_roles", None)
    if roles is None:
        roles = workspace_roles(user=request.user)
        request._farm_console_roles = roles  # type: ignore[attr-defined]
    return roles


def workspace_id_of(obj: Model, path: str) -> int | None:
    """The id of the workspace `obj` belongs to, following `path` ("" for a workspace)."""
    if not path:
        return obj.pk
    *steps, last = path.split("__")
    target: Any = obj
    for step in steps:
        try:
            target = getattr(target, step)
        except ObjectDoesNotExist:
            return None
        if target is None:
            return None
    return getattr(target, f"{last}_id", None)


def _workspace_path_of(admin_site: admin.AdminSite, model: type[Model]) -> str | None:
    """How to reach a model's workspace, or None when it belongs to no workspace."""
    if model._meta.label == settings.FARM_WORKSPACE_MODEL:
        return ""
    related_admin = admin_site._registry.get(model)
    if isinstance(related_admin, WorkspaceScopedAdmin):
        return related_admin.workspace_path
    if any(f.name == "workspace" for f in model._meta.get_fields()):
        return "workspace"
    return None


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id input that names the chosen object only if the caller may choose it.

    Django's looks the id up among all rows, so an add page opened with
    `?account=<id>` would show another tenant's account by name.
    """

    def __init__(self, rel: Any, admin_site: admin.AdminSite, queryset: QuerySet, **kw: Any):
        super().__init__(rel, admin_site, **kw)
        self.queryset = queryset

    def label_and_url_for_value(self, value: Any) -> tuple[str, str]:
        key = self.rel.get_related_field().name
        try:
            obj = self.queryset.get(**{key: value})
        except (ValueError, ValidationError, ObjectDoesNotExist):
            return "", ""
        meta = obj._meta
        try:
            url = reverse(
                f"{self.admin_site.name}:{meta.app_label}_{meta.model_name}_change",
                args=(obj.pk,),
            )
        except NoReverseMatch:
            url = ""
        return Truncator(obj).words(14), url


class _ScopedForms:
    """Choices in forms: only objects of workspaces where the caller may write."""

    admin_site: admin.AdminSite

    def writable_workspace_ids(self, request: HttpRequest) -> list[int] | None:
        raise NotImplementedError

    def scope_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, kwargs: dict[str, Any]
    ) -> None:
        related = db_field.related_model
        assert isinstance(related, type)
        if _secret_fields(related):
            kwargs.setdefault("queryset", deferring_secrets(related._default_manager.all()))
        ids = self.writable_workspace_ids(request)
        if ids is None:
            return
        base = kwargs.get("queryset", related._default_manager.all())
        path = _workspace_path_of(self.admin_site, related)
        if path is None:
            # Not a workspace's: farm-wide rows are for superusers to pick.
            kwargs["queryset"] = base.none()
        else:
            kwargs["queryset"] = base.filter(**{f"{path or 'pk'}__in": ids})

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField | None:
        # Choices (and raw ids typed in) are the objects of workspaces the caller may write.
        self.scope_foreignkey(db_field, request, kwargs)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]
        self.scope_widget(field, db_field)
        return field

    def scope_widget(self, field: forms.Field | None, db_field: ForeignKey) -> None:
        if isinstance(field, forms.ModelChoiceField) and isinstance(
            field.widget, ForeignKeyRawIdWidget
        ):
            assert field.queryset is not None
            field.widget = ScopedRawIdWidget(
                db_field.remote_field, self.admin_site, field.queryset, using=field.widget.db
            )


class WorkspaceScopedAdmin(_ScopedForms, admin.ModelAdmin):
    """A page of a workspace's objects: members see their workspaces' rows, their roles
    decide what they may do with each.

    `workspace_path` is the lookup from the model to its workspace. `view_roles`
    may see a workspace's objects and `change_roles` may add, change, delete and
    act on them (an admin may narrow either). A list asks whether the caller has
    the role in any workspace; an object, in the object's own workspace; an
    action runs only on the selected objects whose workspace allows it.
    """

    workspace_path = "workspace"
    # Read by the console's site: this page scopes itself to the caller.
    scoped_to_caller = True
    view_roles: Roles = READ_ROLES
    change_roles: Roles = WRITE_ROLES

    def roles_for(self, permission: str) -> Roles:
        return self.view_roles if permission == "view" else self.change_roles

    def caller_may(self, request: HttpRequest, roles: Roles, obj: Model | None = None) -> bool:
        """Whether the caller has one of `roles` in obj's workspace (in any, for no obj)."""
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        if user.is_superuser:
            return True
        mine = console_roles(request)
        if obj is None:
            return any(role in roles for role in mine.values())
        workspace_id = workspace_id_of(obj, self.workspace_path)
        return workspace_id in mine and mine[workspace_id] in roles

    def workspace_ids_with(self, request: HttpRequest, roles: Roles) -> list[int] | None:
        """The workspaces where the caller has one of `roles`; None means all (superusers)."""
        if request.user.is_superuser:
            return None
        return [ws for ws, role in console_roles(request).items() if role in roles]

    def scoped_workspace_ids(self, request: HttpRequest) -> list[int] | None:
        return self.workspace_ids_with(request, self.view_roles)

    def writable_workspace_ids(self, request: HttpRequest) -> list[int] | None:
        return self.workspace_ids_with(request, self.change_roles)

    def in_workspaces(self, queryset: QuerySet, ids: list[int] | None) -> QuerySet:
        if ids is None:
            return queryset
        lookup = "pk__in" if self.workspace_path == "" else f"{self.workspace_path}__in"
        return queryset.filter(**{lookup: ids})

    # --- Permissions, by role ---------------------------------------------------

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.caller_may(request, self.view_roles)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.caller_may(request, self.view_roles, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.caller_may(request, self.change_roles)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.caller_may(request, self.change_roles, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.caller_may(request, self.change_roles, obj)

    # --- What the caller sees and may choose ----------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return self.in_workspaces(super().get_queryset(request), self.scoped_workspace_ids(request))

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        """A filter by a related object offers only those in the caller's rows.

        Django's default filter on a foreign key lists every row of the related
        table: every workspace's name, say.
        """
        scoped: list[Any] = []
        for entry in super().get_list_filter(request):
            path, kind = entry if isinstance(entry, tuple) else (entry, None)
            if (
                isinstance(path, str)
                and kind in (None, admin.RelatedFieldListFilter)
                and get_fields_from_path(self.model, path)[-1].is_relation
            ):
                entry = (path, admin.RelatedOnlyFieldListFilter)
            scoped.append(entry)
        return scoped

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        # The object as it will be saved must be in a workspace the caller may change.
        obj = super().save_form(request, form, change)
        if not self.caller_may(request, self.change_roles, obj):
            raise PermissionDenied
        return obj

    # --- Actions ------------------------------------------------------------------

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        """Each action runs on the selected objects the caller may act on, no others."""
        actions: dict[str, Any] = {}
        for name, action in super().get_actions(request).items():
            if action is not None:
                func, _, description = action
                actions[name] = (self._scoped_action(func), name, description)
        return actions

    def _scoped_action(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # An action that declares nothing is taken to change what it touches.
        permissions = tuple(getattr(func, "allowed_permissions", ("change",)))

        @functools.wraps(func)
        def scoped(modeladmin: WorkspaceScopedAdmin, request: HttpRequest, queryset: QuerySet):
            roles = {role for p in permissions for role in modeladmin.roles_for(p)}
            allowed = modeladmin.workspace_ids_with(request, tuple(roles))
            return func(modeladmin, request, modeladmin.in_workspaces(queryset, allowed))

        return scoped

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


class WorkspaceScopedInline(_ScopedForms, InlineModelAdmin):
    """Rows shown inside a workspace-scoped page: judged by the roles of the page's object.

    `change_roles`, when set, narrows who may add, change and delete these rows
    (an owner's business, say); otherwise the page's own roles decide.
    """

    change_roles: Roles | None = None

    def _parent_admin(self) -> WorkspaceScopedAdmin:
        parent = self.admin_site._registry[self.parent_model]
        assert isinstance(parent, WorkspaceScopedAdmin), parent
        return parent

    def _may_change(self, request: HttpRequest, obj: Any) -> bool:
        parent = self._parent_admin()
        return parent.caller_may(request, self.change_roles or parent.change_roles, obj)

    def writable_workspace_ids(self, request: HttpRequest) -> list[int] | None:
        parent = self._parent_admin()
        return parent.workspace_ids_with(request, self.change_roles or parent.change_roles)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._parent_admin().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any) -> bool:  # type: ignore[override]
        return self._may_change(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_change(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_change(request, obj)


class ReadOnlyAdminMixin:
    """A record: shown, never added or edited here."""

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


@admin.register(SchedulerLock)
class SchedulerLockAdmin(FarmWideAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who holds the farm-wide locks (the one beat): for looking, not editing."""

    list_display = ["name", "holder", "acquired_at", "expires_at"]
