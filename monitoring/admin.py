"""Alerts in the console."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import WorkspaceScopedAdmin, deferring_secrets
from monitoring.models import Alert
from monitoring.services import alerts_resolve


class OpenFilter(admin.SimpleListFilter):
    title = "open"
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("yes", "Open"), ("no", "Resolved")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Alert]) -> QuerySet[Alert]:
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Alert)
class AlertAdmin(WorkspaceScopedAdmin):
    list_display = [
        "created_at",
        "severity",
        "kind",
        "workspace",
        "account",
        "platform",
        "short_message",
        "is_open",
        "resolved_at",
    ]
    list_filter = [
        OpenFilter,
        "severity",
        "kind",
        "platform",
        ("workspace", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["workspace", "account"]
    search_fields = ["message", "account__handle"]
    date_hierarchy = "created_at"
    actions = ["resolve_alerts"]
    fields = [
        "workspace",
        "account",
        "platform",
        "kind",
        "severity",
        "message",
        "created_at",
        "resolved_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Alert]:
        queryset = super().get_queryset(request).select_related("workspace", "account")
        return deferring_secrets(queryset, "account")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The farm raises alerts; operators resolve them.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        # Resolving (an action on the list) needs change permission; a page is read-only.
        return obj is None and super().has_change_permission(request)

    @admin.display(description="message")
    def short_message(self, obj: Alert) -> str:
        return obj.message if len(obj.message) <= 120 else obj.message[:119] + "…"

    @admin.display(description="open", boolean=True, ordering="resolved_at")
    def is_open(self, obj: Alert) -> bool:
        return obj.is_open

    @admin.action(description="Resolve the selected alerts", permissions=["change"])
    def resolve_alerts(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        resolved = alerts_resolve(alert_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Resolved {resolved} alert(s).", messages.SUCCESS)
