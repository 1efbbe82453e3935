"""The ingest API: token and integrator auth, batches, screenshots, close, scoping."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import Membership
from capture.models import CapturedSession, IngestToken, Interaction
from capture.services import ingest_token_create, ingest_token_hash, ingest_token_revoke
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
