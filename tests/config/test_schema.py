from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_the_schema_describes_the_api() -> None:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

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
