"""The console's training data: exports with their progress and files, and schedules.

An export is made here from its filters and then only read: its build writes
everything else. Schedules are saved through the service that keeps their
django-celery-beat entry in step.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from capture.models import CapturedSession
from core.admin import WorkspaceScopedAdmin
from training.models import Export, ExportSchedule
from training.services import (
    export_enqueue,
    export_filters_check,
    export_rerun,
    export_schedule_delete,
    export_schedule_save,
)

FILTER_FIELDS = ["workspace", "format", "kinds", "min_quality", "validation_share"]


class FiltersForm(forms.ModelForm):
    """Checks the filters as the service will, so a mistake shows on its field."""

    kinds = forms.MultipleChoiceField(
        choices=CapturedSession.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Session kinds to take; none ticked takes all.",
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        instance = self.instance
        for name, value in cleaned.items():
            setattr(instance, name, value)
        try:
            export_filters_check(instance)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


def _problems_html(problems: list[dict[str, Any]]) -> str:
    if not problems:
        return "—"
    return format_html(
        "<ul>{}</ul>",
        format_html_join(
            "",
            "<li>{}{}: {} <code>{}</code></li>",
            (
                (
                    p.get("file", ""),
                    f":{p['line']}" if p.get("line") is not None else "",
                    p.get("message", ""),
                    p.get("code", ""),
                )
                for p in problems
            ),
        ),
    )


@admin.register(Export)
class ExportAdmin(WorkspaceScopedAdmin):
    form = FiltersForm
    list_display = [
        "__str__",
        "workspace",
        "format",
        "state",
        "progress",
        "sessions_count",
        "examples_count",
        "train_count",
        "validation_count",
        "problems",
        "downloads",
        "created_at",
    ]
    list_filter = ["state", "format", ("workspace", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["workspace"]
    search_fields = ["workspace__name", "workspace__slug", "state", "format"]
    date_hierarchy = "created_at"
    actions = ["run_exports"]
    readonly_fields = [
        "state",
        "progress",
        *Export.COUNT_FIELDS,
        "downloads",
        "errors_list",
        "warnings_list",
        "schedule",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    ]

    def get_fields(self, request: HttpRequest, obj: Export | None = None) -> tuple[str, ...]:
        filters = (*FILTER_FIELDS, "started_from", "started_until")
        return filters if obj is None else (*filters, *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Export | None = None) -> list[str]:
        if obj is None:
            return []
        # A made export keeps its filters: a different export is a new one.
        return [*FILTER_FIELDS, "started_from", "started_until", *self.readonly_fields]

    def save_model(self, request: HttpRequest, obj: Export, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            export_enqueue(export=obj)
            self.message_user(request, "The export is queued; its progress shows here.")

    @admin.display(description="progress")
    def progress(self, obj: Export) -> str:
        percent = obj.progress_percent
        return format_html(
            '<progress max="100" value="{}" title="{} / {} sessions"></progress> {}%',
            percent,
            obj.sessions_done,
            obj.sessions_total,
            percent,
        )

    @admin.display(description="errors / warnings")
    def problems(self, obj: Export) -> str:
        if not obj.errors and not obj.warnings:
            return "—"
        first = (obj.errors or obj.warnings)[0]
        return format_html(
            "{} / {} <small>{}</small>", len(obj.errors), len(obj.warnings), first.get("message")
        )

    @admin.display(description="files")
    def downloads(self, obj: Export) -> str:
        links = [
            (f.url, label)
            for f, label in ((obj.train_file, "train"), (obj.validation_file, "validation"))
            if f
        ]
        if not links:
            return "—"
        return format_html_join(" · ", '<a href="{}" download>{}.jsonl</a>', links)

    @admin.display(description="errors")
    def errors_list(self, obj: Export) -> str:
        return _problems_html(obj.errors)

    @admin.display(description="warnings")
    def warnings_list(self, obj: Export) -> str:
        return _problems_html(obj.warnings)

    @admin.action(description="Run or re-run the selected exports", permissions=["change"])
    def run_exports(self, request: HttpRequest, queryset: QuerySet[Export]) -> None:
        selected = list(queryset)
        started = sum(1 for export in selected if export_rerun(export=export))
        text = f"Queued {started} export(s)."
        if len(selected) > started:
            text += f" {len(selected) - started} are running and were left alone."
        self.message_user(request, text, messages.SUCCESS if started else messages.WARNING)


@admin.register(ExportSchedule)
class ExportScheduleAdmin(WorkspaceScopedAdmin):
    form = FiltersForm
    list_display = ["name", "workspace", "format", "cron", "enabled", "last_export"]
    list_filter = ["enabled", "format", ("workspace", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["workspace"]
    search_fields = ["name", "workspace__name"]
    fields = [
        "name",
        "enabled",
        "cron",
        "window_days",
        *FILTER_FIELDS,
        "periodic_task",
    ]
    readonly_fields = ["periodic_task"]

    def save_model(
        self, request: HttpRequest, obj: ExportSchedule, form: Any, change: bool
    ) -> None:
        export_schedule_save(schedule=obj)

    def delete_model(self, request: HttpRequest, obj: ExportSchedule) -> None:
        export_schedule_delete(schedule=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ExportSchedule]) -> None:
        for schedule in queryset:
            export_schedule_delete(schedule=schedule)

    @admin.display(description="last export")
    def last_export(self, obj: ExportSchedule) -> str:
        export = obj.exports.order_by("-created_at").first()
        return str(export) if export else "—"
