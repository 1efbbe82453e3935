"""Exports built by the real Celery task function against the real database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Workspace
from capture.models import CapturedSession
from tests.factories import MESSAGES_PER_UPLOAD, MIND2WEB_PER_UPLOAD
from tests.training.conftest import read_jsonl
from training.models import Export
from training.services import export_build, export_create, export_rerun
from training.split import VALIDATION, split_of
from training.tasks import build_export
from training.validation import validate_file

pytestmark = pytest.mark.django_db


def build(export: Export) -> Export:
    """Run the Celery task's function in this process, as a worker would."""
    build_export(export.pk)
    export.refresh_from_db()
    return export


def test_messages_export_is_ready_with_both_files_and_counts(
    workspace: Workspace, record: Callable[..., CapturedSession]
) -> None:
    sessions = [record() for _ in range(12)]
    export = build(export_create(workspace=workspace, validation_share=0.3))
    assert export.state == Export.State.READY, export.errors
    assert export.sessions_total == export.sessions_done == export.sessions_count == 12
    assert export.examples_count == 12 * MESSAGES_PER_UPLOAD
    assert export.train_count + export.validation_count == export.examples_count
    assert export.progress_percent == 100
    assert export.started_at and export.finished_at and export.errors == []
    train = read_jsonl(export.train_file.path)
    validation = read_jsonl(export.validation_file.path)
    assert (len(train), len(validation)) == (export.train_count, export.validation_count)
    expected_validation = sum(split_of(s.pk, 0.3) == VALIDATION for s in sessions)
    assert export.validation_count == expected_validation * MESSAGES_PER_UPLOAD
    for example in train:
        assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]
    assert validate_file(export.train_file.path).ok


def test_mind2web_export_lines(
    workspace: Workspace, record: Callable[..., CapturedSession]
) -> None:
    sessions = {str(record().pk) for _ in range(4)}
    export = build(export_create(workspace=workspace, format="mind2web", validation_share=0))
    assert export.state == Export.State.READY, export.errors
    records = read_jsonl(export.train_file.path)
    assert len(records) == 4 * MIND2WEB_PER_UPLOAD
    assert {r["annotation_id"] for r in records} == sessions
    assert {r["operation"]["op"] for r in records} == {"CLICK", "TYPE", "SELECT"}
    assert all(len(r["pos_candidates"]) == 1 for r in records)
    assert read_jsonl(export.validation_file.path) == []


def test_fewer_than_ten_examples_are_refused_and_the_export_fails(
    workspace: Workspace, record: Callable[..., CapturedSession]
) -> None:
    record()  # six examples
    export = build(export_create(workspace=workspace, validation_share=0))
    assert export.state == Export.State.FAILED
    assert [e["code"] for e in export.errors] == ["too_few_examples"]
    assert "6 example(s)" in export.errors[0]["message"]
    assert export.errors[0]["file"] == "train.jsonl"
    assert not export.train_file and not export.validation_file


def test_an_empty_selection_fails_with_the_reason(workspace: Workspace) -> None:
    export = build(export_create(workspace=workspace))
    assert export.state == Export.State.FAILED
    assert "0 example(s)" in export.errors[0]["message"]


def test_filters_take_kinds_quality_and_dates(
    workspace: Workspace, make_workspace: Callable[..., Workspace], record: Callable
) -> None:
    now = timezone.now()
    keep = [record(kind="human", quality=0.9, started_at=now - timedelta(days=2)) for _ in range(3)]
    record(kind="automated", quality=0.9, started_at=now - timedelta(days=2))
    record(kind="human", quality=0.4, started_at=now - timedelta(days=2))
    record(kind="human", quality=0.9, started_at=now - timedelta(days=20))
    record(kind="human", quality=0.9, state=CapturedSession.State.REJECTED)
    record(workspace=make_workspace(), kind="human", quality=0.9)
    export = build(
        export_create(
            workspace=workspace,
            kinds=["human", "hybrid"],
            min_quality=0.8,
            started_from=now - timedelta(days=7),
            started_until=now,
            validation_share=0,
            format="mind2web",
        )
    )
    assert export.sessions_total == 3, export.errors
    assert {r["annotation_id"] for r in read_jsonl(export.train_file.path)} == {
        str(s.pk) for s in keep
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kinds": ["robot"]}, "kinds"),
        ({"format": "csv"}, "format"),
        ({"validation_share": 0.7}, "validation_share"),
        ({"min_quality": 1.5}, "min_quality"),
        (
            {"started_from": timezone.now(), "started_until": timezone.now() - timedelta(1)},
            "started_until",
        ),
    ],
)
def test_bad_filters_name_their_field(workspace: Workspace, fields: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        export_create(workspace=workspace, **fields)
    assert field in caught.value.message_dict


def test_the_split_is_the_same_on_every_rerun(
    workspace: Workspace, record: Callable[..., CapturedSession]
) -> None:
    for _ in range(20):
        record()

    def validation_ids(export: Export) -> set[str]:
        return {r["annotation_id"] for r in read_jsonl(export.validation_file.path)}

    first = build(export_create(workspace=workspace, format="mind2web", validation_share=0.4))
    second = build(export_create(workspace=workspace, format="mind2web", validation_share=0.4))
    assert validation_ids(first) == validation_ids(second)
    assert 0 < len(validation_ids(first)) < 20
    before = validation_ids(first)
    assert export_rerun(export=first)
    first = build(first)
    assert first.state == Export.State.READY
    assert validation_ids(first) == before
    with open(first.train_file.path, "rb") as a, open(second.train_file.path, "rb") as b:
        assert a.read() == b.read()


def test_a_finished_export_is_not_built_again(
    workspace: Workspace, record: Callable[..., CapturedSession]
) -> None:
    for _ in range(2):
        record()
    export = build(export_create(workspace=workspace, validation_share=0))
    finished = (export.state, export.finished_at, export.train_file.name)
    record()
    again = build(export)
    assert (again.state, again.finished_at, again.train_file.name) == finished
    assert again.sessions_total == 2
    failed = build(export_create(workspace=workspace, kinds=["hybrid"]))
    assert failed.state == Export.State.FAILED
    assert build(failed).finished_at == failed.finished_at


def test_a_crashed_running_export_is_restarted_but_a_live_one_is_left_alone(
    workspace: Workspace, record: Callable[..., CapturedSession]
) -> None:
    for _ in range(2):
        record()
    export = export_create(workspace=workspace, validation_share=0)
    now = timezone.now()
    Export.objects.filter(pk=export.pk).update(
        state=Export.State.RUNNING, run_token=uuid.uuid4(), heartbeat_at=now, sessions_done=1
    )
    assert build(export).state == Export.State.RUNNING  # alive: another worker has it
    assert not export_rerun(export=export)
    Export.objects.filter(pk=export.pk).update(heartbeat_at=now - timedelta(hours=1))
    export = build(export)
    assert export.state == Export.State.READY
    assert export.sessions_done == 2


def test_progress_is_written_every_few_sessions_and_a_superseded_run_stops(
    workspace: Workspace, record: Callable[..., CapturedSession]
) -> None:
    for _ in range(7):
        record()
    export = export_create(workspace=workspace, validation_share=0)
    seen: list[tuple[int, int, int]] = []

    def watch(done: int, total: int) -> None:
        stored = Export.objects.get(pk=export.pk)
        seen.append((done, total, stored.sessions_done))

    export = export_build(export=export, chunk_size=2, progress_every=2, on_progress=watch)
    assert export.state == Export.State.READY
    assert seen[0] == (0, 7, 0)
    # Each report is already in the database when it is shown.
    assert [(d, s) for d, _, s in seen[1:-1]] == [(2, 2), (4, 4), (6, 6)]
    assert seen[-1][:2] == (7, 7)

    other = export_create(workspace=workspace, validation_share=0)

    def take_over(done: int, total: int) -> None:
        if done == 2:  # an operator re-runs it while this run is presumed dead
            Export.objects.filter(pk=other.pk).update(run_token=uuid.uuid4())

    other = export_build(export=other, chunk_size=2, progress_every=2, on_progress=take_over)
    assert other.state == Export.State.RUNNING
    assert not other.train_file
    assert other.sessions_done == 2


def test_rerun_drops_the_old_files_and_builds_again(
    workspace: Workspace, record: Callable[..., CapturedSession]
) -> None:
    for _ in range(2):
        record()
    export = build(export_create(workspace=workspace, validation_share=0))
    old = export.train_file.path
    for _ in range(2):
        record()
    assert export_rerun(export=export)
    export.refresh_from_db()
    assert export.state == Export.State.PENDING and not export.train_file
    export = build(export)
    assert export.state == Export.State.READY
    assert export.sessions_count == 4
    assert export.train_file.path == old  # the same name, the old file gone first
