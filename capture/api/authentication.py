"""`Authorization: Capture <token>`: how the browser extension authenticates.

The token belongs to one workspace, not to a person, so the caller is an
IngestCaller that may open captured sessions in that workspace and write
(events, screenshots, close) to the sessions it opened itself; it reads
none (capture/api/views.py).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.models import Membership
from capture.models import IngestToken
from capture.selectors import ingest_token_get_active
from capture.services import ingest_token_touch

KEYWORD = "Capture"


class IngestCaller:
    """The request.user of a token call: authenticated, in exactly one workspace."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: IngestToken) -> None:
        self.token = token
        self.workspace_id = token.workspace_id
        # Read by `caller_roles`: it may write in its workspace. Only the capture
        # views accept this authentication, and they let it write only to the
        # sessions it opened and read none.
        self.workspace_roles = {token.workspace_id: Membership.Role.OPERATOR}

    def __str__(self) -> str:
        return f"ingest token {self.token.name}"


class IngestTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[IngestCaller, IngestToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Send `Authorization: Capture <token>`."))
        try:
            plain = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        token = ingest_token_get_active(token=plain)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        ingest_token_touch(token=token)
        return IngestCaller(token), token

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class IngestTokenScheme(OpenApiAuthenticationExtension):
    target_class = "capture.api.authentication.IngestTokenAuthentication"
    name = "captureIngestToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An ingest token of one workspace, sent as `Capture <token>`.",
        }
