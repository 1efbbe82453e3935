"""The ingest API: token and integrator auth, batches, screenshots, close, scoping."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest
from django.core.management import call_command
from rest_framework.parsers import MultiPartParser
from rest_framework.test import APIClient

from accounts.models import Membership
from capture.models import CapturedSession, IngestToken, Interaction
from capture.services import (
    ingest_token_create,
    ingest_token_hash,
    ingest_token_revoke,
    session_open,
)
from tests.factories import make_event, png_bytes

BASE = "/api/v1/capture/sessions/"


@pytest.fixture
def ingest_client(workspace) -> APIClient:
    _, plain = ingest_token_create(workspace=workspace, name="Jane's browser")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Capture {plain}")
    return client


def _open(client: APIClient, **body: object) -> dict:
    body.setdefault("kind", "human")
    body.setdefault("start_url", "http://127.0.0.1:8000/sandbox/upload/")
    response = client.post(BASE, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_the_extension_opens_appends_uploads_and_closes(ingest_client: APIClient) -> None:
    opened = _open(
        ingest_client,
        viewport={"width": 1280, "height": 900},
        user_agent="Chromium",
        task="Upload a video titled Cats",
    )
    assert opened["state"] == "recording"
    session = CapturedSession.objects.get(pk=opened["id"])
    assert session.created_by_token is not None

    events = [make_event(i) for i in range(1, 6)]
    response = ingest_client.post(
        f"{BASE}{opened['id']}/events/", {"events": events}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"added": 5, "duplicates": 0, "errors": []}
    again = ingest_client.post(f"{BASE}{opened['id']}/events/", {"events": events}, format="json")
    assert again.json() == {"added": 0, "duplicates": 5, "errors": []}

    for sequence in range(1, 6):
        image = io.BytesIO(png_bytes())
        image.name = "shot.png"
        response = ingest_client.post(
            f"{BASE}{opened['id']}/screenshots/",
            {"image": image, "sequence": sequence},
            format="multipart",
        )
        assert response.status_code == 201, response.content
        assert len(response.json()["sha256"]) == 64

    closed = ingest_client.post(f"{BASE}{opened['id']}/close/")
    assert closed.status_code == 200
    body = closed.json()
    assert body["state"] == "accepted"
    assert body["completeness"] == 1.0
    assert body["quality"] > 0.9
    assert body["rejection_reason"] == ""


def test_per_event_errors_come_back_and_good_events_are_kept(ingest_client: APIClient) -> None:
    opened = _open(ingest_client)
    events = [make_event(1), {**make_event(2), "kind": "hover"}, make_event(3)]
    response = ingest_client.post(
        f"{BASE}{opened['id']}/events/", {"events": events}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["added"] == 2
    assert body["errors"] == [
        {"index": 1, "sequence": 2, "errors": {"kind": [body["errors"][0]["errors"]["kind"][0]]}}
    ]
    assert "hover" in body["errors"][0]["errors"]["kind"][0]


def test_over_a_thousand_events_is_a_400_naming_events(ingest_client: APIClient) -> None:
    opened = _open(ingest_client)
    events = [make_event(i) for i in range(1001)]
    response = ingest_client.post(
        f"{BASE}{opened['id']}/events/", {"events": events}, format="json"
    )
    assert response.status_code == 400
    assert "events" in response.json()
    assert not Interaction.objects.exists()


def test_events_must_be_a_list(ingest_client: APIClient) -> None:
    opened = _open(ingest_client)
    response = ingest_client.post(f"{BASE}{opened['id']}/events/", {"events": "x"}, format="json")
    assert response.status_code == 400
    assert "events" in response.json()


def test_another_workspaces_session_is_a_404(
    ingest_client: APIClient, make_workspace: Callable, api_client_for: Callable
) -> None:
    other_client = api_client_for(make_workspace())
    theirs = _open(other_client)
    for path in ("events/", "close/"):
        response = ingest_client.post(f"{BASE}{theirs['id']}/{path}", {"events": []}, format="json")
        assert response.status_code == 404, path
    assert ingest_client.get(f"{BASE}{theirs['id']}/").status_code == 404
    assert ingest_client.get(BASE).json()["count"] == 0
    assert ingest_client.post(f"{BASE}not-a-uuid/close/").status_code == 404


def test_integrators_use_their_farm_token(workspace, api_client_for: Callable) -> None:
    client = api_client_for(workspace)
    opened = _open(client, kind="automated")
    response = client.post(
        f"{BASE}{opened['id']}/events/", {"events": [make_event(1)]}, format="json"
    )
    assert response.json()["added"] == 1
    listed = client.get(BASE).json()
    assert [s["id"] for s in listed["results"]] == [opened["id"]]


def test_viewers_may_read_but_not_write(workspace, api_client_for: Callable) -> None:
    writer = api_client_for(workspace)
    opened = _open(writer)
    viewer = api_client_for(workspace, role=Membership.Role.VIEWER)
    assert viewer.get(f"{BASE}{opened['id']}/").status_code == 200
    response = viewer.post(f"{BASE}{opened['id']}/events/", {"events": []}, format="json")
    assert response.status_code == 403


def test_bad_and_revoked_tokens_are_refused(workspace) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Capture cap_nonsense")
    assert client.post(BASE, {"kind": "human"}, format="json").status_code == 401
    token, plain = ingest_token_create(workspace=workspace, name="old")
    ingest_token_revoke(token=token)
    client.credentials(HTTP_AUTHORIZATION=f"Capture {plain}")
    assert client.post(BASE, {"kind": "human"}, format="json").status_code == 401
    assert APIClient().post(BASE, {"kind": "human"}, format="json").status_code == 401


def test_a_screenshot_that_is_not_png_or_jpeg_is_a_400(ingest_client: APIClient) -> None:
    opened = _open(ingest_client)
    image = io.BytesIO(b"GIF89a not really")
    image.name = "x.gif"
    response = ingest_client.post(
        f"{BASE}{opened['id']}/screenshots/", {"image": image}, format="multipart"
    )
    assert response.status_code == 400
    assert "image" in response.json()


def test_a_closed_session_takes_no_events(ingest_client: APIClient) -> None:
    opened = _open(ingest_client)
    ingest_client.post(f"{BASE}{opened['id']}/close/")
    response = ingest_client.post(
        f"{BASE}{opened['id']}/events/", {"events": [make_event(1)]}, format="json"
    )
    assert response.status_code == 409


def test_a_rejected_session_shows_its_reason(ingest_client: APIClient) -> None:
    opened = _open(ingest_client)
    ingest_client.post(
        f"{BASE}{opened['id']}/events/",
        {"events": [make_event(1, found_in_dom=False)]},
        format="json",
    )
    body = ingest_client.post(f"{BASE}{opened['id']}/close/").json()
    assert body["state"] == "rejected"
    assert "below the workspace minimum" in body["rejection_reason"]
    assert "without a screenshot" in body["rejection_reason"]


def test_the_command_prints_a_token_once_and_stores_only_its_hash(workspace, capsys) -> None:
    call_command("capture_token", workspace.slug, "Jane")
    plain = capsys.readouterr().out.strip()
    token = IngestToken.objects.get()
    assert token.token_hash == ingest_token_hash(plain)
    assert plain not in repr(list(IngestToken.objects.values()))


def test_the_schema_lists_the_capture_endpoints(workspace, api_client_for) -> None:
    # The schema is for signed-in people only.
    response = api_client_for(workspace).get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    schema = response.json()
    for path in ("", "{id}/", "{id}/events/", "{id}/screenshots/", "{id}/close/"):
        assert f"{BASE}{path}" in schema["paths"], path
    assert "captureIngestToken" in schema["components"]["securitySchemes"]


def _worst_case_event(sequence: int, over_the_caps: bool = False) -> dict:
    """Every capped string of an event filled with text the old patterns backtracked on."""

    def text(n: int, shape: str) -> str:
        if over_the_caps:
            n *= 3
        unit = {"email": "a", "pct": "%40", "ipv6": "-a", "phone": "1" * 35 + " "}[shape]
        return f"{sequence} " + (unit * n)[:n] + ("@!" if shape == "email" else "::x")

    event = make_event(sequence, kind="input")
    event.update(
        url="http://x.test/?" + text(8000, "pct"),
        title=text(950, "email"),
        value=text(9900, "email") + " jane@example.com",
    )
    target = event["target"]
    target.update(
        text=text(950, "ipv6"),
        name=text(950, "phone"),
        dom_snippet=text(8000, "ipv6"),
        attributes={"href": text(1900, "pct"), "title": text(1900, "email")},
    )
    target["selectors"][0]["value"] = text(1900, "email")
    target["nearby"] = [{"tag": "a", "text": text(950, "pct"), "name": text(950, "phone")}]
    return event


def test_a_batch_of_worst_case_strings_is_answered_at_once(ingest_client: APIClient) -> None:
    # 20 events within the caps and 5 over them, every string of each built to
    # make the old patterns backtrack (1.3 MB in all): that took far more than
    # ten minutes; now about 0.3 s. The budget leaves room for a loaded machine.
    opened = _open(ingest_client)
    events = [_worst_case_event(i) for i in range(20)]
    events += [_worst_case_event(i, over_the_caps=True) for i in range(20, 25)]
    started = time.perf_counter()
    response = ingest_client.post(
        f"{BASE}{opened['id']}/events/", {"events": events}, format="json"
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["added"] == 20
    assert [e["index"] for e in body["errors"]] == list(range(20, 25))
    assert set(body["errors"][0]["errors"]) == {"url", "title", "value", "target"}
    assert elapsed < 3.0
    row = Interaction.objects.get(session_id=opened["id"], sequence=3)
    assert row.value.endswith("a@! [EMAIL]") and "jane" not in row.value


def test_a_full_session_is_a_409(ingest_client: APIClient, settings) -> None:
    settings.CAPTURE_MAX_EVENTS_PER_SESSION = 3
    opened = _open(ingest_client)
    url = f"{BASE}{opened['id']}/events/"
    assert ingest_client.post(url, {"events": [make_event(1)]}, format="json").status_code == 200
    response = ingest_client.post(
        url, {"events": [make_event(i) for i in range(1, 5)]}, format="json"
    )
    assert response.status_code == 409
    assert "may hold at most 3" in response.json()["detail"]


def test_a_screenshot_body_declared_too_large_is_a_413_before_it_is_read(
    ingest_client: APIClient, settings, monkeypatch
) -> None:
    settings.CAPTURE_MAX_SCREENSHOT_BYTES = 10_000
    opened = _open(ingest_client)
    parsed: list[bool] = []
    parse = MultiPartParser.parse

    def spy(self: MultiPartParser, *args: object, **kwargs: object) -> object:
        parsed.append(True)
        return parse(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(MultiPartParser, "parse", spy)
    image = io.BytesIO(png_bytes()[:8] + b"\x00" * 200_000)
    image.name = "big.png"
    response = ingest_client.post(
        f"{BASE}{opened['id']}/screenshots/", {"image": image}, format="multipart"
    )
    assert response.status_code == 413
    assert "at most 10000 bytes" in response.json()["image"][0]
    assert parsed == []


def test_an_image_over_the_limit_is_refused_before_it_is_read(
    ingest_client: APIClient, settings, monkeypatch
) -> None:
    # Within the body's allowance for the form around it, but over the image limit.
    settings.CAPTURE_MAX_SCREENSHOT_BYTES = 10_000
    opened = _open(ingest_client)
    handed_over: list[object] = []
    monkeypatch.setattr(
        "capture.api.views.session_screenshot_add", lambda **kwargs: handed_over.append(kwargs)
    )
    image = io.BytesIO(png_bytes()[:8] + b"\x00" * 30_000)
    image.name = "big.png"
    response = ingest_client.post(
        f"{BASE}{opened['id']}/screenshots/", {"image": image}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json() == {"image": ["The image is 30008 bytes; the limit is 10000."]}
    assert handed_over == []


def test_an_ingest_token_reads_no_session_not_even_its_own(ingest_client: APIClient) -> None:
    opened = _open(ingest_client)
    assert ingest_client.get(f"{BASE}{opened['id']}/").status_code == 404
    listed = ingest_client.get(BASE)
    assert listed.status_code == 200
    assert listed.json()["count"] == 0


def test_an_ingest_token_writes_only_to_the_sessions_it_opened(
    ingest_client: APIClient, workspace, api_client_for: Callable
) -> None:
    # Same workspace: a publish run's session, a member's, another token's.
    publish_run = session_open(workspace=workspace, kind=CapturedSession.Kind.AUTOMATED)
    members = _open(api_client_for(workspace))["id"]
    _, plain = ingest_token_create(workspace=workspace, name="Another browser")
    other_token = APIClient()
    other_token.credentials(HTTP_AUTHORIZATION=f"Capture {plain}")
    others = _open(other_token)["id"]
    for session_id in (str(publish_run.pk), members, others):
        image = io.BytesIO(png_bytes())
        image.name = "shot.png"
        writes = [
            ingest_client.post(
                f"{BASE}{session_id}/events/", {"events": [make_event(1)]}, format="json"
            ),
            ingest_client.post(
                f"{BASE}{session_id}/screenshots/", {"image": image}, format="multipart"
            ),
            ingest_client.post(f"{BASE}{session_id}/close/"),
        ]
        # As if the session did not exist, so ids cannot be probed.
        for response in writes:
            assert response.status_code == 404, (session_id, response.content)
            assert response.json() == {"detail": "No such captured session in your workspaces."}
    assert not Interaction.objects.exists()
    assert set(CapturedSession.objects.values_list("state", flat=True)) == {"recording"}
    # Its own session takes its writes.
    own = _open(ingest_client)["id"]
    response = ingest_client.post(
        f"{BASE}{own}/events/", {"events": [make_event(1)]}, format="json"
    )
    assert response.json()["added"] == 1
    assert ingest_client.post(f"{BASE}{own}/close/").status_code == 200


def test_members_still_read_and_write_sessions_an_ingest_token_opened(
    ingest_client: APIClient, workspace, api_client_for: Callable
) -> None:
    opened = _open(ingest_client)["id"]
    member = api_client_for(workspace)
    assert member.get(f"{BASE}{opened}/").status_code == 200
    assert [s["id"] for s in member.get(BASE).json()["results"]] == [opened]
    response = member.post(f"{BASE}{opened}/events/", {"events": [make_event(1)]}, format="json")
    assert response.json()["added"] == 1
