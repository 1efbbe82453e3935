from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from sandbox.models import SandboxAccount, SandboxPost
from sandbox.services import (
    FAULT_DEFAULTS,
    sandbox_account_clear_faults,
    sandbox_account_log_out_everyone,
)


class SandboxAccountForm(forms.ModelForm):
    # The stored hash is never shown; a new password can be set here instead.
    new_password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current password.",
    )

    class Meta:
        model = SandboxAccount
        fields = ["handle", *FAULT_DEFAULTS]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.instance.pk is None and not cleaned.get("new_password"):
            self.add_error("new_password", "A new account needs a password.")
        return cleaned


@admin.register(SandboxAccount)
class SandboxAccountAdmin(admin.ModelAdmin):
    """The practice platform's accounts and faults. Like every page that is not a
    workspace's, the console shows it to superusers only (monitoring.sites)."""

    form = SandboxAccountForm
    list_display = ["handle", *FAULT_DEFAULTS, "session_epoch", "created_at"]
    list_editable = list(FAULT_DEFAULTS)
    search_fields = ["handle"]
    readonly_fields = ["session_epoch", "created_at"]
    fieldsets = [
        (None, {"fields": ["handle", "new_password", "session_epoch", "created_at"]}),
        ("Faults", {"fields": list(FAULT_DEFAULTS)}),
    ]
    actions = ["log_out_everyone", "clear_faults"]

    def save_model(
        self, request: HttpRequest, obj: SandboxAccount, form: forms.ModelForm, change: bool
    ) -> None:
        if form.cleaned_data.get("new_password"):
            obj.set_password(form.cleaned_data["new_password"])
        super().save_model(request, obj, form, change)

    @admin.action(
        description="Log out every browser of the selected accounts", permissions=["change"]
    )
    def log_out_everyone(self, request: HttpRequest, queryset: QuerySet[SandboxAccount]) -> None:
        for account in queryset:
            sandbox_account_log_out_everyone(account=account)
        self.message_user(request, f"Logged out {len(queryset)} account(s).", messages.SUCCESS)

    @admin.action(
        description="Switch every fault off for the selected accounts", permissions=["change"]
    )
    def clear_faults(self, request: HttpRequest, queryset: QuerySet[SandboxAccount]) -> None:
        for account in queryset:
            sandbox_account_clear_faults(account=account)
        self.message_user(
            request, f"Cleared faults of {len(queryset)} account(s).", messages.SUCCESS
        )


@admin.register(SandboxPost)
class SandboxPostAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "account", "publish_token", "media_size", "created_at"]
    list_filter = ["account"]
    list_select_related = ["account"]
    search_fields = ["publish_token", "title"]
    date_hierarchy = "created_at"

    # The record of what arrived is evidence: it can be looked at, not edited.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SandboxPost | None = None) -> bool:
        return False
