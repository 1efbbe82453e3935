from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.management.commands import import_accounts
from accounts.models import Account, Workspace
from browsers.models import BrowserProfile

HEADER = "platform,handle,username,password,daily_quota\n"


def write_csv(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


@dataclass
class Run:
    out: str
    err: str
    error: CommandError | None


def run(path: Path, workspace: str = "acme") -> Run:
    out, err = StringIO(), StringIO()
    error = None
    try:
        call_command("import_accounts", str(path), workspace=workspace, stdout=out, stderr=err)
    except CommandError as exc:
        error = exc
    return Run(out.getvalue(), err.getvalue(), error)


def test_a_good_file_creates_every_account(tmp_path: Path, workspace: Workspace) -> None:
    path = write_csv(
        tmp_path,
        "sandbox,alice,alice@example.com,pw-import-1,5\n"
        "Sandbox, bob ,bob,pw-import-2,\n"
        "tiktok,carol,carol,pw-import-3,12\n",
    )

    result = run(path)

    assert result.error is None
    assert "Created 3 account(s) in acme." in result.out
    assert "pw-import" not in result.out + result.err
    accounts = {a.handle: a for a in workspace.accounts.all()}
    assert set(accounts) == {"alice", "bob", "carol"}
    assert accounts["alice"].credentials == {
        "username": "alice@example.com",
        "password": "pw-import-1",
    }
    assert accounts["alice"].daily_quota == 5
    assert accounts["bob"].platform == "sandbox"
    assert accounts["bob"].daily_quota == Account._meta.get_field("daily_quota").default
    assert BrowserProfile.objects.filter(account__workspace=workspace).count() == 3


def test_daily_quota_column_is_optional(tmp_path: Path, workspace: Workspace) -> None:
    path = write_csv(
        tmp_path, "sandbox,dave,dave,pw-import-4\n", header="platform,handle,username,password\n"
    )
    assert run(path).error is None
    assert workspace.accounts.get().handle == "dave"


def test_any_bad_row_saves_nothing_and_names_each_error(
    tmp_path: Path, workspace: Workspace, make_account: Callable[..., Account]
) -> None:
    make_account(workspace, handle="taken")
    path = write_csv(
        tmp_path,
        "sandbox,good,good,pw-import-5,\n"  # row 2
        "pw-import-6,oops,oops,pw-import-7,\n"  # row 3: a password in the platform column
        "sandbox,,nobody,pw-import-8,\n"  # row 4
        "sandbox,nopass,nopass,,\n"  # row 5
        "sandbox,good,again,pw-import-9,\n"  # row 6: repeats row 2
        "sandbox,taken,taken,pw-import-10,\n"  # row 7
        "sandbox,quota,quota,pw-import-11,lots\n",  # row 8
    )

    result = run(path)

    assert result.error is not None
    assert result.error.returncode != 0
    lines = result.err.splitlines()
    assert "row 3: platform: unknown; use one of" in lines[0]
    assert lines[1:] == [
        "row 4: handle: required.",
        "row 5: password: required.",
        "row 6: handle: repeats row 2.",
        "row 7: handle: this account already exists in the workspace.",
        "row 8: daily_quota: must be a whole number above 0.",
    ]
    assert "6 row(s) have errors; no account was saved." in str(result.error)
    assert "pw-import" not in result.out + result.err + str(result.error)
    assert list(workspace.accounts.values_list("handle", flat=True)) == ["taken"]


def test_the_plan_cap_is_the_service_s_and_undoes_the_whole_file(
    tmp_path: Path, make_workspace: Callable[..., Workspace]
) -> None:
    small = make_workspace(slug="small", max_accounts=2)
    path = write_csv(
        tmp_path,
        "sandbox,one,one,pw-import-12,\nsandbox,two,two,pw-import-13,\n"
        "sandbox,three,three,pw-import-14,\n",
    )

    result = run(path, workspace="small")

    assert result.error is not None
    assert result.err.splitlines() == [
        "row 4: workspace: The plan allows 2 accounts; all are in use."
    ]
    assert not small.accounts.exists()
    assert not BrowserProfile.objects.filter(account__workspace=small).exists()


def test_missing_columns_and_unknown_workspace_are_refused(
    tmp_path: Path, workspace: Workspace
) -> None:
    path = write_csv(tmp_path, "sandbox,erin\n", header="platform,handle\n")
    assert "missing column(s): username, password" in str(run(path).error)
    assert "No workspace" in str(run(path, workspace="nope").error)
    assert "no such file" in str(run(tmp_path / "absent.csv").error)
    assert not workspace.accounts.exists()


def test_large_files_report_progress(
    tmp_path: Path, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_accounts, "PROGRESS_EVERY", 2)
    body = "".join(f"sandbox,h{n},u{n},pw-import-x,\n" for n in range(5))
    out = run(write_csv(tmp_path, body)).out
    assert out.splitlines() == ["2/5 rows", "4/5 rows", "Created 5 account(s) in acme."]
