"""The console's exports: progress, counts, problems, files; made, re-run and scheduled here."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import Workspace
from capture.models import CapturedSession
from tests.factories import export_add_form
from tests.training.conftest import SentBuilds
from training.models import Export, ExportSchedule
from training.services import export_build, export_create
from training.tasks import build_export

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_human_sessions(record: Callable[..., CapturedSession]) -> list[CapturedSession]:
    """Sessions a person recorded, enough to export."""
    return [record(kind="human") for _ in range(3)]


def test_the_list_shows_state_progress_counts_problems_and_downloads(
    superuser_client: Client, workspace: Workspace, record: Callable[..., CapturedSession]
) -> None:
    for _ in range(3):
        record()
    ready = export_build(export=export_create(workspace=workspace, validation_share=0))
    failed = export_build(export=export_create(workspace=workspace, kinds=["hybrid"]))
    running = export_create(workspace=workspace)
    Export.objects.filter(pk=running.pk).update(
        state=Export.State.RUNNING, sessions_total=200, sessions_done=50
    )
    html = superuser_client.get(reverse("admin:training_export_changelist")).content.decode()
    assert '<progress max="100" value="25"' in html and "25%" in html
    assert '<progress max="100" value="100"' in html
    assert ready.train_file.url in html and ready.validation_file.url in html
    assert "too few" in html or "0 example(s)" in html
    page = superuser_client.get(reverse("admin:training_export_change", args=[failed.pk]))
    assert "fine-tuning needs at least 10" in page.content.decode()
    assert 'name="format"' not in page.content.decode()  # filters of a made export stay


@pytest.mark.usefixtures("three_human_sessions")
def test_an_export_made_in_the_console_is_queued_and_built(
    superuser_client: Client,
    workspace: Workspace,
    sent_builds: SentBuilds,
) -> None:
    with sent_builds.committing():
        response = superuser_client.post(
            reverse("admin:training_export_add"),
            export_add_form(workspace, format="mind2web"),
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    export = Export.objects.get()
    assert sent_builds == [export.pk]
    assert export.kinds == ["human"] and export.format == "mind2web"
    build_export(export.pk)  # what the worker does with the message
    export.refresh_from_db()
    assert export.state == Export.State.READY


def test_a_bad_filter_shows_on_its_field(superuser_client: Client, workspace: Workspace) -> None:
    now = timezone.now()
    response = superuser_client.post(
        reverse("admin:training_export_add"),
        export_add_form(
            workspace,
            validation_share="0.9",
            started_from_0=now.date().isoformat(),
            started_from_1="00:00:00",
            started_until_0=(now - timedelta(days=3)).date().isoformat(),
            started_until_1="00:00:00",
        ),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"validation_share", "started_until"}
    assert not Export.objects.exists()


@pytest.mark.usefixtures("three_human_sessions")
def test_the_run_action_reruns_finished_exports_and_leaves_live_ones(
    superuser_client: Client,
    workspace: Workspace,
    sent_builds: SentBuilds,
) -> None:
    done = export_build(export=export_create(workspace=workspace, validation_share=0))
    live = export_create(workspace=workspace)
    Export.objects.filter(pk=live.pk).update(
        state=Export.State.RUNNING, heartbeat_at=timezone.now()
    )
    with sent_builds.committing():
        response = superuser_client.post(
            reverse("admin:training_export_changelist"),
            {"action": "run_exports", "_selected_action": [done.pk, live.pk]},
            follow=True,
        )
    assert sent_builds == [done.pk]
    assert "Queued 1 export(s). 1 are running and were left alone." in response.content.decode()
    done.refresh_from_db()
    assert done.state == Export.State.PENDING and not done.train_file


def test_a_schedule_saved_in_the_console_gets_its_beat_entry(
    superuser_client: Client, workspace: Workspace
) -> None:
    response = superuser_client.post(
        reverse("admin:training_exportschedule_add"),
        {
            "name": "Nightly human demos",
            "enabled": "on",
            "cron": "15 1 * * *",
            "window_days": "7",
            "workspace": workspace.pk,
            "format": "messages",
            "kinds": ["human"],
            "min_quality": "0.6",
            "validation_share": "0.1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    schedule = ExportSchedule.objects.get()
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert json.loads(task.args) == [schedule.pk]
    assert (task.crontab.minute, task.crontab.hour) == ("15", "1")
    bad = superuser_client.post(
        reverse("admin:training_exportschedule_change", args=[schedule.pk]),
        {
            "name": "x",
            "cron": "whenever",
            "workspace": workspace.pk,
            "format": "messages",
            "validation_share": "0.1",
        },
    )
    assert bad.status_code == 200
    assert "cron" in bad.context["adminform"].form.errors
    superuser_client.post(
        reverse("admin:training_exportschedule_delete", args=[schedule.pk]), {"post": "yes"}
    )
    assert not ExportSchedule.objects.exists()
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
