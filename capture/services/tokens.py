"""Ingest tokens: what the browser extension sends; only their hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from accounts.models import Workspace
from capture.models import (
    IngestToken,
)

TOKEN_PREFIX = "cap_"


def ingest_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ingest_token_create(*, workspace: Workspace, name: str) -> tuple[IngestToken, str]:
    """A new token for the workspace; the plain token is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = IngestToken.objects.create(
        workspace=workspace, name=name, token_hash=ingest_token_hash(plain)
    )
    return token, plain


def ingest_token_revoke(*, token: IngestToken) -> bool:
    return (
        IngestToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        == 1
    )


def ingest_token_touch(*, token: IngestToken, every_seconds: int = 60) -> None:
    """Note the token's use, at most once a minute so ingest is not one write per request."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(seconds=every_seconds):
        IngestToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
