"""Screenshots of a session: checked by Pillow, stored as WebP with their SHA-256."""

from __future__ import annotations

import hashlib
import io
import warnings

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image

from capture.models import (
    CapturedSession,
    Interaction,
    Screenshot,
)
from capture.services.sessions import SessionNotRecording
from core.errors import ServiceError

ALLOWED_IMAGE_FORMATS = {"PNG", "JPEG"}


def screenshot_max_bytes() -> int:
    return int(getattr(settings, "CAPTURE_MAX_SCREENSHOT_BYTES", 20 * 1024 * 1024))


def screenshot_size_check(*, size: int) -> None:
    """Refuse an image by its size alone, so that one too large need not be read."""
    limit = screenshot_max_bytes()
    if size > limit:
        raise ServiceError(f"The image is {size} bytes; the limit is {limit}.", field="image")


def screenshot_to_webp(image_bytes: bytes, *, webp_ok: bool = False) -> tuple[bytes, int, int]:
    """PNG or JPEG in, WebP bytes and the size out; ServiceError naming the problem otherwise.

    `webp_ok` is for the farm's own recorder, whose browser already encodes
    its screenshots as WebP: they are checked and stored as they are.
    """
    max_pixels = getattr(settings, "CAPTURE_MAX_SCREENSHOT_PIXELS", 40_000_000)
    if not image_bytes:
        raise ServiceError("The image is empty.", field="image")
    screenshot_size_check(size=len(image_bytes))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(image_bytes))
            if image.format not in ALLOWED_IMAGE_FORMATS and not (
                webp_ok and image.format == "WEBP"
            ):
                raise ServiceError(
                    f"The image is {image.format or 'of an unknown format'}; send a PNG or a JPEG.",
                    field="image",
                )
            width, height = image.size
            # Checked before decoding: a small file can declare a huge canvas.
            if width * height > max_pixels:
                raise ServiceError(
                    f"The image is {width}x{height} pixels; at most {max_pixels} pixels "
                    "are accepted.",
                    field="image",
                )
            if image.format == "WEBP":
                return image_bytes, width, height
            image.load()
    except ServiceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ServiceError(
            f"The image is too large to decode safely: {exc}", field="image"
        ) from None
    except Exception as exc:  # Pillow raises many kinds for a broken file
        raise ServiceError(
            f"The image cannot be read as PNG or JPEG ({exc}).", field="image"
        ) from None
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert(
            "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
        )
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=80, method=4)
    return out.getvalue(), width, height


def session_screenshot_add(
    *,
    session: CapturedSession,
    image_bytes: bytes,
    sequence: int | None = None,
    webp_ok: bool = False,
) -> Screenshot:
    if session.state != CapturedSession.State.RECORDING:
        raise SessionNotRecording(session)
    if sequence is not None and (type(sequence) is not int or not 0 <= sequence < 2**31):
        raise ServiceError("sequence must be a non-negative integer.", field="sequence")
    webp, width, height = screenshot_to_webp(image_bytes, webp_ok=webp_ok)
    digest = hashlib.sha256(webp).hexdigest()
    name = f"{session.pk}-{sequence if sequence is not None else 'x'}-{digest[:12]}.webp"
    with transaction.atomic():
        shot = Screenshot(
            session=session,
            sequence=sequence,
            width=width,
            height=height,
            size_bytes=len(webp),
            sha256=digest,
        )
        shot.image.save(name, ContentFile(webp), save=False)
        shot.save()
        if sequence is not None:
            Interaction.objects.filter(
                session=session, sequence=sequence, screenshot__isnull=True
            ).update(screenshot=shot)
    return shot
