from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Workspace
from tests.factories import MakeClient, console_client, make_user

pytestmark = pytest.mark.django_db


def test_the_schema_describes_the_api(workspace: Workspace, api_client_for: MakeClient) -> None:
    response = api_client_for(workspace).get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/accounts/",
        "/api/v1/accounts/{id}/pause/",
        "/api/v1/accounts/{id}/resume/",
        "/api/v1/posts/",
        "/api/v1/posts/bulk/",
        "/api/v1/posts/dead/",
        "/api/v1/posts/dead/requeue/",
        "/api/v1/posts/{id}/cancel/",
        "/api/v1/posts/{id}/requeue/",
        "/api/v1/queue/",
        "/api/v1/training/exports/",
        "/api/v1/training/exports/{id}/rerun/",
    ):
        assert path in paths, path
    assert "post" in paths["/api/v1/posts/bulk/"]
    # The dead letters are a list like the posts: paged, filtered, attempts inline.
    dead = paths["/api/v1/posts/dead/"]["get"]
    assert {"account", "limit", "offset"} <= {p["name"] for p in dead["parameters"]}
    assert dead["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedPostDetailOutputList"
    }


def test_the_schema_builds_without_warnings(tmp_path) -> None:
    # A warning means a part of the API the docs describe wrongly or vaguely.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))


def test_the_schema_and_the_docs_are_for_signed_in_people_only(
    workspace: Workspace, api_client_for: MakeClient
) -> None:
    assert APIClient().get("/api/schema/").status_code == 401
    docs = Client().get("/api/docs/")
    assert docs.status_code == 302
    assert docs["Location"] == "/admin/login/?next=/api/docs/"

    assert api_client_for(workspace).get("/api/schema/").status_code == 200
    assert console_client(make_user(workspace)).get("/api/schema/").status_code == 200


def test_swagger_ui_comes_from_the_farms_own_static_files(workspace: Workspace) -> None:
    page = console_client(make_user(workspace)).get("/api/docs/")

    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in assets
    for asset in assets:
        assert asset.startswith("/"), asset  # nothing from another host
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), asset
    assert "cdn" not in html.lower()
