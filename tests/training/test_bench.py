"""The export bench runs small and prints the figures bench.capture merges (numbers not judged)."""

from __future__ import annotations

from pathlib import Path

from tests.bench.test_benches import run_bench


def test_export_bench(tmp_path: Path) -> None:
    figures = run_bench("bench.capture_export", "--small", "20", "--large", "60", tmp_path=tmp_path)
    assert figures["export_ok"] is True, figures["export_problems"]
    assert figures["export_small"]["sessions"] == 20
    assert figures["export_large"]["sessions"] == 60
    for key in ("export_sessions_per_s", "export_peak_rss_mb_1k", "export_peak_rss_mb_10k"):
        assert figures[key] > 0, key
