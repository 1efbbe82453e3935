"""Scheduled exports: a django-celery-beat entry kept in step, and a new export each run."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import Workspace
from capture.models import CapturedSession
from training.models import Export, ExportSchedule
from training.services import export_schedule_delete, export_schedule_run, export_schedule_save
from training.tasks import run_export_schedule

pytestmark = pytest.mark.django_db


def make_schedule(workspace: Workspace, **fields: object) -> ExportSchedule:
    fields.setdefault("name", "Nightly")
    fields.setdefault("validation_share", 0)
    return export_schedule_save(schedule=ExportSchedule(workspace=workspace, **fields))


def test_saving_a_schedule_creates_and_updates_its_beat_entry(workspace: Workspace) -> None:
    workspace.timezone = "Europe/Paris"
    workspace.save()
    schedule = make_schedule(workspace, cron="30 2 * * 1-5")
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.task == "training.tasks.run_export_schedule"
    assert json.loads(task.args) == [schedule.pk]
    assert task.enabled and task.expire_seconds
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week) == ("30", "2", "1-5")
    assert str(crontab.timezone) == "Europe/Paris"

    schedule.cron = "0 4 * * *"
    schedule.enabled = False
    export_schedule_save(schedule=schedule)
    task.refresh_from_db()
    assert PeriodicTask.objects.filter(task="training.tasks.run_export_schedule").count() == 1
    assert (task.crontab.minute, task.crontab.hour, task.enabled) == ("0", "4", False)

    export_schedule_delete(schedule=schedule)
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cron": "every night"}, "cron"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"kinds": ["x"]}, "kinds"),
    ],
)
def test_a_bad_schedule_names_its_field(workspace: Workspace, fields: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make_schedule(workspace, **fields)
    assert field in caught.value.message_dict
    assert not PeriodicTask.objects.filter(task="training.tasks.run_export_schedule").exists()


def test_each_run_makes_a_new_export_of_its_window(
    workspace: Workspace, record: Callable[..., CapturedSession]
) -> None:
    now = timezone.now()
    recent = {str(record(started_at=now - timedelta(hours=n)).pk) for n in range(1, 4)}
    record(started_at=now - timedelta(days=5))
    schedule = make_schedule(workspace, window_days=2, format="mind2web")
    first_pk = run_export_schedule(schedule.pk)
    assert first_pk is not None
    first = Export.objects.get(pk=first_pk)
    assert first.state == Export.State.READY, first.errors
    assert first.schedule == schedule and first.format == "mind2web"
    assert first.sessions_count == 3
    with open(first.train_file.path) as lines:
        assert {json.loads(line)["annotation_id"] for line in lines} == recent
    second_pk = run_export_schedule(schedule.pk)
    assert second_pk != first_pk
    assert schedule.exports.count() == 2


def test_a_run_is_skipped_while_the_previous_export_is_alive(workspace: Workspace) -> None:
    schedule = make_schedule(workspace)
    Export.objects.create(
        workspace=workspace,
        schedule=schedule,
        state=Export.State.RUNNING,
        heartbeat_at=timezone.now(),
    )
    assert export_schedule_run(schedule=schedule) is None
    assert schedule.exports.count() == 1


def test_a_disabled_or_deleted_schedule_does_nothing(workspace: Workspace) -> None:
    schedule = make_schedule(workspace, enabled=False)
    assert run_export_schedule(schedule.pk) is None
    assert run_export_schedule(999_999) is None
    assert not Export.objects.exists()
