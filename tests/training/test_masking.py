"""No personal data from the corpus reaches a training file, whichever way rows came in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Workspace
from capture.models import CapturedSession, Interaction
from tests.factories import BASE, element, upload_events
from training.models import Export
from training.services import export_build, export_create

pytestmark = pytest.mark.django_db

CORPUS = [
    "jane.doe+farm@example.co.uk",
    "+44 7700 900123",
    "(555) 123-4567",
    "4111 1111 1111 1111",
    "5105105105105100",
    "GB82 WEST 1234 5698 7654 32",
    "DE89370400440532013000",
    "123-45-6789",
    "AB 12 34 56 C",
    "203.0.113.42",
    "2001:db8::ff00:42:8329",
]


def pii_events() -> list[dict[str, Any]]:
    """An upload session with the corpus in every place an event can carry text."""
    events = upload_events()
    for n, pii in enumerate(CORPUS):
        target = element(
            "button",
            f"Send to {pii}",
            f"send-{n}",
            text=f"Contact {pii}",
            attributes={
                "title": pii,
                "href": f"/contact/?to={pii}&ip={pii}",
                "alt": f"mailto:{pii}",
            },
            nearby=[{"tag": "input", "role": "textbox", "name": f"Phone {pii}", "text": pii}],
            snippet=f"<form><p>{pii}</p><button>Send</button></form>",
        )
        events.append(
            {
                "sequence": 100 + 2 * n,
                "timestamp_ms": 1_732_400_100_000 + n * 1000,
                "kind": "click",
                "url": f"{BASE}/contact/?who={pii}",
                "title": f"Contact {pii}",
                "value": None,
                "masked": False,
                "masked_kinds": [],
                "target": target,
                "scroll": None,
                "found_in_dom": True,
                "dom_changed": True,
            }
        )
        events.append(
            {
                **events[-1],
                "sequence": 101 + 2 * n,
                "kind": "input",
                "value": f"my details: {pii}",
                "target": element("input", "Notes", f"notes-{n}"),
            }
        )
    return events


def exported_text(export: Export) -> str:
    return "".join(
        Path(f.path).read_text(encoding="utf-8")
        for f in (export.train_file, export.validation_file)
    )


def assert_no_pii(text: str) -> None:
    leaked = [pii for pii in CORPUS if pii in text or pii.replace(" ", "") in text]
    assert leaked == []


@pytest.mark.parametrize("fmt", ["messages", "mind2web"])
def test_sessions_recorded_through_ingest_export_no_pii(
    fmt: str, workspace: Workspace, record: Callable[..., CapturedSession]
) -> None:
    for pii in CORPUS[:3]:
        record(task=f"Write to {pii} about the upload", events=pii_events())
    export = export_build(export=export_create(workspace=workspace, format=fmt, validation_share=0))
    assert export.state == Export.State.READY, export.errors
    text = exported_text(export)
    assert_no_pii(text)
    for placeholder in ("[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[NATIONAL_ID]", "[IP]"):
        assert placeholder in text


@pytest.mark.parametrize("fmt", ["messages", "mind2web"])
def test_rows_that_skipped_ingest_masking_are_masked_in_the_export(
    fmt: str, workspace: Workspace
) -> None:
    """A bulk load or an import that wrote raw rows still exports nothing personal."""
    session = CapturedSession.objects.create(
        workspace=workspace,
        kind=CapturedSession.Kind.HUMAN,
        state=CapturedSession.State.ACCEPTED,
        task=f"Mail {CORPUS[0]} from {CORPUS[9]}",
        start_url=f"{BASE}/?ip={CORPUS[9]}",
        quality=1.0,
    )
    rows = [
        Interaction(
            session=session,
            sequence=event["sequence"],
            timestamp_ms=event["timestamp_ms"],
            kind=event["kind"],
            url=event["url"],
            title=event["title"],
            value=event["value"] or "",
            target=event["target"],
        )
        for event in pii_events()
    ]
    Interaction.objects.bulk_create(rows)
    assert any(CORPUS[0] in (row.title or "") for row in rows)  # raw in the database
    export = export_build(export=export_create(workspace=workspace, format=fmt, validation_share=0))
    assert export.state == Export.State.READY, export.errors
    assert_no_pii(exported_text(export))
