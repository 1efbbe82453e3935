"""The sandbox's own login session: a signed cookie, apart from Django's session.

The admin runs on the same host, so the sandbox must not touch Django's
session. The cookie holds the handle and the session epoch it was issued
under; bumping the account's epoch invalidates every cookie at once.
"""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest, HttpResponse

from sandbox.models import SandboxAccount
from sandbox.selectors import sandbox_account_get

COOKIE_NAME = "sandbox_session"
SALT = "sandbox.session"
MAX_AGE_SECONDS = 30 * 24 * 3600


def session_token(*, account: SandboxAccount) -> str:
    return signing.dumps({"handle": account.handle, "epoch": account.session_epoch}, salt=SALT)


def session_account(*, token: str | None) -> SandboxAccount | None:
    """The account a cookie value signs in, or None if it is missing, forged, old or revoked."""
    if not token:
        return None
    try:
        payload = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
        handle, epoch = payload["handle"], payload["epoch"]
    except (signing.BadSignature, KeyError, TypeError):
        return None
    account = sandbox_account_get(handle=handle)
    if account is None or account.session_epoch != epoch:
        return None
    return account


def session_from_request(request: HttpRequest) -> SandboxAccount | None:
    return session_account(token=request.COOKIES.get(COOKIE_NAME))


def session_start(response: HttpResponse, *, request: HttpRequest, account: SandboxAccount) -> None:
    response.set_cookie(
        COOKIE_NAME,
        session_token(account=account),
        max_age=MAX_AGE_SECONDS,
        # Path "/" so a browser's saved cookies restore without path surprises.
        path="/",
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


def session_end(response: HttpResponse) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", samesite="Lax")
