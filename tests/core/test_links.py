"""Links built from stored URLs are http(s) only; anything else is shown as text."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Account
from core.links import external_link, http_url
from tests.factories import make_post
from uploads.models import Post, PostStatus

pytestmark = pytest.mark.django_db

NOT_LINKS = [
    "javascript:alert(document.cookie)",
    " JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "/relative/path",
    "http://",
    "",
]


@pytest.mark.parametrize("url", NOT_LINKS)
def test_urls_of_other_schemes_make_no_link(url: str) -> None:
    assert http_url(url) == ""
    assert external_link(url, "open") == "open"


def test_http_and_https_urls_make_links() -> None:
    assert http_url("https://sandbox.example/p/1") == "https://sandbox.example/p/1"
    assert external_link("http://sandbox.example/p/1?a=1&b=2", "p1") == (
        '<a href="http://sandbox.example/p/1?a=1&amp;b=2" target="_blank" '
        'rel="noopener noreferrer">p1</a>'
    )


@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", "data:text/html,x"])
def test_the_consoles_post_list_links_a_platform_url_only_if_http(
    account: Account, superuser_client: Client, url: str
) -> None:
    posted = make_post(account, PostStatus.POSTED, platform_post_id="p-1", platform_url=url)
    good = make_post(
        account, PostStatus.POSTED, platform_post_id="p-2", platform_url="https://x.example/p/2"
    )

    page = superuser_client.get(reverse("admin:uploads_post_changelist")).content.decode()

    assert url.split(":")[0] + ":" not in page.replace("https:", "")
    assert 'href="https://x.example/p/2"' in page
    assert Post.objects.filter(pk__in=[posted.pk, good.pk]).count() == 2
