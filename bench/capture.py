"""Capture ingest throughput: events per second through the batched ingest API.

    python -m bench.capture --events 100000 --sessions 10

Runs on the database the environment names (DATABASE_URL), in a throwaway
database and data folder, both removed at the end.

Set-up (not timed): one workspace, an ingest token, `--sessions` sessions
opened through the API, and the request bodies: batches of `--batch` (1,000)
realistic events (a click or an input with its target, four selectors,
nearby elements and a DOM snippet; some carry an e-mail or a phone number to
mask), already encoded as JSON.

Timed: every batch POSTed to /api/v1/capture/sessions/{id}/events/ with
`Authorization: Capture <token>`, through Django's test Client in this
process: the full request path (middleware, authentication, the workspace
scoping, JSON parsing, per-event validation, masking, the set-based insert)
without a socket or a WSGI server in front. Afterwards every batch is sent
once more: all must come back as duplicates and the stored count must equal
the events sent, or the bench exits 1 (`ok`, `problems`).

`export_sessions_per_s`, `export_peak_rss_mb_1k` and `export_peak_rss_mb_10k`
come from `bench.capture_export.export_figures()` when that module exists:
it is called with no arguments, inside the same throwaway database and data
folder, after the ingest figures are taken, and returns a dict that is merged
into the output.

Prints one JSON object on stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench._common import (
    ThrowawayDatabase,
    django_setup,
    emit,
    log_to_stderr,
    machine,
    peak_rss_mb,
    stdout_to_stderr,
    throwaway_data_dir,
    throwaway_database,
)

logger = logging.getLogger("bench.capture")
BASE = "/api/v1/capture/sessions/"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.capture", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events to ingest in all")
    parser.add_argument("--sessions", type=int, default=10, help="sessions they are spread over")
    parser.add_argument("--batch", type=int, default=1000, help="events per request (max 1000)")
    parser.add_argument(
        "--no-export", action="store_true", help="skip the export figures even if available"
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.sessions < 1 or not 1 <= args.batch <= 1000:
        parser.error("--events and --sessions must be positive, --batch 1..1000")
    return args


def make_event(sequence: int, session_no: int) -> dict[str, Any]:
    """A click or an input as the recorder sends it; one in ten carries data to mask."""
    kind = "input" if sequence % 3 == 1 else "click"
    field = f"field-{sequence % 17}"
    value = None
    if kind == "input":
        value = f"jane.doe{sequence}@example.com" if sequence % 10 == 1 else "•••"
    text = "Publish" if kind == "click" else ""
    return {
        "sequence": sequence,
        "timestamp_ms": 1_732_400_000_000 + sequence * 700,
        "kind": kind,
        "url": f"http://127.0.0.1:8000/sandbox/upload/?step={sequence % 5}",
        "title": "Upload a video",
        "value": value,
        "masked": value == "•••",
        "masked_kinds": [],
        "target": {
            "tag": "input" if kind == "input" else "button",
            "text": text if sequence % 10 else "Call +44 7700 900123",
            "role": "textbox" if kind == "input" else "button",
            "name": field,
            "attributes": {"data-testid": field, "type": "text" if kind == "input" else "submit"},
            "bbox": {"x": 10, "y": 40 + sequence % 600, "width": 180, "height": 32},
            "selectors": [
                {
                    "kind": "testid",
                    "value": f'[data-testid="{field}"]',
                    "score": 1.0,
                    "unique": True,
                },
                {
                    "kind": "role",
                    "value": f'role=button[name="{field}"]',
                    "score": 0.9,
                    "unique": True,
                },
                {"kind": "css", "value": f"form > #{field}", "score": 0.4, "unique": True},
                {
                    "kind": "xpath",
                    "value": f"/html/body/form/div[{sequence % 9}]",
                    "score": 0.2,
                    "unique": True,
                },
            ],
            "nearby": [
                {"tag": "label", "text": "Title", "role": "", "name": "Title"},
                {"tag": "button", "text": "Cancel", "role": "button", "name": "Cancel"},
            ],
            "dom_snippet": (
                f'<form id="upload-{session_no}"><label for="{field}">Title</label>'
                f'<input id="{field}" data-testid="{field}" name="{field}">'
                '<button type="submit" data-testid="upload-submit">Publish</button></form>'
            ),
        },
        "scroll": None,
        "found_in_dom": True,
        "dom_changed": kind == "click",
    }


def measure(args: argparse.Namespace, db: ThrowawayDatabase) -> dict[str, Any]:
    from django.test import Client

    from accounts.services import workspace_create
    from capture.models import Interaction
    from capture.services import ingest_token_create

    workspace = workspace_create(name="Capture bench", slug="capture-bench")
    _, plain = ingest_token_create(workspace=workspace, name="bench")
    client = Client(HTTP_AUTHORIZATION=f"Capture {plain}")

    session_ids = []
    for _ in range(args.sessions):
        response = client.post(
            BASE, {"kind": "human", "task": "Upload a video"}, content_type="application/json"
        )
        assert response.status_code == 201, response.content
        session_ids.append(response.json()["id"])

    # Bodies encoded up front: the client's JSON encoding is not the server's cost.
    per_session = -(-args.events // args.sessions)
    bodies: list[tuple[str, bytes, int]] = []
    made = 0
    for n, session_id in enumerate(session_ids):
        count = min(per_session, args.events - made)
        for start in range(0, count, args.batch):
            events = [make_event(made + i, n) for i in range(start, min(start + args.batch, count))]
            body = json.dumps({"events": events}).encode()
            bodies.append((f"{BASE}{session_id}/events/", body, len(events)))
        made += count
    logger.info("%d batches ready, %.1f MB", len(bodies), sum(len(b) for _, b, _ in bodies) / 1e6)

    problems: list[str] = []
    latencies: list[float] = []
    started = time.perf_counter()
    for url, body, size in bodies:
        t0 = time.perf_counter()
        response = client.post(url, body, content_type="application/json")
        latencies.append(time.perf_counter() - t0)
        if response.status_code != 200 or response.json()["added"] != size:
            problems.append(f"{url}: {response.status_code} {response.content[:200]!r}")
    elapsed = time.perf_counter() - started

    # Resending adds nothing.
    resent_added = 0
    for url, body, _ in bodies:
        resent_added += client.post(url, body, content_type="application/json").json()["added"]
    stored = Interaction.objects.count()
    if resent_added:
        problems.append(f"a resend added {resent_added} events")
    if stored != args.events:
        problems.append(f"{stored} events stored, {args.events} sent")

    latencies_ms = sorted(x * 1000 for x in latencies)
    return {
        "database": db.vendor,
        "transport": "django.test.Client, in-process",
        "events": args.events,
        "sessions": args.sessions,
        "batch": args.batch,
        "batches": len(bodies),
        "ingest_events_per_s": round(args.events / elapsed, 1),
        "batch_p50_ms": round(statistics.median(latencies_ms), 1),
        "batch_p95_ms": round(latencies_ms[int(len(latencies_ms) * 0.95) - 1 or 0], 1),
        "stored": stored,
        "resent_added": resent_added,
        "ok": not problems,
        "problems": problems,
        **machine(),
    }


def export_figures_if_available() -> dict[str, Any]:
    if importlib.util.find_spec("bench.capture_export") is None:
        return {}
    from bench import capture_export

    hook = getattr(capture_export, "export_figures", None)
    return dict(hook()) if hook is not None else {}


def main(argv: Sequence[str] | None = None) -> int:
    log_to_stderr()
    args = parse_args(argv)
    with (
        throwaway_data_dir("farm-bench-capture"),
        throwaway_database("farm_bench_capture") as db,
        stdout_to_stderr(),
    ):
        django_setup()
        result = measure(args, db)
        if not args.no_export:
            result.update(export_figures_if_available())
        result["peak_rss_mb"] = peak_rss_mb()
    emit(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
