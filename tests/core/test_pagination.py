"""API lists page at most FARM_API_MAX_PAGE_SIZE rows, and take `limit` and `offset` as
the schema states them: whole numbers in range, else a 400 naming them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Account
from tests.factories import MakeClient
from uploads.models import Post, PostAttempt, PostStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_letters(account: Account) -> int:
    """501 dead posts, each with an attempt inline in the dead-letter list."""
    posts = Post.objects.bulk_create(
        Post(
            workspace=account.workspace,
            account=account,
            title=f"Dead {n}",
            status=PostStatus.DEAD,
            attempts_count=1,
        )
        for n in range(501)
    )
    PostAttempt.objects.bulk_create(
        PostAttempt(post=post, account=account, number=1) for post in posts
    )
    return len(posts)


def test_a_huge_limit_gets_the_largest_page(
    account: Account, dead_letters: int, api_client_for: MakeClient
) -> None:
    client = api_client_for(account.workspace)

    page = client.get("/api/v1/posts/dead/?limit=10000000").json()

    assert page["count"] == dead_letters
    assert len(page["results"]) == 500
    assert "limit=500" in page["next"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=1.5", "limit"),
        ("limit=0", "limit"),
        ("limit=-3", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("offset=0.5", "offset"),
        (f"offset={2**63}", "offset"),
    ],
)
def test_a_limit_or_offset_that_is_no_whole_number_in_range_is_refused(
    account: Account, api_client_for: MakeClient, query: str, field: str
) -> None:
    response = api_client_for(account.workspace).get(f"/api/v1/posts/?{query}")

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_the_schema_states_the_ranges(account: Account, api_client_for: MakeClient) -> None:
    client: APIClient = api_client_for(account.workspace)
    schema = client.get("/api/schema/?format=json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/posts/dead/"]["get"]["parameters"]}

    assert parameters["limit"]["schema"]["minimum"] == 1
    assert "500" in parameters["limit"]["description"]
    assert parameters["offset"]["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
