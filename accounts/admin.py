"""The console's workspaces and accounts, and people's API tokens.

Secrets (credentials, cookies) are never loaded into a console page: the
querysets defer them and only say whether something is stored. New
credentials can be written, never read back. An API key is shown once, when
it is made; only its hash is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from accounts.models import Account, ApiToken, Membership, Workspace
from accounts.selectors import accounts_needing_attention
from accounts.services import (
    account_create,
    account_pause,
    account_resume,
    account_set_credentials,
    api_token_create,
)
from core.admin import (
    WorkspaceScopedAdmin,
    WorkspaceScopedInline,
    deferring_secrets,
    stored_flag,
)
from core.console import is_superuser
from core.tenancy import OWNER_ROLES, all_workspace_ids_or, member_workspace_ids


class MembershipForm(forms.ModelForm):
    # A username typed in, never a list to pick from: that would show every
    # tenant's people to each workspace's owners.
    user = forms.ModelChoiceField(
        queryset=get_user_model()._default_manager.all(),
        to_field_name="username",
        widget=forms.TextInput,
        label="Username",
        help_text="The person's login; a superuser creates logins.",
        error_messages={"invalid_choice": "No one has this username."},
    )

    class Meta:
        model = Membership
        fields = ["user", "role"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["user"] = self.instance.user.get_username()


class MembershipInline(WorkspaceScopedInline, admin.TabularInline):
    """The workspace's members and their roles: its owners manage them."""

    model = Membership
    form = MembershipForm
    extra = 0
    change_roles = OWNER_ROLES


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    workspace_path = ""
    list_display = ["name", "slug", "timezone", "accounts_in_use", "max_accounts", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    # A workspace's name, time zone and members are its owners' to set.
    change_roles = OWNER_ROLES

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workspace]:
        return super().get_queryset(request).annotate(account_count=Count("accounts"))

    @admin.display(description="accounts", ordering="account_count")
    def accounts_in_use(self, obj: Workspace) -> int:
        return obj.account_count  # type: ignore[attr-defined]

    def get_readonly_fields(self, request: HttpRequest, obj: Workspace | None = None) -> list[str]:
        # The plan's cap is the farm owner's to change, not a tenant's.
        readonly = ["created_at"]
        if not request.user.is_superuser:
            readonly += ["slug", "max_accounts"]
        return readonly

    def get_prepopulated_fields(
        self, request: HttpRequest, obj: Workspace | None = None
    ) -> dict[str, Sequence[str]]:
        return self.prepopulated_fields if request.user.is_superuser else {}

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A new tenant, or one gone, is the farm owner's decision.
        return is_superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Workspace | None = None) -> bool:
        return is_superuser(request)


class AttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("yes", "Needs login, paused or failing")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Account]) -> QuerySet[Account]:
        if self.value() == "yes":
            # The dashboard's own rule, so its count and this list always agree.
            troubled = accounts_needing_attention(
                workspace_ids=all_workspace_ids_or(member_workspace_ids(user=request.user))
            )
            return queryset.filter(pk__in=troubled.values("pk"))
        return queryset


class AccountAdminForm(forms.ModelForm):
    # Write-only: the stored secret is never rendered, only replaced.
    username = forms.CharField(required=False, max_length=200)
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Fill both to replace the stored credentials; leave both empty to keep them.",
    )

    class Meta:
        model = Account
        fields: list[str] = []

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        username, password = cleaned.get("username"), cleaned.get("password")
        if username and not password:
            self.add_error("password", "Give the password together with the username.")
        elif password and not username:
            self.add_error("username", "Give the username together with the password.")
        return cleaned

    def new_credentials(self) -> dict[str, str] | None:
        if self.cleaned_data.get("username") and self.cleaned_data.get("password"):
            return {
                "username": self.cleaned_data["username"],
                "password": self.cleaned_data["password"],
            }
        return None


@admin.register(Account)
class AccountAdmin(WorkspaceScopedAdmin):
    form = AccountAdminForm
    list_display = [
        "handle",
        "platform",
        "workspace",
        "state",
        "credentials_stored",
        "cookies_stored",
        "quota",
        "consecutive_failures",
        "last_posted_at",
        "last_error_kind",
    ]
    list_filter = [
        "state",
        AttentionFilter,
        "platform",
        ("workspace", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["workspace"]
    search_fields = ["handle", "workspace__name", "workspace__slug"]
    autocomplete_fields = ["workspace"]
    date_hierarchy = "created_at"
    actions = ["pause_accounts", "resume_accounts"]

    add_fieldsets = [
        (None, {"fields": ["workspace", "platform", "handle", "daily_quota"]}),
        ("Credentials", {"fields": ["username", "password"]}),
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "workspace",
                    "platform",
                    "handle",
                    "state",
                    "state_reason",
                    "state_changed_at",
                    "created_at",
                ]
            },
        ),
        (
            "Quota and limits",
            {
                "fields": [
                    "daily_quota",
                    "quota_used",
                    "quota_date",
                    "per_hour_override",
                    "per_day_override",
                    "min_interval_override",
                ],
                "description": "Empty overrides use the platform's rate-limit rule.",
            },
        ),
        (
            "Health",
            {
                "fields": [
                    "last_posted_at",
                    "last_error_at",
                    "last_error_kind",
                    "consecutive_failures",
                ]
            },
        ),
        (
            "Credentials",
            {
                "fields": ["credentials_stored", "cookies_stored", "username", "password"],
                "description": "Stored secrets are never shown; they can only be replaced.",
            },
        ),
    ]
    # State moves only through the pause and resume actions (the services).
    change_readonly_fields = [
        "workspace",
        "platform",
        "state",
        "state_reason",
        "state_changed_at",
        "created_at",
        "quota_used",
        "quota_date",
        "last_posted_at",
        "last_error_at",
        "last_error_kind",
        "consecutive_failures",
        "credentials_stored",
        "cookies_stored",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        return deferring_secrets(super().get_queryset(request)).annotate(
            has_credentials=stored_flag("credentials"), has_cookies=stored_flag("cookies")
        )

    def get_fieldsets(self, request: HttpRequest, obj: Account | None = None) -> list:
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Account | None = None) -> list[str]:
        return [] if obj is None else self.change_readonly_fields

    @admin.display(description="credentials stored", boolean=True, ordering="has_credentials")
    def credentials_stored(self, obj: Account) -> bool:
        return bool(getattr(obj, "has_credentials", False))

    @admin.display(description="cookies stored", boolean=True, ordering="has_cookies")
    def cookies_stored(self, obj: Account) -> bool:
        return bool(getattr(obj, "has_cookies", False))

    @admin.display(description="used today", ordering="quota_used")
    def quota(self, obj: Account) -> str:
        return f"{obj.quota_used_on(obj.workspace.local_date())} / {obj.daily_quota}"

    def save_model(
        self, request: HttpRequest, obj: Account, form: AccountAdminForm, change: bool
    ) -> None:
        credentials = form.new_credentials()
        if not change:
            # The service enforces the plan's cap and gives the account its profile.
            created = account_create(
                workspace=obj.workspace,
                platform=obj.platform,
                handle=obj.handle,
                credentials=credentials,
                daily_quota=obj.daily_quota,
            )
            obj.pk = created.pk
            return
        super().save_model(request, obj, form, change)
        if credentials is not None:
            account_set_credentials(account=obj, credentials=credentials)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except ValidationError as exc:
            # A rule the service enforces (the plan's cap); the view's transaction rolled back.
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def _move(
        self, request: HttpRequest, queryset: QuerySet[Account], service: Any, verb: str
    ) -> None:
        self.apply_to_each(
            request,
            queryset,
            service,
            keyword="account",
            fields=("state",),
            done=f"{verb} {{}} account(s).",
            skipped="{} were not in a state that allows it and were left alone.",
        )

    @admin.action(description="Pause the selected accounts", permissions=["change"])
    def pause_accounts(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        self._move(request, queryset, account_pause, "Paused")

    @admin.action(description="Resume the selected accounts", permissions=["change"])
    def resume_accounts(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        self._move(request, queryset, account_resume, "Resumed")


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API keys: superusers see and make everyone's, every staff member their own.

    A key is shown once, in the message after it is made; its page shows only
    its first characters. Deleting a token revokes the key.
    """

    # Read by the console's site: this page scopes itself to the caller.
    scoped_to_caller = True
    form = ApiTokenForm
    list_display = ["name", "user", "prefix", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        queryset = super().get_queryset(request).select_related("user")
        return queryset if is_superuser(request) else queryset.filter(user_id=request.user.pk)

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("user", "name") if is_superuser(request) else ("name",)
        return ("user", "name", "prefix", "created_at", "last_used_at")

    def get_autocomplete_fields(self, request: HttpRequest) -> list[str]:
        return ["user"] if is_superuser(request) else []

    def _staff(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def _mine(self, request: HttpRequest, obj: ApiToken | None) -> bool:
        if not self._staff(request):
            return False
        return obj is None or is_superuser(request) or obj.user_id == request.user.pk

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._staff(request)

    def has_view_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return self._mine(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._staff(request)

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        # A key is made and revoked, never edited: a new purpose is a new key.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return self._mine(request, obj)

    def save_model(
        self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm, change: bool
    ) -> None:
        # Superusers make keys for anyone; everyone else, for themselves.
        owner = form.cleaned_data["user"] if is_superuser(request) else request.user
        assert isinstance(owner, User)
        token, key = api_token_create(user=owner, name=obj.name)
        obj.pk, obj.user, obj.prefix = token.pk, token.user, token.prefix
        obj.key_hash, obj.created_at = token.key_hash, token.created_at
        self.message_user(
            request,
            f"The key, shown only now: {key} (send it as `Authorization: Token <key>`).",
            messages.WARNING,
        )
