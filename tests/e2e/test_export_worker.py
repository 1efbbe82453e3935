"""Training-data exports built by a real Celery worker process, as in production.

An operator makes an export in the console; the message goes out on commit
through the real broker, a `celery worker` started for the test builds it, and
the console then shows it ready with its files. The message beat sends for a
scheduled export is handled by the same worker.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Workspace
from capture.models import CapturedSession
from core.processes import FarmProcesses
from tests.factories import MESSAGES_PER_UPLOAD, export_add_form, record_session, upload_events
from training.models import Export, ExportSchedule
from training.services import export_schedule_save
from training.split import VALIDATION, split_of
from training.tasks import run_export_schedule

from .conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SESSIONS = 12
VALIDATION_SHARE = 0.25


@pytest.fixture
def recorded(workspace: Workspace) -> list[CapturedSession]:
    sessions: list[CapturedSession] = []
    # Session ids are random; record on until both splits hold a session, so the
    # worker is seen writing both files.
    while len(sessions) < SESSIONS or len({split_of(s.pk, VALIDATION_SHARE) for s in sessions}) < 2:
        sessions.append(
            record_session(
                workspace=workspace,
                task=f"Upload clip {len(sessions)} as a public video",
                events=upload_events(f"Clip {len(sessions)}"),
            )
        )
    return sessions


def _finished(export_id: int) -> Callable[[], bool]:
    def check() -> bool:
        state = Export.objects.get(pk=export_id).state
        return state in (Export.State.READY, Export.State.FAILED)

    return check


def _lines(field: object) -> list[dict]:
    with field.open("rb") as handle:  # type: ignore[attr-defined]
        return [json.loads(line) for line in handle]


def test_an_export_made_in_the_console_is_built_by_a_worker(
    farm: FarmProcesses,
    superuser_client: Client,
    workspace: Workspace,
    recorded: list[CapturedSession],
) -> None:
    response = superuser_client.post(
        reverse("admin:training_export_add"),
        export_add_form(workspace, validation_share=str(VALIDATION_SHARE)),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    export = Export.objects.get()
    assert export.state == Export.State.PENDING

    farm.start_worker(concurrency=1)
    wait_until(_finished(export.pk), timeout=90, on_timeout=farm.logs())
    export.refresh_from_db()
    assert export.state == Export.State.READY, (export.errors, farm.logs())
    assert export.sessions_done == export.sessions_total == len(recorded)
    assert export.progress_percent == 100

    train, validation = _lines(export.train_file), _lines(export.validation_file)
    assert len(train) + len(validation) == export.examples_count
    assert export.examples_count == len(recorded) * MESSAGES_PER_UPLOAD
    assert (len(train), len(validation)) == (export.train_count, export.validation_count)
    in_validation = sum(split_of(s.pk, VALIDATION_SHARE) == VALIDATION for s in recorded)
    assert len(validation) == in_validation * MESSAGES_PER_UPLOAD > 0
    for example in train + validation:
        assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]

    # The console shows what the worker made, with both files to download.
    html = superuser_client.get(reverse("admin:training_export_changelist")).content.decode()
    assert '<progress max="100" value="100"' in html
    assert export.train_file.url in html and export.validation_file.url in html

    # What beat sends for a schedule, the same worker builds too.
    schedule = export_schedule_save(
        schedule=ExportSchedule(
            name="Nightly",
            workspace=workspace,
            format="mind2web",
            kinds=["human"],
            validation_share=0,
        )
    )
    run_export_schedule.delay(schedule.pk)
    wait_until(
        lambda: schedule.exports.filter(state=Export.State.READY).exists(),
        timeout=60,
        on_timeout=farm.logs(),
    )
    scheduled = schedule.exports.get()
    assert scheduled.format == "mind2web"
    assert len(_lines(scheduled.train_file)) == scheduled.train_count > 0
