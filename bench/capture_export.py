"""Training-data export: sessions per second, and peak memory at 1,000 and 10,000 sessions.

    python -m bench.capture_export --small 1000 --large 10000

Runs on the database the environment names (DATABASE_URL), in a throwaway
database and data folder deleted at the end.

Set-up (not timed): two workspaces holding `--small` and `--large` accepted
sessions of `--actions` actions each (a navigation first), written with
bulk_create; every action has a target with selectors, nearby elements and a
DOM snippet, as the recorder sends them.

Each export then runs in a child process of its own (`--child`), so its peak
RSS is its own and not the set-up's: the child loads Django, builds a
`messages` export with the real service (streamed, validated, split) and
reports its wall time and peak RSS. `export_sessions_per_s` is the large
export's sessions over its build time; the peak RSS of the large export
should stay within 1.2x of the small one's, since memory holds one chunk of
sessions, never the export.

`export_figures()` runs all of this in a fresh process and returns the
figures, so `bench.capture` can call it whatever Django state it is in.

Prints one JSON object on stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bench._common import (
    BASE_DIR,
    django_setup,
    emit,
    log_to_stderr,
    machine,
    peak_rss_mb,
    stdout_to_stderr,
    throwaway_data_dir,
    throwaway_database,
)

logger = logging.getLogger("bench.capture_export")

SITE = "http://127.0.0.1:8000/sandbox"


def _element(tag: str, name: str, testid: str, n: int) -> dict[str, Any]:
    return {
        "tag": tag,
        "text": name,
        "role": {"button": "button", "input": "textbox", "a": "link"}.get(tag, tag),
        "name": name,
        "attributes": {"data-testid": testid, "class": f"field field-{n % 7}"},
        "bbox": {"x": 10 + n, "y": 40 * n, "width": 120, "height": 32},
        "selectors": [
            {"kind": "testid", "value": f'[data-testid="{testid}"]', "score": 1.0, "unique": True},
            {"kind": "role", "value": f'role={tag}[name="{name}"]', "score": 0.9, "unique": True},
            {"kind": "css", "value": f"form > {tag}:nth-of-type({n + 1})", "score": 0.4},
            {"kind": "xpath", "value": f"/html/body/main/form/{tag}[{n + 1}]", "score": 0.2},
        ],
    }


def _interaction_rows(session_id: uuid.UUID, actions: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "session_id": session_id,
            "sequence": 0,
            "timestamp_ms": 1_732_400_000_000,
            "kind": "navigate",
            "url": f"{SITE}/upload/",
            "title": "Upload",
            "target": None,
        }
    ]
    for n in range(1, actions + 1):
        tag = ("input", "button", "a")[n % 3]
        target = _element(tag, f"Field {n}", f"field-{n}", n)
        target["nearby"] = [
            _element("input", f"Near {n}.{k}", f"near-{n}-{k}", k) for k in range(3)
        ]
        target["dom_snippet"] = (
            f'<form class="upload"><label>Field {n}</label><{tag} data-testid="field-{n}">'
            f"Field {n}</{tag}><button>Publish</button></form>"
        )
        rows.append(
            {
                "session_id": session_id,
                "sequence": n,
                "timestamp_ms": 1_732_400_000_000 + n * 1200,
                "kind": "input" if tag == "input" else "click",
                "url": f"{SITE}/upload/",
                "title": "Upload",
                "value": f"value {n}" if tag == "input" else "",
                "target": target,
            }
        )
    return rows


def sessions_bulk_create(
    *, workspace: Any, count: int, actions: int = 6, batch: int = 500
) -> list[uuid.UUID]:
    """`count` accepted sessions of `actions` actions each, written with bulk_create."""
    from django.utils import timezone

    from capture.models import CapturedSession, Interaction

    ids: list[uuid.UUID] = []
    started = timezone.now() - timedelta(days=1)
    for offset in range(0, count, batch):
        size = min(batch, count - offset)
        sessions = [
            CapturedSession(
                id=uuid.uuid4(),
                workspace=workspace,
                kind=CapturedSession.Kind.HUMAN,
                state=CapturedSession.State.ACCEPTED,
                started_at=started + timedelta(seconds=offset + n),
                start_url=f"{SITE}/upload/",
                task=f"Upload clip {offset + n} and publish it",
                quality=0.9,
                events_count=actions + 1,
            )
            for n in range(size)
        ]
        CapturedSession.objects.bulk_create(sessions)
        rows = [Interaction(**row) for s in sessions for row in _interaction_rows(s.id, actions)]
        Interaction.objects.bulk_create(rows, batch_size=1000)
        ids.extend(s.id for s in sessions)
    return ids


def own_peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM), in MiB.

    Not getrusage's ru_maxrss: on Linux that survives exec, so a child started
    by the set-up process would report the set-up's peak, not its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return peak_rss_mb()


def _child(slug: str) -> None:
    """Build one export in this process and print its figures."""
    django_setup(migrate=False)
    from accounts.models import Workspace
    from training.services import export_build, export_create

    workspace = Workspace.objects.get(slug=slug)
    export = export_create(workspace=workspace, validation_share=0.1)
    started = time.perf_counter()
    with stdout_to_stderr():
        export = export_build(export=export)
    seconds = time.perf_counter() - started
    emit(
        {
            "state": export.state,
            "errors": export.errors[:3],
            "sessions": export.sessions_count,
            "examples": export.examples_count,
            "seconds": round(seconds, 3),
            "sessions_per_s": round(export.sessions_count / seconds, 1) if seconds else 0,
            "peak_rss_mb": own_peak_rss_mb(),
        }
    )


def _run_child(slug: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.capture_export", "--child", slug],
        cwd=BASE_DIR,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the export child for {slug} exited with {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(small: int, large: int, actions: int) -> dict[str, Any]:
    with throwaway_data_dir("farm-bench-export"), throwaway_database("farm_bench_export") as db:
        django_setup()
        from django.db import connections

        from accounts.services import workspace_create

        for slug, count in (("bench-small", small), ("bench-large", large)):
            started = time.perf_counter()
            workspace = workspace_create(name=slug, slug=slug)
            sessions_bulk_create(workspace=workspace, count=count, actions=actions)
            logger.info("%s: %d sessions in %.1f s", slug, count, time.perf_counter() - started)
        connections.close_all()
        small_run = _run_child("bench-small")
        large_run = _run_child("bench-large")
        problems = [
            f"{name}: {figures['state']} {figures['errors']}"
            for name, figures in (("small", small_run), ("large", large_run))
            if figures["state"] != "ready"
        ]
        return {
            "database": db.vendor,
            "export_sessions_per_s": large_run["sessions_per_s"],
            "export_peak_rss_mb_1k": small_run["peak_rss_mb"],
            "export_peak_rss_mb_10k": large_run["peak_rss_mb"],
            "export_rss_ratio": round(large_run["peak_rss_mb"] / small_run["peak_rss_mb"], 3),
            "export_small": small_run,
            "export_large": large_run,
            "export_actions_per_session": actions,
            "export_ok": not problems,
            "export_problems": problems,
            **machine(),
        }


def export_figures(*, small: int = 1_000, large: int = 10_000, actions: int = 6) -> dict[str, Any]:
    """The export figures, measured in a fresh process (callable from a set-up Django)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.capture_export",
            "--small",
            str(small),
            "--large",
            str(large),
            "--actions",
            str(actions),
        ],
        cwd=BASE_DIR,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"bench.capture_export exited with {done.returncode}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    # The caller reports the database and machine itself.
    return {key: value for key, value in figures.items() if key.startswith("export_")}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.capture_export", description=__doc__)
    parser.add_argument("--small", type=int, default=1_000, help="sessions in the small export")
    parser.add_argument("--large", type=int, default=10_000, help="sessions in the large export")
    parser.add_argument("--actions", type=int, default=6, help="actions per session")
    parser.add_argument("--child", metavar="SLUG", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    log_to_stderr()
    if args.child:
        _child(args.child)
        return 0
    with stdout_to_stderr():
        result = run(args.small, args.large, args.actions)
    emit(result)
    return 0 if result["export_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
