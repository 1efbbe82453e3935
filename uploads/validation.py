"""Checks a post must pass before it is saved; each error names its field."""

from __future__ import annotations

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
VIDEO_EXTENSIONS = {".mp4", ".mov", ".m4v", ".webm"}


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
        limit_mb = settings.FARM_MAX_MEDIA_BYTES // (1024 * 1024)
        return [f"The file is {media.size} bytes; the limit is {limit_mb} MB."]
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
                    image.verify()
            except (UnidentifiedImageError, OSError, SyntaxError):
                return ["The file is not a readable image."]
        elif not _looks_like_video(media.read(16)):
            return ["The file is not an MP4, MOV or WebM video."]
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
    if schedule_timezone:
        try:
            zoneinfo.ZoneInfo(schedule_timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = [f"{schedule_timezone!r} is not a known IANA time zone."]
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
