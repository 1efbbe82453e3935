"""A stand-in platform, so posts go through the real publish service without a browser.

The `tiktok` fixture (tests/conftest.py) registers `ScriptedPlatform` as
TikTok's publisher for one test; `publish` does with a queued post what a
worker does, with no driver (so the run is not recorded).
"""

from __future__ import annotations

from typing import ClassVar

from selenium.webdriver.remote.webdriver import WebDriver

from accounts.models import Account
from uploads.models import Post
from uploads.publishers import Publisher, PublishResult, VerifyResult
from uploads.publishing import Outcome, post_publish_with_driver
from uploads.publishing.leases import post_claim

HOLDER = "test-worker:1"


class ScriptedPlatform(Publisher):
    """TikTok, as far as these tests care: each publish takes the next scripted answer.

    An answer is an exception to raise, or None to take the post. `published`
    holds the publish tokens of the posts the platform has, which is what
    `verify` finds: add one to play a post that got through whatever was said.
    """

    platform: ClassVar[str] = "tiktok"

    def __init__(self) -> None:
        self.script: list[Exception | None] = []
        self.published: set[str] = set()

    def publish(self, *, driver: WebDriver | None, post: Post, account: Account) -> PublishResult:
        answer = self.script.pop(0) if self.script else None
        if answer is not None:
            raise answer
        self.published.add(str(post.publish_token))
        return PublishResult(platform_post_id=f"tt-{post.pk}")

    def verify(self, *, post: Post, account: Account) -> VerifyResult:
        found = str(post.publish_token) in self.published
        return VerifyResult(found=found, platform_post_id=f"tt-{post.pk}" if found else "")


def publish(post: Post) -> Outcome:
    """What a worker does with a queued post: claim it with a lease, then publish it."""
    assert post_claim(post.pk, HOLDER)
    fresh = Post.objects.select_related("account__workspace").get(pk=post.pk)
    return post_publish_with_driver(post=fresh, driver=None, holder=HOLDER, reused=False)
