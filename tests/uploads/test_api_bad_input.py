"""Bad input through the posts API: a clear error naming the field or row, and nothing saved."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from accounts.models import Account
from tests.factories import MakeClient, png_bytes
from uploads.models import Post
from uploads.publishers import get_publisher

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_in_tmp")]

POSTS = "/api/v1/posts/"
BULK = "/api/v1/posts/bulk/"
NO_SUCH_ACCOUNT = "No such account in this workspace."


MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
WEBM_HEAD = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01"


def stored_media() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def nothing_saved() -> Iterator[None]:
    """The test's bad request must leave no post row and no stored file behind."""
    posts, files = Post.objects.count(), len(stored_media())
    yield
    assert Post.objects.count() == posts
    assert len(stored_media()) == files


@pytest.fixture
def client(account: Account, api_client_for: MakeClient) -> APIClient:
    return api_client_for(account.workspace)


def upload(name: str, content: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def media_post(account: Account, kind: str, media: SimpleUploadedFile | None) -> dict[str, Any]:
    data: dict[str, Any] = {"account": account.pk, "kind": kind, "title": "With media"}
    if media is not None:
        data["media"] = media
    return data


def bomb_png() -> bytes:
    # Small on the wire, but more pixels than Pillow agrees to open.
    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- Media ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "media", "words"),
    [
        pytest.param("image", None, "needs a media file", id="image without media"),
        pytest.param("video", None, "needs a media file", id="video without media"),
        pytest.param(
            "image",
            lambda: upload("cat.jpg", b"just some text pretending to be a photo"),
            "is named .jpg but is not a readable image",
            id="a .jpg that is really text",
        ),
        pytest.param(
            "image",
            lambda: upload("cat.jpg", png_bytes(fmt="BMP")),
            "BMP image",
            id="a .jpg that is really a BMP",
        ),
        pytest.param(
            "image",
            lambda: upload("cat.png", bomb_png(), "image/png"),
            "too many pixels",
            id="a decompression bomb",
        ),
        pytest.param(
            "image",
            lambda: upload("clip.mp4", MP4_HEAD + b"\x00" * 64, "video/mp4"),
            "takes .gif, .jpeg, .jpg, .png, .webp files",
            id="a video as an image",
        ),
        pytest.param(
            "video",
            lambda: upload("clip.mp4", b"plain text, no ftyp box here", "video/mp4"),
            "is named .mp4 but is not an MP4, MOV or WebM video",
            id="an .mp4 that is really text",
        ),
        pytest.param(
            "video",
            lambda: upload("clip.webm", png_bytes(), "video/webm"),
            "not an MP4, MOV or WebM video",
            id="a .webm that is really a PNG",
        ),
        pytest.param(
            "video",
            lambda: upload("clip.txt", MP4_HEAD, "video/mp4"),
            "not '.txt'",
            id="a video with a wrong name",
        ),
        pytest.param(
            "text",
            lambda: upload("cat.png", png_bytes(), "image/png"),
            "takes no media file",
            id="a text post with a file",
        ),
        pytest.param(
            "image", lambda: upload("empty.png", b"", "image/png"), "empty", id="an empty file"
        ),
    ],
)
@pytest.mark.usefixtures("nothing_saved")
def test_bad_media_is_refused_naming_media(
    account: Account, client: APIClient, kind: str, media: Callable | None, words: str
) -> None:
    data = media_post(account, kind, media() if media else None)

    response = client.post(POSTS, data, format="multipart")

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["media"]
    assert words in response.json()["media"][0]


@pytest.mark.parametrize(
    ("kind", "name", "content"),
    [
        ("image", "cat.jpg", png_bytes(fmt="JPEG")),
        ("image", "cat.webp", png_bytes(fmt="WEBP")),
        ("image", "cat.gif", png_bytes(fmt="GIF")),
        # The name and the client's content type are not what is checked, the bytes are.
        ("image", "cat.jpg", png_bytes(fmt="PNG")),
        ("video", "clip.mp4", MP4_HEAD + b"\x00" * 256),
        ("video", "clip.mov", b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 256),
        ("video", "clip.webm", WEBM_HEAD + b"\x00" * 256),
    ],
)
def test_real_media_is_taken_by_its_bytes(
    account: Account, client: APIClient, kind: str, name: str, content: bytes
) -> None:
    media = upload(name, content, "application/octet-stream")

    response = client.post(POSTS, media_post(account, kind, media), format="multipart")

    assert response.status_code == 201, response.content
    post = Post.objects.get(pk=response.json()["id"])
    with post.media.open("rb") as stored:
        assert stored.read() == content


@pytest.mark.usefixtures("nothing_saved")
def test_a_file_over_the_media_limit_is_a_400_naming_media_and_the_limit(
    account: Account, client: APIClient, settings: Settings
) -> None:
    settings.FARM_MAX_MEDIA_BYTES = 1000
    settings.FARM_MAX_REQUEST_BYTES = 100_000  # within the request cap: the post's own rule speaks

    media = upload("big.png", b"\x89PNG" + b"\x00" * 4996, "image/png")
    response = client.post(POSTS, media_post(account, "image", media), format="multipart")

    assert response.status_code == 400, response.content
    assert response.json() == {"media": ["The file is 4.9 KB; the limit is 1000 bytes."]}


# --- Caption, time zone, account -------------------------------------------


@pytest.mark.usefixtures("nothing_saved")
def test_a_caption_over_the_platforms_maximum_names_caption_and_the_limit(
    account: Account, client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_publisher("sandbox"), "caption_max_length", 12)

    at_limit = client.post(
        POSTS, {"account": account.pk, "title": "t", "caption": "x" * 12}, format="json"
    )
    over = client.post(
        POSTS, {"account": account.pk, "title": "t", "caption": "x" * 13}, format="json"
    )

    assert at_limit.status_code == 201
    Post.objects.filter(pk=at_limit.json()["id"]).delete()
    assert over.status_code == 400
    assert over.json() == {"caption": ["The caption has 13 characters; Sandbox allows 12."]}


@pytest.mark.parametrize(
    "zone",
    [
        "Mars/Olympus",
        "America",  # a folder of the tz database, not a zone
        "Europe/",
        "posixrules",  # a file in the tz folder, not an IANA name
        "../../etc/passwd",
        "x" * 5000,
    ],
)
@pytest.mark.usefixtures("nothing_saved")
def test_an_unknown_time_zone_names_timezone(
    account: Account, client: APIClient, zone: str
) -> None:
    data = {
        "account": account.pk,
        "title": "t",
        "scheduled_for": "2030-01-15T09:00:00",
        "timezone": zone,
    }

    response = client.post(POSTS, data, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["timezone"]
    assert "is not a known IANA time zone" in response.json()["timezone"][0]


@pytest.mark.usefixtures("nothing_saved")
def test_unknown_and_foreign_accounts_get_the_same_answer(
    account: Account,
    their_account: Account,
    client: APIClient,
) -> None:
    answers = [
        client.post(POSTS, {"account": account_id, "title": "t"}, format="json")
        for account_id in (their_account.pk, their_account.pk + 1000, 10**30)
    ]

    assert [a.status_code for a in answers] == [400, 400, 400]
    assert [a.json() for a in answers] == [{"account": [NO_SUCH_ACCOUNT]}] * 3


# --- Bulk -------------------------------------------------------------------


@pytest.mark.usefixtures("nothing_saved")
def test_a_bulk_call_mixing_good_bad_and_malformed_rows_saves_nothing_and_lists_each(
    account: Account,
    their_account: Account,
    client: APIClient,
) -> None:
    def row(**fields: Any) -> dict[str, Any]:
        return {"account": account.pk, "title": "Fine", **fields}

    rows: list[Any] = [
        row(),  # 0: good
        "not an object",  # 1
        None,  # 2
        ["a", "list"],  # 3
        {"title": "No account"},  # 4
        row(account=their_account.pk),  # 5: another workspace's account
        row(account=their_account.pk + 1000),  # 6: no such account
        row(account=10**30),  # 7: past any key
        row(caption="x" * 2201),  # 8
        row(scheduled_for="2030-01-15T09:00:00", timezone="America"),  # 9
        row(priority="high"),  # 10
        row(title="", priority=42),  # 11: two rule errors in one row
        row(),  # 12: good
    ]

    response = client.post(BULK, {"posts": rows}, format="json")

    assert response.status_code == 400, response.content
    errors = {e["row"]: e["errors"] for e in response.json()["errors"]}
    assert sorted(errors) == list(range(1, 12))
    for index in (1, 2, 3):
        assert errors[index], index
    assert list(errors[4]) == ["account"]
    assert errors[5] == errors[6] == errors[7] == {"account": [NO_SUCH_ACCOUNT]}
    assert "2200" in errors[8]["caption"][0]
    assert list(errors[9]) == ["timezone"]
    assert list(errors[10]) == ["priority"]
    assert set(errors[11]) == {"title", "priority"}


# --- Oversized requests -----------------------------------------------------


@pytest.mark.usefixtures("nothing_saved")
def test_a_json_body_over_the_limit_answers_413_naming_the_limit(
    account: Account, client: APIClient, settings: Settings
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048

    single = client.post(
        POSTS, {"account": account.pk, "title": "t", "caption": "x" * 3000}, format="json"
    )
    bulk = client.post(
        BULK,
        {"posts": [{"account": account.pk, "title": f"Post {n}"} for n in range(100)]},
        format="json",
    )

    for response in (single, bulk):
        assert response.status_code == 413
        assert response["Content-Type"] == "application/json"
        assert "the limit is 2 KB" in response.json()["detail"]


@pytest.mark.usefixtures("nothing_saved")
def test_an_upload_over_the_request_cap_answers_413_naming_the_limits(
    account: Account, client: APIClient, settings: Settings
) -> None:
    settings.FARM_MAX_MEDIA_BYTES = 8 * 1024
    settings.FARM_MAX_REQUEST_BYTES = 10 * 1024

    media = upload("huge.png", png_bytes() + b"\x00" * 20_000, "image/png")
    response = client.post(POSTS, media_post(account, "image", media), format="multipart")

    assert response.status_code == 413
    detail = response.json()["detail"]
    assert "at most 10 KB in all" in detail
    assert "media file at most 8 KB" in detail


@pytest.mark.usefixtures("nothing_saved")
def test_form_fields_over_the_limit_in_an_upload_answer_413(
    account: Account, client: APIClient, settings: Settings
) -> None:
    # The body is within the request cap, but its non-file fields are not:
    # Django notices while reading the form.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    data = {**media_post(account, "image", upload("cat.png", png_bytes())), "caption": "x" * 4000}

    response = client.post(POSTS, data, format="multipart")

    assert response.status_code == 413
    assert "1 KB" in response.json()["detail"]


def test_the_size_limits_leave_other_pages_alone(client: APIClient, settings: Settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = client.post(
        "/sandbox/login/", {"handle": "x" * 4000, "password": "pw"}, format="multipart"
    )

    assert response.status_code == 400  # Django's own answer, as before


# --- Query parameters --------------------------------------------------------


def test_an_id_filter_past_any_key_is_a_400_not_a_crash(client: APIClient) -> None:
    response = client.get(POSTS, {"account": 10**30})

    assert response.status_code == 400
    assert "account" in response.json()
