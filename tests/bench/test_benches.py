"""The benchmarks run and print the figures they promise (their numbers are not judged here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def run_bench(module: str, *args: str, tmp_path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, "FARM_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout
    return json.loads(lines[0])


def test_dispatch_bench(tmp_path: Path) -> None:
    figures = run_bench(
        "bench.dispatch",
        "--posts",
        "200",
        "--accounts",
        "10",
        "--baseline-posts",
        "50",
        tmp_path=tmp_path,
    )
    assert {"database", "posts", "accounts", "posts_per_s", "baseline_posts_per_s"} <= set(figures)
    assert figures["posts"] == 200 and figures["accounts"] == 10
    assert figures["messages_sent"] == 200
    assert figures["posts_per_s"] > 0 and figures["baseline_posts_per_s"] > 0


@pytest.mark.e2e
def test_uploads_bench(tmp_path: Path) -> None:
    figures = run_bench("bench.uploads", "--posts", "4", "--browsers", "2", tmp_path=tmp_path)
    for key in (
        "uploads_per_min",
        "baseline_uploads_per_min",
        "p50_s",
        "p95_s",
        "peak_rss_mb_per_browser",
    ):
        assert figures[key] > 0, key
    assert figures["all_posted"] is True
    assert figures["duplicates"] == 0


@pytest.mark.e2e
def test_soak_bench(tmp_path: Path) -> None:
    figures = run_bench(
        "bench.soak",
        "--minutes",
        "0.3",
        "--drain-minutes",
        "2",
        "--accounts",
        "3",
        "--per-minute",
        "30",
        tmp_path=tmp_path,
    )
    assert {"posts_per_min", "duplicates", "lost", "p95_latency_s"} <= set(figures)
    assert figures["posts"] >= 8
    assert figures["duplicates"] == 0 and figures["lost"] == 0
    assert figures["posts_per_min"] > 0 and figures["p95_latency_s"] > 0


def test_capture_bench(tmp_path: Path) -> None:
    figures = run_bench(
        "bench.capture", "--events", "3000", "--sessions", "2", "--no-export", tmp_path=tmp_path
    )
    assert figures["ok"], figures["problems"]
    # Sent once over HTTP and once in-process, each into fresh sessions.
    assert figures["events"] == 3000 and figures["stored"] == 6000
    assert figures["batches"] == 4 and figures["resent_added"] == 0
    assert figures["ingest_events_per_s"] > 0 and figures["ingest_events_per_s_in_process"] > 0
    assert figures["transport"].startswith("HTTP")
