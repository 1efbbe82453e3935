"""The sandbox platform's publisher: its web form for posting, its JSON list for verifying."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

import urllib3
from django.conf import settings
from selenium.common.exceptions import (
    InvalidSessionIdException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from accounts.services import account_set_cookies
from browsers.pages import page_left_wait
from uploads.publishers.base import (
    BrowserBrokeError,
    ContentRejectedError,
    LoginRequiredError,
    OutcomeUnknownError,
    Publisher,
    PublishResult,
    RateLimitedError,
    TransientError,
    VerifyResult,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

    from accounts.models import Account
    from uploads.models import Post

# Every answer page of the sandbox carries exactly one of these markers.
OUTCOME_MARKERS = (
    "post-published",
    "rate-limited",
    "server-error",
    "rejected",
    "login-challenge",
    "login-error",
    "upload-submit",
    "login-submit",
)
# The driver's own link failing (ChromeDriver killed, closed under us) means
# the browser is gone as surely as an invalid session does.
_BROWSER_GONE = (InvalidSessionIdException, urllib3.exceptions.HTTPError, ConnectionError)


def _testid(name: str) -> tuple[str, str]:
    return By.CSS_SELECTOR, f'[data-testid="{name}"]'


def _base_url() -> str:
    return settings.SANDBOX_BASE_URL.rstrip("/")


class SandboxPublisher(Publisher):
    platform = "sandbox"
    caption_max_length = 2200
    wait_seconds = 20.0

    def publish(self, *, driver: WebDriver | None, post: Post, account: Account) -> PublishResult:
        if driver is None:
            raise BrowserBrokeError("the sandbox publishes through a browser")
        try:
            return self._publish(driver, post, account)
        except _BROWSER_GONE as exc:
            raise BrowserBrokeError(f"browser session lost: {exc.__class__.__name__}") from exc
        except TimeoutException as exc:
            raise TransientError("the sandbox did not answer in time") from exc
        except WebDriverException as exc:
            if "chrome not reachable" in str(exc).lower() or "disconnected" in str(exc).lower():
                raise BrowserBrokeError("browser not reachable") from exc
            raise TransientError(f"browser error: {exc.msg or exc.__class__.__name__}") from exc

    def _publish(self, driver: WebDriver, post: Post, account: Account) -> PublishResult:
        driver.get(f"{_base_url()}/sandbox/upload/")
        marker = self._current_marker(driver)
        if marker == "login-submit":
            self._log_in(driver, account)
            marker = self._current_marker(driver)
        if marker != "upload-submit":
            self._raise_for(driver, marker)

        form_values = {
            "upload-title": post.title,
            "upload-caption": post.caption,
            "upload-publish-token": str(post.publish_token),
        }
        for testid, value in form_values.items():
            element = driver.find_element(*_testid(testid))
            # Set by script: ChromeDriver cannot type characters outside the BMP (emoji).
            # The input and change events typing would fire, so page scripts (and the
            # session recorder) see the value too.
            driver.execute_script(
                "arguments[0].value = arguments[1];"
                "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
                "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
                element,
                value,
            )
        if post.media:
            driver.find_element(*_testid("upload-media")).send_keys(post.media.path)

        submit = driver.find_element(*_testid("upload-submit"))
        # From the click on, the platform may have the post: whatever goes
        # wrong must not lead to a blind retry, only to a check by publish token.
        try:
            submit.click()
            self._wait_for_next_page(driver, submit)
            marker = self._current_marker(driver)
        except _BROWSER_GONE as exc:
            raise OutcomeUnknownError(
                f"browser lost after submitting: {exc.__class__.__name__}"
            ) from exc
        except WebDriverException as exc:
            raise OutcomeUnknownError(
                f"no answer page after submitting: {exc.msg or exc.__class__.__name__}"
            ) from exc
        if marker != "post-published":
            self._raise_for(driver, marker)
        published = driver.find_element(*_testid("post-published"))
        if published.get_attribute("data-publish-token") != str(post.publish_token):
            raise TransientError("the sandbox showed a post with another publish token")
        post_id = published.get_attribute("data-post-id") or ""
        return PublishResult(platform_post_id=post_id, url=driver.current_url)

    def _log_in(self, driver: WebDriver, account: Account) -> None:
        credentials = account.credentials or {}
        if not credentials.get("password"):
            raise LoginRequiredError("no password is stored for this account")
        driver.find_element(*_testid("login-handle")).send_keys(
            credentials.get("username") or account.handle
        )
        driver.find_element(*_testid("login-password")).send_keys(credentials["password"])
        submit = driver.find_element(*_testid("login-submit"))
        submit.click()
        self._wait_for_next_page(driver, submit)
        # Kept encrypted so a browser on another host can start logged in.
        account_set_cookies(account=account, cookies=driver.get_cookies())

    def _wait_for_next_page(self, driver: WebDriver, old_element: WebElement) -> None:
        page_left_wait(driver, old_element, seconds=self.wait_seconds)

    def _current_marker(self, driver: WebDriver) -> str | None:
        WebDriverWait(driver, self.wait_seconds).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )
        for marker in OUTCOME_MARKERS:
            if driver.find_elements(*_testid(marker)):
                return marker
        return None

    def _raise_for(self, driver: WebDriver, marker: str | None) -> None:
        if marker == "rate-limited":
            element = driver.find_element(*_testid("rate-limited"))
            raw = element.get_attribute("data-retry-after") or ""
            seconds = int(raw) if raw.isdigit() else None
            raise RateLimitedError(element.text.strip()[:300], retry_after_seconds=seconds)
        if marker == "server-error":
            raise TransientError("the sandbox answered with a server error")
        if marker == "rejected":
            element = driver.find_element(*_testid("rejected"))
            reason = element.get_attribute("data-reason") or element.text
            raise ContentRejectedError(reason.strip()[:500] or "rejected without a reason")
        if marker == "login-challenge":
            raise LoginRequiredError("the sandbox asks to confirm it is you (login challenge)")
        if marker in ("login-error", "login-submit"):
            raise LoginRequiredError("the sandbox refused the stored credentials")
        if marker is not None:
            raise TransientError(f"the sandbox showed its {marker!r} page where it should not")
        try:
            title = driver.title
        except WebDriverException:
            title = ""
        # Garbage HTML, or a page this publisher does not know: retry later, never crash.
        expected = ", ".join(f'data-testid="{name}"' for name in OUTCOME_MARKERS)
        raise TransientError(
            f"unrecognised page from the sandbox (title {title[:80]!r}): "
            f"it had none of the markers this publisher expects ({expected})"
        )

    def verify(self, *, post: Post, account: Account) -> VerifyResult:
        query = urllib.parse.urlencode({"token": str(post.publish_token)})
        handle = urllib.parse.quote(account.handle)
        url = f"{_base_url()}/sandbox/@{handle}/posts.json?{query}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                payload = json.load(response)
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise TransientError(f"could not verify on the sandbox: {exc}") from exc
        posts = payload.get("posts") if isinstance(payload, dict) else None
        if not isinstance(posts, list):
            raise TransientError("the sandbox's post list had no `posts` list in it")
        if not posts:
            return VerifyResult(found=False)
        first = posts[-1]
        return VerifyResult(
            found=True,
            platform_post_id=str(first.get("id", "")),
            url=f"{_base_url()}/sandbox/posts/{first.get('id')}/",
            copies=len(posts),
        )
