"""An export's memory does not grow with its size: it holds one chunk, never the export.

Measured with tracemalloc (Python allocations during the build), not time:
exporting ten times as many sessions may not raise the peak by more than a
little, while anything that gathered sessions, examples or lines would.
"""

from __future__ import annotations

import tracemalloc

import pytest

from accounts.models import Workspace
from bench.capture_export import sessions_bulk_create
from training.models import Export
from training.services import export_build, export_create

pytestmark = pytest.mark.django_db

CHUNK = 25


def peak_bytes_of_export(workspace: Workspace) -> tuple[int, Export]:
    export = export_create(workspace=workspace, validation_share=0.1)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        export = export_build(export=export, chunk_size=CHUNK, progress_every=CHUNK)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before, export


def test_peak_memory_is_flat_from_100_to_1000_sessions(make_workspace) -> None:
    small_ws, large_ws = make_workspace(), make_workspace()
    sessions_bulk_create(workspace=small_ws, count=100, actions=6)
    sessions_bulk_create(workspace=large_ws, count=1000, actions=6)
    # One warm-up, so that caches filled once (imports, query compilation) count for neither.
    peak_bytes_of_export(small_ws)
    small_peak, small = peak_bytes_of_export(small_ws)
    large_peak, large = peak_bytes_of_export(large_ws)
    assert small.state == large.state == Export.State.READY
    assert large.examples_count == 10 * small.examples_count
    # The files grow tenfold; the memory of building them may not.
    assert large.train_file.size > 8 * small.train_file.size
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
