"""Links built from stored data (a platform's URL for a post, ...) are http(s) only.

A URL that came from outside (a platform's answer, an import) may carry any
scheme; put in an href, `javascript:` or `data:` would run in the console.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.utils.html import format_html
from django.utils.safestring import SafeString

LINK_SCHEMES = frozenset({"http", "https"})


def http_url(value: str | None) -> str:
    """`value` if it is an absolute http(s) URL with a host, else ""."""
    if not value:
        return ""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return ""
    if parts.scheme.lower() not in LINK_SCHEMES or not parts.hostname:
        return ""
    return value.strip()


def external_link(url: str | None, text: str) -> SafeString | str:
    """A link that opens in a new tab for an http(s) URL; the text alone for anything else."""
    href = http_url(url)
    if not href:
        return text
    return format_html('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', href, text)
