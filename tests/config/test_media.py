"""Stored files answer at their URLs, for members of their workspace only, with DEBUG off."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from accounts.models import Account, Membership, Workspace
from capture.models import CapturedSession
from capture.services import session_open, session_screenshot_add
from tests.factories import MakeClient, console_client, make_superuser, make_user, png_bytes
from training.models import Export

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(media_in_tmp: Path, settings: Settings) -> None:
    assert not settings.DEBUG  # as deployed: nothing else serves these files


def _console_for(workspace: Workspace | None, *, superuser: bool = False) -> Client:
    if superuser:
        return console_client(make_superuser())
    staff = make_user(workspace, Membership.Role.VIEWER, is_staff=True)
    return console_client(staff)


def _body(response: object) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_a_posts_media_url_from_the_api_downloads_with_the_same_token(
    account: Account, make_workspace: Callable[..., Workspace], api_client_for: MakeClient
) -> None:
    client = api_client_for(account.workspace)
    image = SimpleUploadedFile("cat.png", png_bytes(), content_type="image/png")
    created = client.post(
        "/api/v1/posts/",
        {"account": account.pk, "kind": "image", "title": "A cat", "media": image},
        format="multipart",
    )
    assert created.status_code == 201, created.content
    url = created.json()["media"]

    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert not response["Content-Disposition"].startswith("attachment")
    assert _body(response) == png_bytes()

    stranger = api_client_for(make_workspace(slug="elsewhere"))
    assert stranger.get(url).status_code == 404
    assert APIClient().get(url).status_code in (401, 403)


def test_an_exports_download_link_in_the_console_works_for_members_only(
    workspace: Workspace, make_workspace: Callable[..., Workspace]
) -> None:
    export = Export.objects.create(workspace=workspace, state=Export.State.READY)
    lines = b'{"messages": []}\n'
    export.train_file.save("train.jsonl", ContentFile(lines))

    member = _console_for(workspace)
    page = member.get(reverse("admin:training_export_changelist")).content.decode()
    (link,) = re.findall(r'href="([^"]+\.jsonl)" download', page)
    response = member.get(link)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert _body(response) == lines

    assert _console_for(make_workspace(slug="other")).get(link).status_code == 404
    assert _console_for(None, superuser=True).get(link).status_code == 200


def test_a_screenshot_shows_inline_to_members(workspace: Workspace) -> None:
    session = session_open(workspace=workspace, kind=CapturedSession.Kind.HUMAN)
    shot = session_screenshot_add(session=session, image_bytes=png_bytes())
    response = _console_for(workspace).get(shot.image.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert _body(response) == shot.image.open("rb").read()


@pytest.mark.parametrize(
    "name", ["posts/none.png", "../settings.py", "posts/../../secret", "%2e%2e/x", ""]
)
def test_unknown_names_and_escapes_are_404(workspace: Workspace, name: str) -> None:
    assert _console_for(None, superuser=True).get(f"/media/{name}").status_code == 404


def _stored_as_post_media(account: Account, name: str, content: bytes) -> str:
    """A file held by a post row, as if it had reached storage some other way."""
    from django.core.files.storage import default_storage

    from tests.factories import make_post
    from uploads.models import Post

    stored = default_storage.save(name, ContentFile(content))
    Post.objects.filter(pk=make_post(account).pk).update(media=stored)
    return stored


@pytest.mark.parametrize(
    "name",
    ["posts/drawing.svg", "posts/page.html", "posts/notes.txt", "posts/data.json"],
)
def test_only_images_and_videos_of_known_types_show_inline(
    account: Account, api_client_for: MakeClient, name: str
) -> None:
    stored = _stored_as_post_media(account, name, b"<svg onload='alert(1)'></svg>")

    response = api_client_for(account.workspace).get(f"/media/{stored}")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["Cache-Control"] == "private"


def test_an_inline_image_is_sandboxed_and_kept_from_shared_caches(
    account: Account, api_client_for: MakeClient
) -> None:
    stored = _stored_as_post_media(account, "posts/cat.png", png_bytes())

    response = api_client_for(account.workspace).get(f"/media/{stored}")

    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["Cache-Control"] == "private"
