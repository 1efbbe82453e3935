"""`manage.py export_training`: files, a progress bar on stderr, errors naming the option."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Workspace
from capture.models import CapturedSession
from tests.factories import MESSAGES_PER_UPLOAD
from tests.training.conftest import read_jsonl
from training.models import Export

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_training", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_export_to_a_folder_with_a_progress_bar(
    workspace: Workspace, record: Callable[..., CapturedSession], tmp_path: Path
) -> None:
    for _ in range(3):
        record(kind="human")
    record(kind="automated")
    out, err = run(
        "--workspace",
        "acme",
        "--kinds",
        "human",
        "hybrid",
        "--min-quality",
        "0",
        "--since",
        "2000-01-01",
        "--validation-share",
        "0",
        "--out",
        str(tmp_path / "out"),
    )
    export = Export.objects.get()
    assert export.state == Export.State.READY
    assert export.kinds == ["human", "hybrid"]
    assert "3 sessions" in out and f"{3 * MESSAGES_PER_UPLOAD} examples" in out
    assert f"train: {tmp_path / 'out' / 'train.jsonl'}" in out
    assert len(read_jsonl(tmp_path / "out" / "train.jsonl")) == 3 * MESSAGES_PER_UPLOAD
    assert (tmp_path / "out" / "validation.jsonl").read_text() == ""
    assert "3/3 sessions 100%" in err
    assert "[####" in err


def test_mind2web_format_option(
    workspace: Workspace, record: Callable[..., CapturedSession]
) -> None:
    for _ in range(3):
        record()
    run("--workspace", "acme", "--format", "mind2web", "--validation-share", "0", "--no-progress")
    export = Export.objects.get()
    assert export.format == "mind2web"
    assert read_jsonl(export.train_file.path)[0]["operation"]["op"] == "CLICK"


def test_a_failed_export_shows_its_errors(workspace: Workspace) -> None:
    with pytest.raises(CommandError, match="failed"):
        run("--workspace", "acme", "--no-progress")
    assert Export.objects.get().state == Export.State.FAILED


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--workspace", "nope"], "--workspace: no workspace with the slug 'nope'"),
        (["--workspace", "acme", "--format", "csv"], "--format: 'csv' is not one of"),
        (["--workspace", "acme", "--kinds", "robot"], "--kinds: unknown kind(s) robot"),
        (["--workspace", "acme", "--min-quality", "high"], "--min-quality: 'high' is not a number"),
        (["--workspace", "acme", "--min-quality", "2"], "--min-quality: 2.0 is not between"),
        (["--workspace", "acme", "--validation-share", "0.6"], "--validation-share: 0.6 is not"),
        (["--workspace", "acme", "--since", "yesterday"], "--since: 'yesterday' is not a date"),
        (["--workspace", "acme", "--until", "2026-13-01"], "--until: '2026-13-01' is not a date"),
        (
            ["--workspace", "acme", "--since", "2026-02-01", "--until", "2026-01-01"],
            "--until: must be after",
        ),
    ],
)
def test_bad_options_are_named(workspace: Workspace, args: list[str], named: str) -> None:
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert named in str(caught.value)
    assert not Export.objects.exists()
