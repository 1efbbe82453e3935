from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from browsers.models import BrowserProfile
from core.admin import WorkspaceScopedAdmin, deferring_secrets, stored_flag


@admin.register(BrowserProfile)
class BrowserProfileAdmin(WorkspaceScopedAdmin):
    workspace_path = "account__workspace"
    list_display = [
        "__str__",
        "provider",
        "locale",
        "timezone",
        "proxy_set",
        "leased",
        "lease_holder",
        "lease_until",
    ]
    list_filter = [
        "provider",
        "account__platform",
        ("account__workspace", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["account"]
    search_fields = ["account__handle", "lease_holder"]
    autocomplete_fields = ["account"]
    fields = [
        "account",
        "provider",
        "locale",
        "timezone",
        "window_width",
        "window_height",
        "proxy_set",
        "lease_holder",
        "lease_until",
        "created_at",
    ]
    # Leases belong to the workers; the console only shows them.
    readonly_fields = ["account", "proxy_set", "lease_holder", "lease_until", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BrowserProfile]:
        queryset = super().get_queryset(request).select_related("account").defer("proxy")
        return deferring_secrets(queryset, "account").annotate(has_proxy=stored_flag("proxy"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Every account gets its profile when it is created.
        return False

    @admin.display(description="proxy set", boolean=True, ordering="has_proxy")
    def proxy_set(self, obj: BrowserProfile) -> bool:
        return bool(getattr(obj, "has_proxy", False))

    @admin.display(description="leased", boolean=True)
    def leased(self, obj: BrowserProfile) -> bool:
        return obj.lease_until is not None and obj.lease_until > timezone.now()
