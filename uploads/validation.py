"""Checks a post must pass before it is saved; each error names its field."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import datetime
from pathlib import PurePath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from accounts.models import Account, Workspace
from uploads.models import Post
from uploads.publishers import get_publisher

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".gif"}
# What Pillow finds in the bytes, whatever the name says: it reads many more
# formats (BMP, TIFF, ICO...) than the platforms take.
IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".m4v", ".webm"}


def human_bytes(size: int) -> str:
    """A byte count as people read it: "256 MB", "1.5 KB", "900 bytes"."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


@functools.cache
def known_time_zones() -> frozenset[str]:
    # The IANA names themselves: ZoneInfo() alone also opens stray files of the
    # tz folder ("posixrules") and raises OSError for a folder ("America").
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(name: str) -> bool:
    return name in known_time_zones()


def _looks_like_video(head: bytes) -> bool:
    # ISO media (mp4, mov) has an `ftyp` box at byte 4; WebM starts with EBML's magic.
    return head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3"


def _a(word: str) -> str:
    return "An" if word[:1] in "aeiou" else "A"


def media_errors(kind: str, media: UploadedFile | None) -> list[str]:
    if kind == Post.Kind.TEXT:
        return ["A text post takes no media file."] if media else []
    if not media:
        return [f"{_a(kind)} {kind} post needs a media file."]
    if media.size is not None and media.size > settings.FARM_MAX_MEDIA_BYTES:
        return [
            f"The file is {human_bytes(media.size)}; "
            f"the limit is {human_bytes(settings.FARM_MAX_MEDIA_BYTES)}."
        ]
    if media.size == 0:
        return ["The file is empty."]
    extension = PurePath(media.name or "").suffix.lower()
    allowed = IMAGE_EXTENSIONS if kind == Post.Kind.IMAGE else VIDEO_EXTENSIONS
    if extension not in allowed:
        return [
            f"{_a(kind)} {kind} post takes {', '.join(sorted(allowed))} files, "
            f"not {extension or 'a file without extension'!r}."
        ]
    media.seek(0)
    try:
        if kind == Post.Kind.IMAGE:
            try:
                with Image.open(media) as image:
                    found = image.format
                    image.verify()
            except Image.DecompressionBombError:
                return ["The image has too many pixels to be a photo."]
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
                return [f"The file is named {extension} but is not a readable image."]
            if found not in IMAGE_FORMATS:
                return [f"The file is a {found or 'strange'} image; send JPEG, PNG, WebP or GIF."]
        elif not _looks_like_video(media.read(16)):
            return [f"The file is named {extension} but is not an MP4, MOV or WebM video."]
    finally:
        media.seek(0)
    return []


def post_errors(
    *,
    workspace: Workspace,
    account: Account | None,
    kind: str,
    title: str,
    caption: str,
    media: UploadedFile | None = None,
    scheduled_for: datetime | None = None,
    schedule_timezone: str | None = None,
    priority: int = 5,
) -> dict[str, list[str]]:
    """Every problem with a would-be post, keyed by field; empty when it is good."""
    errors: dict[str, list[str]] = {}
    if account is None or account.workspace_id != workspace.pk:
        errors["account"] = ["No such account in this workspace."]
    if kind not in Post.Kind.values:
        errors["kind"] = [f"Unknown kind {kind!r}; use one of {', '.join(Post.Kind.values)}."]
    if not title or not title.strip():
        errors["title"] = ["A title is required."]
    elif len(title) > 200:
        errors["title"] = [f"The title has {len(title)} characters; the maximum is 200."]
    if not 1 <= priority <= 10:
        errors["priority"] = ["Priority runs from 1 (lowest) to 10 (highest)."]
    if account is not None and "account" not in errors:
        try:
            publisher = get_publisher(account.platform)
        except LookupError:
            errors["account"] = [
                f"The farm cannot publish to {account.get_platform_display()} yet."
            ]
        else:
            if len(caption or "") > publisher.caption_max_length:
                errors["caption"] = [
                    f"The caption has {len(caption)} characters; "
                    f"{account.get_platform_display()} allows {publisher.caption_max_length}."
                ]
    if schedule_timezone and not is_time_zone(schedule_timezone):
        errors["timezone"] = [
            f"{schedule_timezone[:100]!r} is not a known IANA time zone, such as Europe/Paris."
        ]
    if scheduled_for is not None and timezone.is_naive(scheduled_for) and not schedule_timezone:
        errors["scheduled_for"] = ["Give a time zone: an offset in the time, or `timezone`."]
    if kind in Post.Kind.values:
        problems = media_errors(kind, media)
        if problems:
            errors["media"] = problems
    return errors


def aware_schedule(scheduled_for: datetime | None, schedule_timezone: str | None) -> datetime:
    if scheduled_for is None:
        return timezone.now()
    if timezone.is_naive(scheduled_for):
        return scheduled_for.replace(tzinfo=zoneinfo.ZoneInfo(schedule_timezone or "UTC"))
    return scheduled_for
