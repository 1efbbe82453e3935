"""Tenant isolation in the API, walked from the API's router.

The same two workspaces as the console's walk (tests/core/test_console_isolation.py):
Acme (A) and B, every name of B's carrying a mark. A member of A with each role,
signed in by API key, calls every route of the router: each list (also filtered
to B's workspace), the detail of B's object, every action on B's object and
every action of the list with B's ids in the body, each create naming B's
workspace or B's account, the queue status of B, and B's stored files. Nothing
of B may show, and nothing of B (nor of the farm) may change.

A route added later fails `test_every_route_is_walked` until this walk knows
which object of B its detail pages take.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db.models import Model
from rest_framework.test import APIClient

from accounts.models import Account
from capture.models import CapturedSession, Screenshot
from config.api import router
from core.tenancy import Role
from tests.core.test_console_isolation import MARK, Tenants, snapshot, tenants
from tests.factories import make_user, token_client
from training.models import Export
from uploads.models import Post, PostAttempt, PostStatus

pytestmark = pytest.mark.django_db

__all__ = ["tenants"]  # the fixture, shared with the console's walk

API = "/api/v1"
ROLES = (Role.OWNER, Role.OPERATOR, Role.VIEWER)
# The model whose rows each route's detail pages name.
DETAIL_MODELS: dict[str, type[Model]] = {
    "account": Account,
    "post": Post,
    "captured-session": CapturedSession,
    "training-export": Export,
}
NOT_SHOWN = (400, 403, 404, 405)


def _b_object(basename: str, tenants: Tenants) -> Model:
    model = DETAIL_MODELS[basename]
    obj = model._default_manager.filter(workspace=tenants.b).order_by("pk").first()
    assert obj is not None, f"B should hold a {model.__name__}"
    return obj


def _assert_clean(response: Any, where: str) -> None:
    assert MARK not in response.content.decode(errors="replace"), f"{where} shows B: {MARK}"


def _ids_in(response: Any) -> set[str]:
    body = response.json()
    rows = body.get("results", body) if isinstance(body, dict) else body
    return {str(row.get("id")) for row in rows if isinstance(row, dict)}


def _member(tenants: Tenants, role: str) -> APIClient:
    return token_client(make_user(tenants.a, role))


def test_every_route_is_walked() -> None:
    assert {basename for _, _, basename in router.registry} == set(DETAIL_MODELS)


@pytest.mark.parametrize("role", ROLES)
def test_no_route_shows_or_changes_anything_of_another_workspace(
    tenants: Tenants, role: str
) -> None:
    client = _member(tenants, role)
    before = snapshot(tenants)

    for prefix, viewset, basename in router.registry:
        b_object = _b_object(basename, tenants)
        b_id = str(b_object.pk)
        collection = f"{API}/{prefix}/"
        for query in ("", f"?workspace={tenants.b.pk}", f"?search={MARK}"):
            response = client.get(collection + query)
            assert response.status_code in (200, 400), (collection + query, response.content)
            _assert_clean(response, collection + query)
            if response.status_code == 200:
                assert b_id not in _ids_in(response), collection + query

        detail = f"{collection}{b_id}/"
        response = client.get(detail)
        assert response.status_code == 404, (detail, response.status_code)
        _assert_clean(response, detail)

        for action in viewset.get_extra_actions():
            # @action marks the view function with these (the stubs do not know them).
            mapping: dict[str, str] = getattr(action, "mapping")  # noqa: B009
            url_path: str = getattr(action, "url_path")  # noqa: B009
            for method in mapping:
                if getattr(action, "detail"):  # noqa: B009
                    url = f"{detail}{url_path}/"
                    response = getattr(client, method)(url, {}, format="json")
                    assert response.status_code in NOT_SHOWN, (method, url, response.status_code)
                else:
                    url = f"{collection}{url_path}/"
                    body = {"ids": [b_object.pk], "workspace": tenants.b.pk, "posts": []}
                    response = getattr(client, method)(url, body, format="json")
                    assert response.status_code in (200, *NOT_SHOWN), (method, url)
                _assert_clean(response, f"{method.upper()} {url}")

        # A create that names B's workspace, or an account of B's in A.
        b_account = Account.objects.filter(workspace=tenants.b).first()
        assert b_account is not None
        for body in (
            {"workspace": tenants.b.pk, "title": "x", "kind": "human", "account": b_account.pk},
            {"workspace": tenants.a.pk, "title": "x", "kind": "human", "account": b_account.pk},
        ):
            response = client.post(collection, body, format="json")
            _assert_clean(response, f"POST {collection}")
            if response.status_code == 201:  # a create that takes no account, made in A
                made = response.json()
                assert made["workspace"] == tenants.a.pk == body["workspace"], made
                assert made.get("account") in (None, ""), made
            else:
                assert response.status_code in NOT_SHOWN, (collection, body, response.content)

    # Dead letters of B's named to be requeued stay dead.
    b_post = Post.objects.filter(workspace=tenants.b).first()
    assert b_post is not None
    Post.objects.filter(pk=b_post.pk).update(status=PostStatus.DEAD)
    response = client.post(f"{API}/posts/dead/requeue/", {"ids": [b_post.pk]}, format="json")
    assert response.status_code in (200, 403)
    b_post.refresh_from_db()
    assert b_post.status == PostStatus.DEAD
    Post.objects.filter(pk=b_post.pk).update(status=PostStatus.FAILED)

    # The queue status of B's workspace is that of no workspace.
    of_b = client.get(f"{API}/queue/?workspace={tenants.b.pk}")
    of_none = client.get(f"{API}/queue/?workspace=999999999")
    assert of_b.status_code == of_none.status_code == 200
    assert json.loads(of_b.content) == json.loads(of_none.content)

    # B's stored files are not found.
    b_files = [
        *(a.screenshot.name for a in PostAttempt.objects.filter(post__workspace=tenants.b)),
        *(s.image.name for s in Screenshot.objects.filter(session__workspace=tenants.b)),
        *(e.train_file.name for e in Export.objects.filter(workspace=tenants.b)),
    ]
    assert all(b_files) and len(b_files) == 3
    for name in b_files:
        assert client.get(f"/media/{name}").status_code == 404, name

    assert snapshot(tenants) == before
