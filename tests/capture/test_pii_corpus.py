"""A corpus of personal data sent through every field: none of it survives in the
database or in the session's archive."""

from __future__ import annotations

import re
import zipfile
from urllib.parse import quote

from django.db import connection
from rest_framework.test import APIClient

from capture.models import CapturedSession
from capture.services import ingest_token_create, session_archive
from tests.capture.test_masking import CORPUS
from tests.factories import make_event

BASE = "/api/v1/capture/sessions/"
CAPTURE_TABLES = [
    "capture_capturedsession",
    "capture_interaction",
    "capture_screenshot",
]


def _events_carrying(value: str, first_sequence: int) -> list[dict]:
    """The value in every field an event has, once plainly and once URL-encoded."""
    event = make_event(first_sequence, kind="input")
    event.update(
        value=value,
        title=f"Profile of {value}",
        url=f"http://shop.test/account?contact={quote(value)}",
    )
    target = event["target"]
    target.update(
        text=f"Saved: {value}",
        name=value,
        attributes={
            "value": value,
            "title": f"({value})",
            "href": f"/u/{quote(value)}",
            "data-contact": f"mailto:{value}",
        },
        dom_snippet=f'<label>Contact</label><input value="{value}"><span>{value}</span>',
    )
    target["selectors"].append({"kind": "text", "value": f'text="{value}"', "score": 0.7})
    target["nearby"] = [
        {"tag": "span", "text": value, "name": value, "attributes": {"data-x": value}}
    ]
    return [event]


def _variants(value: str) -> set[str]:
    """The value as written and with its separators dropped."""
    compact = re.sub(r"[\s().-]", "", value)
    return {value, compact, quote(value)}


def _database_text() -> str:
    parts: list[str] = []
    with connection.cursor() as cursor:
        for table in CAPTURE_TABLES:
            cursor.execute(f"SELECT * FROM {table}")
            parts.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(parts)


def test_no_corpus_value_survives_in_the_database_or_the_archive(workspace) -> None:
    _, plain = ingest_token_create(workspace=workspace, name="corpus")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Capture {plain}")
    all_values = " / ".join(value for value, _, _ in CORPUS)
    opened = client.post(
        BASE,
        {
            "kind": "human",
            "task": f"Send the invoice to {all_values}",
            "start_url": f"http://shop.test/?q={quote(CORPUS[0][0])}",
        },
        format="json",
    ).json()
    events = []
    for i, (value, _, _) in enumerate(CORPUS):
        events += _events_carrying(value, i)
    response = client.post(f"{BASE}{opened['id']}/events/", {"events": events}, format="json")
    assert response.json()["added"] == len(CORPUS)
    client.post(f"{BASE}{opened['id']}/close/")

    stored = _database_text()
    assert "[EMAIL]" in stored and "[IBAN]" in stored
    for value, _, kind in CORPUS:
        for variant in _variants(value):
            assert variant not in stored, (kind, variant)
    session = CapturedSession.objects.get(pk=opened["id"])
    assert set(session.masked_kinds) == {kind for _, _, kind in CORPUS}

    archived = session_archive(session=session)
    with zipfile.ZipFile(archived.archive.open("rb")) as archive:
        contents = "\n".join(
            archive.read(name).decode(errors="replace") for name in archive.namelist()
        )
    for value, _, kind in CORPUS:
        for variant in _variants(value):
            assert variant not in contents, (kind, variant)
    assert "[EMAIL]" in contents and "[CARD]" in contents
