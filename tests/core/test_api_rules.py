"""What the API's contract test (tests/config/test_api_contract.py) found, each pinned down."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Account, Workspace
from tests.factories import MakeClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(workspace: Workspace, api_client_for: MakeClient) -> dict[str, Any]:
    response = api_client_for(workspace).get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    return response.json()


def test_every_operation_documents_the_errors_it_can_answer(schema: dict[str, Any]) -> None:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert {"401", "403", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= codes, (method, path)


def test_a_url_that_may_be_blank_is_documented_so(schema: dict[str, Any]) -> None:
    platform_url = schema["components"]["schemas"]["PostOutput"]["properties"]["platform_url"]
    assert platform_url["anyOf"] == [{"format": "uri"}, {"maxLength": 0}]


def test_an_unknown_url_under_the_api_is_a_json_404(
    account: Account, api_client_for: MakeClient
) -> None:
    response = api_client_for(account.workspace).post("/api/v1/accounts/0.5/pause/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_workspace_filter_of_no_workspace_of_yours_lists_nothing(
    account: Account, their_account: Account, api_client_for: MakeClient
) -> None:
    client = api_client_for(account.workspace)
    for path in ("/api/v1/posts/", "/api/v1/accounts/", "/api/v1/training/exports/"):
        response = client.get(path, {"workspace": their_account.workspace_id})
        assert response.status_code == 200, path
        assert response.json()["results"] == [], path


def test_a_filter_named_format_filters_and_picks_no_renderer(
    workspace: Workspace, api_client_for: MakeClient
) -> None:
    response = api_client_for(workspace).get("/api/v1/training/exports/?format=messages")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "query", ["account=", "status=", "created_at_after=", "workspace=&kind=text"]
)
def test_a_filter_given_without_a_value_is_refused(
    account: Account, api_client_for: MakeClient, query: str
) -> None:
    response = api_client_for(account.workspace).get(f"/api/v1/posts/?{query}")

    assert response.status_code == 400
    name = query.split("=")[0]
    assert response.json()[name] == ["Give a value, or leave the parameter out."]


def test_the_queue_refuses_an_empty_workspace(account: Account, api_client_for: MakeClient) -> None:
    assert api_client_for(account.workspace).get("/api/v1/queue/?workspace=").status_code == 400


def test_a_bulk_body_that_is_no_json_is_answered_in_the_bulk_shape(
    account: Account, api_client_for: MakeClient
) -> None:
    response = api_client_for(account.workspace).post(
        "/api/v1/posts/bulk/", "\x00", content_type="application/json"
    )

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["row"] is None
    assert error["errors"]["non_field_errors"][0].startswith("JSON parse error")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": 159}, "title"),
        ({"title": "   " + "x" * 199}, "title"),
        ({"title": "A post", "caption": 7}, "caption"),
    ],
)
def test_a_post_body_must_have_the_types_and_lengths_the_schema_states(
    account: Account, api_client_for: MakeClient, payload: dict[str, Any], field: str
) -> None:
    response = api_client_for(account.workspace).post(
        "/api/v1/posts/", {"account": account.pk, **payload}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()


def test_an_exports_min_quality_is_a_number_not_a_boolean(
    workspace: Workspace, api_client_for: MakeClient
) -> None:
    response = api_client_for(workspace).post(
        "/api/v1/training/exports/", {"min_quality": True}, format="json"
    )
    assert response.status_code == 400
    assert "min_quality" in response.json()
