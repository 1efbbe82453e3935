"""Publishers, one per platform, found through a registry."""

from __future__ import annotations

from uploads.publishers.base import (
    BrowserBrokeError,
    ContentRejectedError,
    LoginRequiredError,
    OutcomeUnknownError,
    Publisher,
    PublishError,
    PublishResult,
    RateLimitedError,
    TransientError,
    VerifyResult,
)
from uploads.publishers.sandbox import SandboxPublisher

_REGISTRY: dict[str, Publisher] = {
    publisher.platform: publisher() for publisher in (SandboxPublisher,)
}


def register(publisher_class: type[Publisher]) -> type[Publisher]:
    """Add a publisher (or put one in place of the platform's own)."""
    _REGISTRY[publisher_class.platform] = publisher_class()
    return publisher_class


def get_publisher(platform: str) -> Publisher:
    try:
        return _REGISTRY[platform]
    except KeyError:
        raise LookupError(f"No publisher is registered for platform {platform!r}.") from None


def registered_platforms() -> list[str]:
    return sorted(_REGISTRY)


__all__ = [
    "BrowserBrokeError",
    "ContentRejectedError",
    "LoginRequiredError",
    "OutcomeUnknownError",
    "PublishError",
    "PublishResult",
    "Publisher",
    "RateLimitedError",
    "TransientError",
    "VerifyResult",
    "get_publisher",
    "register",
    "registered_platforms",
]
