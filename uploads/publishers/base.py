"""What a publisher is, and the errors it raises to say what went wrong.

A publisher drives one platform's web UI (or official API). It raises one of
the errors below; the publish service maps each to a post state, so the
rules of the DESIGN's error table live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from accounts.models import Account
    from uploads.models import Post


class PublishError(Exception):
    """Base of every error a publisher raises on purpose."""

    error_kind: ClassVar[str] = "transient"


class TransientError(PublishError):
    """A timeout, a 5xx, an element not found: worth another try later."""

    error_kind = "transient"


class RateLimitedError(PublishError):
    """The platform said slow down, and maybe for how long."""

    error_kind = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class LoginRequiredError(PublishError):
    """Logged out, or a challenge only a person can answer."""

    error_kind = "login_required"


class ContentRejectedError(PublishError):
    """The platform refused the content; retrying cannot help."""

    error_kind = "rejected"


class OutcomeUnknownError(PublishError):
    """The post was submitted but what the platform did is not known.

    Never retried blindly: the post goes to `unknown` and only the
    publisher's `verify` decides whether it is on the platform.
    """

    error_kind = "unknown"


class BrowserBrokeError(PublishError):
    """The browser crashed or the driver went away: not the account's fault."""

    error_kind = "browser"


@dataclass(frozen=True)
class PublishResult:
    platform_post_id: str
    url: str = ""


@dataclass(frozen=True)
class VerifyResult:
    found: bool
    platform_post_id: str = ""
    url: str = ""
    copies: int = 0


class Publisher:
    platform: ClassVar[str]
    caption_max_length: ClassVar[int] = 2200

    def publish(self, *, driver: WebDriver | None, post: Post, account: Account) -> PublishResult:
        """Publish the post with `driver`, the account's browser (None for an API publisher)."""
        raise NotImplementedError

    def verify(self, *, post: Post, account: Account) -> VerifyResult:
        """Look on the platform for the post by its publish token."""
        raise NotImplementedError
