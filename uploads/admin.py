"""The console's queue: posts, their attempts, campaigns and rate-limit rules.

Posts change state only through the services (cancel, requeue); their pages
are records to read, not forms to edit.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from core.admin import (
    ReadOnlyAdminMixin,
    WorkspaceScopedAdmin,
    WorkspaceScopedInline,
    deferring_secrets,
)
from core.console import FarmWideAdminMixin
from core.links import external_link, http_url
from uploads.circuits import circuit_close
from uploads.models import (
    Campaign,
    PlatformCircuit,
    Post,
    PostAttempt,
    PostStatus,
    RateLimitRule,
)
from uploads.services import post_cancel, post_requeue

ATTEMPT_FIELDS = (
    "number",
    "outcome",
    "error_kind",
    "message",
    "dispatched_at",
    "started_at",
    "finished_at",
    "duration",
    "worker",
    "browser_reused",
    "counts_as_attempt",
    "screenshot_thumbnail",
)


class AttemptColumns:
    """The attempt columns that the inline on a post and the attempt list both show."""

    @admin.display(description="duration")
    def duration(self, obj: PostAttempt) -> str:
        seconds = obj.duration_s
        return "" if seconds is None else f"{seconds:.1f} s"

    @admin.display(description="screenshot")
    def screenshot_thumbnail(self, obj: PostAttempt) -> str:
        return _thumbnail(obj)


def _thumbnail(obj: PostAttempt) -> str:
    if not obj.screenshot:
        return ""
    url = obj.screenshot.url
    return format_html(
        '<a href="{}" target="_blank"><img src="{}" alt="screenshot" '
        'style="max-height:60px;max-width:120px"></a>',
        url,
        url,
    )


class PostAttemptInline(
    AttemptColumns, ReadOnlyAdminMixin, WorkspaceScopedInline, admin.TabularInline
):
    model = PostAttempt
    extra = 0
    fields = ATTEMPT_FIELDS
    readonly_fields = ATTEMPT_FIELDS
    ordering = ["number"]
    show_change_link = True


@admin.register(Post)
class PostAdmin(WorkspaceScopedAdmin):
    list_display = [
        "id",
        "title",
        "account",
        "workspace",
        "status",
        "priority",
        "scheduled_for",
        "attempts",
        "last_error_short",
        "posted_at",
        "platform_link",
    ]
    list_display_links = ["id", "title"]
    # Status first: `dead` is where the dead letters are.
    list_filter = [
        "status",
        "kind",
        "account__platform",
        ("workspace", admin.RelatedOnlyFieldListFilter),
        ("campaign", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["account", "workspace", "campaign"]
    search_fields = ["title", "account__handle", "publish_token", "platform_post_id"]
    raw_id_fields = ["account", "campaign"]
    date_hierarchy = "scheduled_for"
    inlines = [PostAttemptInline]
    actions = ["cancel_posts", "requeue_posts", "requeue_dead_posts"]
    fieldsets = [
        (None, {"fields": ["workspace", "account", "campaign", "kind", "title", "caption"]}),
        ("Media", {"fields": ["media"]}),
        (
            "Queue",
            {
                "fields": [
                    "status",
                    "priority",
                    "scheduled_for",
                    "attempts_count",
                    "max_attempts",
                    "dispatch_count",
                    "next_attempt_at",
                    "queued_at",
                    "lease_holder",
                    "lease_until",
                    "publish_token",
                ]
            },
        ),
        (
            "Outcome",
            {"fields": ["posted_at", "platform_post_id", "platform_url", "last_error"]},
        ),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Post]:
        queryset = super().get_queryset(request).select_related("account", "workspace", "campaign")
        return deferring_secrets(queryset, "account")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Posts come in through the API, where media and limits are validated.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        # The list's actions need change permission; a single post's page is read-only.
        return obj is None and super().has_change_permission(request)

    @admin.display(description="attempts", ordering="attempts_count")
    def attempts(self, obj: Post) -> str:
        return f"{obj.attempts_count} / {obj.max_attempts}"

    @admin.display(description="last error")
    def last_error_short(self, obj: Post) -> str:
        # Enough to tell dead letters apart in the list; the post's page has it all.
        return Truncator(obj.last_error).chars(80)

    @admin.display(description="on the platform")
    def platform_link(self, obj: Post) -> str:
        if not http_url(obj.platform_url):  # a link for http(s) URLs only
            return obj.platform_post_id
        return external_link(obj.platform_url, obj.platform_post_id or "open")

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Post],
        service: Callable[..., bool],
        verb: str,
        allowed: str,
    ) -> None:
        self.apply_to_each(
            request,
            queryset,
            service,
            keyword="post",
            fields=("status",),
            done=f"{verb} {{}} post(s).",
            skipped=f"{{}} were not {allowed} and were left alone.",
        )

    @admin.action(description="Cancel the selected posts", permissions=["change"])
    def cancel_posts(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        self._each(request, queryset, post_cancel, "Cancelled", "waiting or queued")

    @admin.action(
        description="Requeue the selected dead, failed or cancelled posts", permissions=["change"]
    )
    def requeue_posts(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        self._each(request, queryset, post_requeue, "Requeued", "dead, failed or cancelled")

    @admin.action(description="Requeue the dead posts among the selected", permissions=["change"])
    def requeue_dead_posts(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        dead = queryset.filter(status=PostStatus.DEAD)
        ignored = queryset.count() - dead.count()
        self._each(request, dead, post_requeue, "Requeued", "dead any more")
        if ignored:
            self.message_user(request, f"{ignored} selected post(s) were not dead.", messages.INFO)


@admin.register(PostAttempt)
class PostAttemptAdmin(AttemptColumns, ReadOnlyAdminMixin, WorkspaceScopedAdmin):
    workspace_path = "post__workspace"
    list_display = [
        "__str__",
        "post",
        "account",
        "outcome",
        "error_kind",
        "dispatched_at",
        "duration",
        "worker",
        "screenshot_thumbnail",
    ]
    list_filter = ["outcome", "error_kind", "counts_as_attempt", "account__platform"]
    list_select_related = ["post", "account"]
    search_fields = ["post__title", "account__handle", "worker", "message"]
    date_hierarchy = "dispatched_at"
    fields = readonly_fields = ("post", "account", *ATTEMPT_FIELDS, "recorded_session")

    def get_queryset(self, request: HttpRequest) -> QuerySet[PostAttempt]:
        queryset = super().get_queryset(request).select_related("post", "account")
        return deferring_secrets(queryset, "account")

    @admin.display(description="recorded session")
    def recorded_session(self, obj: PostAttempt) -> str:
        # The run as the capture recorder saw it: events, screenshots, scores.
        session = getattr(obj, "captured_session", None)
        if session is None:
            return "—"
        url = reverse("admin:capture_capturedsession_change", args=[session.pk])
        return format_html(
            '<a href="{}">{} events, {}</a>', url, session.events_count, session.get_state_display()
        )


@admin.register(Campaign)
class CampaignAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "post_count", "created_at"]
    list_filter = [("workspace", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["workspace"]
    search_fields = ["name"]
    autocomplete_fields = ["workspace"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return super().get_queryset(request).annotate(num_posts=Count("posts"))

    @admin.display(description="posts", ordering="num_posts")
    def post_count(self, obj: Campaign) -> int:
        return obj.num_posts  # type: ignore[attr-defined]


@admin.register(RateLimitRule)
class RateLimitRuleAdmin(FarmWideAdminMixin, admin.ModelAdmin):
    """The platforms' posted limits, shared by every workspace: for superusers only."""

    list_display = ["platform", "action", "per_hour", "per_day", "min_interval_seconds"]
    list_display_links = ["platform"]
    list_editable = ["per_hour", "per_day", "min_interval_seconds"]
    list_filter = ["platform", "action"]
    search_fields = ["platform", "action"]


@admin.register(PlatformCircuit)
class PlatformCircuitAdmin(FarmWideAdminMixin, admin.ModelAdmin):
    """The platforms' circuit breakers, shared by every workspace: read here, closed by hand.

    The farm opens and closes them; a superuser who knows a platform is back
    may close one early. Superusers only: a circuit's last error is the text
    of one tenant's failed post.
    """

    fields = readonly_fields = (
        "platform",
        "state",
        "consecutive_failures",
        "opened_at",
        "retry_at",
        "probe_post_id",
        "probe_started_at",
        "last_error",
        "updated_at",
    )
    # The list shows the error shortened.
    list_display = [name if name != "last_error" else "short_error" for name in fields]
    list_filter = ["state"]
    actions = ["close_circuits"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A row appears with a platform's first infrastructure failure.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: PlatformCircuit | None = None
    ) -> bool:
        # The close action needs change permission; a circuit's page is read-only.
        return obj is None and super().has_change_permission(request)

    @admin.display(description="last error")
    def short_error(self, obj: PlatformCircuit) -> str:
        return obj.last_error if len(obj.last_error) <= 80 else obj.last_error[:79] + "…"

    @admin.action(
        description="Close the selected circuits (resume posting now)", permissions=["change"]
    )
    def close_circuits(self, request: HttpRequest, queryset: QuerySet[PlatformCircuit]) -> None:
        platforms = list(queryset.values_list("platform", flat=True))
        closed = sum(1 for platform in platforms if circuit_close(platform=platform))
        self.message_user(
            request,
            f"Closed {closed} circuit(s); posting resumes on the next dispatcher pass.",
            messages.SUCCESS if closed else messages.WARNING,
        )
