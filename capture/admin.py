"""The console's capture pages: sessions with their scores, raw interactions and
screenshots to read, ingest tokens and per-workspace settings to manage.

Raw data is a record, never edited here; a session may be archived or deleted.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from capture.models import (
    INTERACTION_RECORDED_FIELDS,
    CapturedSession,
    CaptureSettings,
    IngestToken,
    Interaction,
    Screenshot,
)
from capture.services import ingest_token_create, ingest_token_revoke, session_archive
from core.admin import ReadOnlyAdminMixin, WorkspaceScopedAdmin, WorkspaceScopedInline
from core.tenancy import OWNER_ROLES


def _thumbnail(shot: Screenshot | None, height: int = 60) -> str:
    if shot is None or not shot.image:
        return ""
    url = shot.image.url
    return format_html(
        '<a href="{}" target="_blank"><img src="{}" alt="screenshot" '
        'style="max-height:{}px;max-width:{}px"></a>',
        url,
        url,
        height,
        height * 2,
    )


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


class ScreenshotInline(ReadOnlyAdminMixin, WorkspaceScopedInline, admin.TabularInline):
    model = Screenshot
    extra = 0
    fields = readonly_fields = (
        "sequence",
        "thumbnail",
        "width",
        "height",
        "size_bytes",
        "sha256",
        "taken_at",
    )
    show_change_link = True

    @admin.display(description="screenshot")
    def thumbnail(self, obj: Screenshot) -> str:
        return _thumbnail(obj)


@admin.register(CapturedSession)
class CapturedSessionAdmin(WorkspaceScopedAdmin):
    list_display = [
        "id",
        "kind",
        "state",
        "workspace",
        "started_at",
        "events_count",
        "quality_score",
        "completeness_score",
        "selector_score",
        "training_score",
        "rejection_short",
    ]
    list_filter = ["state", "kind", ("workspace", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["workspace"]
    search_fields = ["id", "task", "start_url", "workspace__name"]
    date_hierarchy = "started_at"
    inlines = [ScreenshotInline]
    actions = ["archive_sessions"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "workspace",
                    "kind",
                    "state",
                    "account",
                    "profile",
                    "attempt",
                    "created_by_token",
                ]
            },
        ),
        (
            "Quality",
            {
                "fields": [
                    "quality",
                    "completeness",
                    "selector_reliability",
                    "training_value",
                    "rejection_reason",
                    "quality_details_pretty",
                ]
            },
        ),
        (
            "Recording",
            {
                "fields": [
                    "started_at",
                    "ended_at",
                    "start_url",
                    "viewport_width",
                    "viewport_height",
                    "user_agent",
                    "task",
                    "events_count",
                    "masked_kinds",
                    "interactions_link",
                ]
            },
        ),
        ("Archive", {"fields": ["archive", "archived_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return flatten_fieldsets(self.fieldsets)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Archiving (an action on the list) changes sessions; a session's page is read-only.
        return obj is None and super().has_change_permission(request)

    @admin.display(description="quality", ordering="quality")
    def quality_score(self, obj: CapturedSession) -> str:
        return _score(obj.quality)

    @admin.display(description="completeness", ordering="completeness")
    def completeness_score(self, obj: CapturedSession) -> str:
        return _score(obj.completeness)

    @admin.display(description="selectors", ordering="selector_reliability")
    def selector_score(self, obj: CapturedSession) -> str:
        return _score(obj.selector_reliability)

    @admin.display(description="training value", ordering="training_value")
    def training_score(self, obj: CapturedSession) -> str:
        return _score(obj.training_value)

    @admin.display(description="rejection reason")
    def rejection_short(self, obj: CapturedSession) -> str:
        return Truncator(obj.rejection_reason).chars(80)

    @admin.display(description="quality details")
    def quality_details_pretty(self, obj: CapturedSession) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.quality_details, indent=2))

    @admin.display(description="interactions")
    def interactions_link(self, obj: CapturedSession) -> str:
        url = reverse("admin:capture_interaction_changelist") + f"?session__id__exact={obj.pk}"
        return format_html('<a href="{}">{} interactions</a>', url, obj.events_count)

    @admin.action(
        description="Archive the selected sessions (ZIP; raw rows removed)", permissions=["change"]
    )
    def archive_sessions(self, request: HttpRequest, queryset: QuerySet[CapturedSession]) -> None:
        done = 0
        for session in queryset.exclude(state=CapturedSession.State.ARCHIVED):
            session_archive(session=session)
            done += 1
        self.message_user(request, f"Archived {done} session(s).", messages.SUCCESS)


class _PrettyJSONMixin:
    @admin.display(description="target")
    def target_pretty(self, obj: Interaction) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.target, indent=2, ensure_ascii=False))


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyAdminMixin, _PrettyJSONMixin, WorkspaceScopedAdmin):
    workspace_path = "session__workspace"
    list_display = [
        "session",
        "sequence",
        "kind",
        "page",
        "title",
        "value",
        "masked_kinds",
        "found_in_dom",
        "thumbnail",
    ]
    list_display_links = ["session", "sequence"]
    list_filter = ["kind", "found_in_dom"]
    list_select_related = ["session", "screenshot"]
    search_fields = ["title", "url", "value"]
    raw_id_fields = ["session", "screenshot"]
    fields = readonly_fields = (
        "session",
        *(name for name in INTERACTION_RECORDED_FIELDS if name != "target"),
        "thumbnail_large",
        "target_pretty",
    )

    @admin.display(description="page")
    def page(self, obj: Interaction) -> str:
        return Truncator(obj.url).chars(60)

    @admin.display(description="screenshot")
    def thumbnail(self, obj: Interaction) -> str:
        return _thumbnail(obj.screenshot)

    @admin.display(description="screenshot")
    def thumbnail_large(self, obj: Interaction) -> str:
        return _thumbnail(obj.screenshot, height=300)


@admin.register(Screenshot)
class ScreenshotAdmin(ReadOnlyAdminMixin, WorkspaceScopedAdmin):
    workspace_path = "session__workspace"
    list_display = ["session", "sequence", "thumbnail", "width", "height", "size_bytes", "taken_at"]
    list_select_related = ["session"]
    search_fields = ["sha256"]
    fields = readonly_fields = (
        "session",
        "sequence",
        "thumbnail_large",
        "width",
        "height",
        "size_bytes",
        "sha256",
        "taken_at",
    )

    @admin.display(description="screenshot")
    def thumbnail(self, obj: Screenshot) -> str:
        return _thumbnail(obj)

    @admin.display(description="screenshot")
    def thumbnail_large(self, obj: Screenshot) -> str:
        return _thumbnail(obj, height=400)


class IngestTokenForm(forms.ModelForm):
    class Meta:
        model = IngestToken
        fields = ["workspace", "name"]


@admin.register(IngestToken)
class IngestTokenAdmin(WorkspaceScopedAdmin):
    form = IngestTokenForm
    list_display = ["name", "workspace", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name"]
    actions = ["revoke_tokens"]

    def get_fields(self, request: HttpRequest, obj: IngestToken | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("workspace", "name")
        return ("workspace", "name", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(
        self, request: HttpRequest, obj: IngestToken | None = None
    ) -> list[str]:
        if obj is None:
            return []
        return ["workspace", "created_at", "last_used_at", "revoked_at"]

    def save_model(
        self, request: HttpRequest, obj: IngestToken, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, plain = ingest_token_create(workspace=obj.workspace, name=obj.name)
        obj.pk = token.pk
        obj.token_hash = token.token_hash
        obj.created_at = token.created_at
        # Shown once: only the hash is kept.
        self.message_user(
            request,
            f"The token, shown only now: {plain} (send it as `Authorization: Capture <token>`).",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[IngestToken]) -> None:
        revoked = sum(ingest_token_revoke(token=token) for token in queryset)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


@admin.register(CaptureSettings)
class CaptureSettingsAdmin(WorkspaceScopedAdmin):
    # A workspace's settings are its owners' to set.
    change_roles = OWNER_ROLES
    list_display = ["workspace", "min_quality", "retention_days"]
    fields = ["workspace", "min_quality", "retention_days", "input_allow_list"]
