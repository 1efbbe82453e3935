"""API test helpers: posts in any state, real image bytes, stored media in a temp folder."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from accounts.models import Account
from uploads.models import Post
from uploads.services import post_create


def png_bytes(size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def make_post(db: None) -> Callable[..., Post]:
    """A text post made through the service, then put in whatever state the test needs."""

    def make(account: Account, status: str | None = None, **fields: Any) -> Post:
        post = post_create(
            workspace=account.workspace,
            account=account,
            title=str(fields.pop("title", "Hello")),
            caption=str(fields.pop("caption", "")),
        )
        if status is not None:
            fields["status"] = status
        if fields:
            Post.objects.filter(pk=post.pk).update(**fields)
            post.refresh_from_db()
        return post

    return make
