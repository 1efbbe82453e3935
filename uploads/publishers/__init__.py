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

_REGISTRY: dict[str, Publisher] = {}


def _load_builtin() -> None:
    from uploads.publishers import sandbox  # noqa: F401  (registers itself)


def register(publisher_class: type[Publisher]) -> type[Publisher]:
    _REGISTRY[publisher_class.platform] = publisher_class()
    return publisher_class


def get_publisher(platform: str) -> Publisher:
    _load_builtin()
    try:
        return _REGISTRY[platform]
    except KeyError:
        raise LookupError(f"No publisher is registered for platform {platform!r}.") from None


def registered_platforms() -> list[str]:
    _load_builtin()
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
