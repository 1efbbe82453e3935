"""Screenshots: PNG or JPEG in, WebP stored with its size and SHA-256."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import Image

from capture.models import Interaction
from capture.services import session_events_append, session_screenshot_add
from core.errors import ServiceError
from tests.factories import make_event, png_bytes


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_png_and_jpeg_are_stored_as_webp(make_session: Callable, fmt: str) -> None:
    session = make_session()
    shot = session_screenshot_add(
        session=session, image_bytes=png_bytes(64, 48, fmt=fmt), sequence=3
    )
    shot.refresh_from_db()
    data = shot.image.read()
    assert Image.open(io.BytesIO(data)).format == "WEBP"
    assert (shot.width, shot.height, shot.size_bytes) == (64, 48, len(data))
    assert shot.sha256 == hashlib.sha256(data).hexdigest()
    assert shot.image.name is not None
    assert shot.image.name.endswith(".webp")


def test_a_screenshot_links_to_its_interaction_either_way_round(make_session: Callable) -> None:
    session = make_session()
    session_events_append(session=session, events=[make_event(1)])
    first = session_screenshot_add(session=session, image_bytes=png_bytes(), sequence=1)
    second = session_screenshot_add(session=session, image_bytes=png_bytes(), sequence=2)
    session_events_append(session=session, events=[make_event(2)])
    links = dict(Interaction.objects.values_list("sequence", "screenshot_id"))
    assert links == {1: first.pk, 2: second.pk}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "PNG or JPEG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "PNG or JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "PNG or JPEG"),
    ],
)
def test_other_files_are_refused_with_a_clear_message(
    make_session: Callable, data: bytes, message: str
) -> None:
    with pytest.raises(ServiceError, match=message):
        session_screenshot_add(session=make_session(), image_bytes=data)


def test_a_webp_upload_is_refused(make_session: Callable) -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="WEBP")
    with pytest.raises(ServiceError, match="WEBP; send a PNG or a JPEG"):
        session_screenshot_add(session=make_session(), image_bytes=out.getvalue())


def test_the_recorders_own_webp_is_stored_as_it_came(make_session: Callable) -> None:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(out, format="WEBP")
    shot = session_screenshot_add(session=make_session(), image_bytes=out.getvalue(), webp_ok=True)
    assert shot.image.read() == out.getvalue()
    assert (shot.width, shot.height) == (40, 30)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares a huge canvas: a decompression bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_before_decoding(make_session: Callable) -> None:
    with pytest.raises(ServiceError, match="pixels"):
        session_screenshot_add(session=make_session(), image_bytes=_png_header_only(50_000, 50_000))
