"""Celery tasks for training data: thin wrappers that load by primary key and call a service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from training.models import Export, ExportSchedule
from training.services import export_build, export_schedule_run


@shared_task(
    soft_time_limit=settings.FARM_EXPORT_SOFT_TIME_LIMIT,
    time_limit=settings.FARM_EXPORT_SOFT_TIME_LIMIT + 60,
)
def build_export(export_id: int) -> str | None:
    export = Export.objects.filter(pk=export_id).first()
    if export is None:
        return None
    return export_build(export=export).state


@shared_task(
    soft_time_limit=settings.FARM_EXPORT_SOFT_TIME_LIMIT,
    time_limit=settings.FARM_EXPORT_SOFT_TIME_LIMIT + 60,
)
def run_export_schedule(schedule_id: int) -> int | None:
    schedule = ExportSchedule.objects.select_related("workspace").filter(pk=schedule_id).first()
    if schedule is None or not schedule.enabled:
        return None
    export = export_schedule_run(schedule=schedule)
    return export.pk if export else None
