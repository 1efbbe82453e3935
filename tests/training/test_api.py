"""Training-data exports over the API: started, watched, downloaded, re-run."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership, Workspace
from capture.models import CapturedSession
from tests.factories import MESSAGES_PER_UPLOAD, MakeClient
from tests.training.conftest import SentBuilds
from training.models import Export
from training.services import export_create
from training.tasks import build_export

pytestmark = pytest.mark.django_db

EXPORTS = "/api/v1/training/exports/"


def _download(client: APIClient, url: str) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200, url
    assert isinstance(response, StreamingHttpResponse)
    return [json.loads(line) for line in response.getvalue().splitlines()]


def test_an_integrator_starts_an_export_watches_it_and_downloads_it(
    workspace: Workspace,
    record: Callable[..., CapturedSession],
    api_client_for: MakeClient,
    sent_builds: SentBuilds,
) -> None:
    for _ in range(12):
        record()
    client = api_client_for(workspace)
    with sent_builds.committing():
        response = client.post(
            EXPORTS,
            {"format": "messages", "kinds": ["human"], "validation_share": 0.25},
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "pending" and body["progress_percent"] == 0
    assert sent_builds == [body["id"]]  # the worker's message, sent once the export is saved

    build_export(body["id"])  # what the worker does with it
    body = client.get(f"{EXPORTS}{body['id']}/").json()
    assert body["state"] == "ready", body["errors"]
    assert body["progress_percent"] == 100
    assert body["sessions_count"] == 12
    assert body["examples_count"] == 12 * MESSAGES_PER_UPLOAD
    train = _download(client, body["train_file"])
    validation = _download(client, body["validation_file"])
    assert (len(train), len(validation)) == (body["train_count"], body["validation_count"])
    assert client.get(EXPORTS, {"state": "ready"}).json()["count"] == 1
    assert client.get(EXPORTS, {"state": "failed"}).json()["count"] == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"format": "csv"}, "format"),
        ({"kinds": ["robot"]}, "kinds"),
        ({"kinds": "human"}, "kinds"),
        ({"validation_share": 0.9}, "validation_share"),
        ({"min_quality": 2}, "min_quality"),
        ({"started_from": "yesterday"}, "started_from"),
        (
            {"started_from": "2026-02-01T00:00:00Z", "started_until": "2026-01-01T00:00:00Z"},
            "started_until",
        ),
        ({"workspace": 99999}, "workspace"),
    ],
)
def test_bad_input_names_its_field_and_saves_nothing(
    workspace: Workspace, api_client_for: MakeClient, payload: dict, field: str
) -> None:
    response = api_client_for(workspace).post(EXPORTS, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Export.objects.exists()


def test_a_failed_export_says_why(
    workspace: Workspace, record: Callable[..., CapturedSession], api_client_for: MakeClient
) -> None:
    record()
    export = export_create(workspace=workspace, validation_share=0)
    build_export(export.pk)
    body = api_client_for(workspace).get(f"{EXPORTS}{export.pk}/").json()
    assert body["state"] == "failed"
    assert body["train_file"] is None
    assert any("at least 10" in error["message"] for error in body["errors"])


def test_viewers_read_strangers_see_nothing(
    workspace: Workspace, make_workspace: Callable[..., Workspace], api_client_for: MakeClient
) -> None:
    export = export_create(workspace=workspace)
    viewer = api_client_for(workspace, role=Membership.Role.VIEWER)
    assert viewer.get(f"{EXPORTS}{export.pk}/").status_code == 200
    assert viewer.post(EXPORTS, {}, format="json").status_code == 403
    assert viewer.post(f"{EXPORTS}{export.pk}/rerun/").status_code == 403

    stranger = api_client_for(make_workspace(slug="strangers"))
    assert stranger.get(EXPORTS).json()["count"] == 0
    assert stranger.get(f"{EXPORTS}{export.pk}/").status_code == 404
    assert stranger.post(f"{EXPORTS}{export.pk}/rerun/").status_code == 404


def test_rerun_starts_over_unless_a_run_is_alive(
    workspace: Workspace,
    record: Callable[..., CapturedSession],
    api_client_for: MakeClient,
    sent_builds: SentBuilds,
) -> None:
    for _ in range(2):
        record()
    export = export_create(workspace=workspace, validation_share=0)
    build_export(export.pk)
    client = api_client_for(workspace)
    with sent_builds.committing():
        response = client.post(f"{EXPORTS}{export.pk}/rerun/")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "pending"
    assert sent_builds == [export.pk]

    Export.objects.filter(pk=export.pk).update(
        state=Export.State.RUNNING, run_token=uuid.uuid4(), heartbeat_at=timezone.now()
    )
    with sent_builds.committing():
        response = client.post(f"{EXPORTS}{export.pk}/rerun/")
    assert response.status_code == 409
    assert sent_builds == [export.pk]
