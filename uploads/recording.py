"""Recording every publish run with the recorder script.

`capture_publish_run` opens an automated CapturedSession for a post attempt,
installs recorder.js into the browser so that it runs in every document the
upload flow opens (CDP Page.addScriptToEvaluateOnNewDocument, plus once in
the current page), and hands the publisher a driver that checkpoints the
recording around its navigations and clicks: drain the page's events, store
them, take a screenshot. At the end, success or failure, it drains once more
and closes the session.

Capture never breaks publishing: every capture step catches and logs its own
errors, and after the first error the run stops recording and publishing
goes on with the plain driver. Its cost is a few script calls and
screenshots per post, not one per event.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.abstract_event_listener import AbstractEventListener
from selenium.webdriver.support.event_firing_webdriver import EventFiringWebDriver

from capture.models import CapturedSession, Interaction, Screenshot
from capture.recorder import recorder_bootstrap
from capture.services import (
    MAX_EVENTS_PER_BATCH,
    SessionFull,
    capture_settings_get,
    session_close,
    session_events_append,
    session_open,
    session_screenshot_add,
)
from uploads.models import Post, PostAttempt
from uploads.publishers import BrowserBrokeError

logger = logging.getLogger(__name__)

ACTION_KINDS = frozenset({"click", "input", "submit"})


_DRAIN = "return window.__farmRecorder ? window.__farmRecorder.drain() : null;"
_STOP_AND_DRAIN = (
    "if (!window.__farmRecorder) return null;"
    "var events = window.__farmRecorder.drain(); window.__farmRecorder.stop(); return events;"
)
_ENVIRONMENT = (
    "return {url: String(location.href), width: window.innerWidth,"
    " height: window.innerHeight, userAgent: navigator.userAgent,"
    " started: Boolean(window.__farmRecorder && window.__farmRecorder.started)};"
)


class PublishRecording:
    """One publish run's recording.

    Checkpoints and `finish` swallow their own errors (logged; the run then
    goes on unrecorded), all but Celery's soft time limit, which belongs to
    the publish task. `install` raises, and the caller records nothing.
    """

    def __init__(self, *, driver: WebDriver, session: CapturedSession, allow_list: list[str]):
        self.raw_driver = driver
        self.session = session
        self.allow_list = allow_list
        self.active = True
        self.next_sequence = 0
        self.events_stored = 0
        self.screenshots_stored = 0
        self.seconds_spent = 0.0
        self._script_id: str | None = None
        # The last screenshot, kept for the actions of the next batch, and its row once stored.
        self._held_image: bytes | None = None
        self._held_shot: Screenshot | None = None
        self.driver: WebDriver = EventFiringWebDriver(driver, _Checkpoints(self))  # type: ignore[assignment]

    # -- install and remove -------------------------------------------------

    def install(self) -> None:
        bootstrap = recorder_bootstrap(session_id=str(self.session.pk), allow_list=self.allow_list)
        try:
            answer = self.raw_driver.execute_cdp_cmd(
                "Page.addScriptToEvaluateOnNewDocument", {"source": bootstrap}
            )
            self._script_id = answer.get("identifier")
        except Exception:
            # Without CDP (a remote grid node) the script is put in at every checkpoint.
            logger.info("capture: no CDP on this driver; injecting at every checkpoint")
        try:
            self._inject(bootstrap)
        except Exception:
            # Leave nothing behind in a browser the pool will lend again.
            self._uninstall()
            raise

    def _inject(self, bootstrap: str | None = None) -> None:
        script = bootstrap or recorder_bootstrap(
            session_id=str(self.session.pk), allow_list=self.allow_list
        )
        self.raw_driver.execute_script(script)

    def _ensure_installed(self) -> None:
        """Without CDP, put the recorder into the page now (a no-op where it runs already).

        A page reached by a click has no recorder until then; started, it takes
        back what the last page kept in sessionStorage (the click that left it).
        """
        if self._script_id is None:
            self._inject()

    def _uninstall(self) -> None:
        if self._script_id is None:
            return
        try:
            self.raw_driver.execute_cdp_cmd(
                "Page.removeScriptToEvaluateOnNewDocument", {"identifier": self._script_id}
            )
        except Exception:
            logger.debug("capture: could not remove the recorder script", exc_info=True)
        self._script_id = None

    # -- checkpoints --------------------------------------------------------

    def checkpoint(self, *, screenshot: bool = True) -> None:
        """Drain the page's events, store them, and screenshot the page they were taken on."""
        if not self.active:
            return
        started = time.monotonic()
        try:
            self._ensure_installed()
            events = self._store(self.raw_driver.execute_script(_DRAIN))
            image = self._screenshot() if screenshot else None
            self._screenshots_link(events, image)
        except SoftTimeLimitExceeded:
            self.active = False
            raise
        except Exception:
            self._give_up("checkpoint")
        finally:
            self.seconds_spent += time.monotonic() - started

    def _screenshot(self) -> bytes:
        """The page as WebP, encoded by the browser itself (no PNG round trip) where CDP is."""
        if self._script_id is not None:  # CDP answered at install
            answer = self.raw_driver.execute_cdp_cmd(
                "Page.captureScreenshot", {"format": "webp", "quality": 80}
            )
            return base64.b64decode(answer["data"])
        return self.raw_driver.get_screenshot_as_png()

    def _store(self, events: Any) -> list[dict[str, Any]]:
        """Store what the page's recorder returned; answers the events stored.

        The page is not to be trusted (a script of its own may stand in for
        the recorder), so what it returns goes through the ingest API's own
        checks and caps (`session_events_append`): whatever is not an event,
        or is refused, is dropped with a log line, and the run goes on.
        """
        if not isinstance(events, list):
            if events is not None:
                logger.warning(
                    "capture: session %s: the page returned a %s, not a list of events; dropped",
                    self.session.pk,
                    type(events).__name__,
                )
            return []
        # The session's numbering: one run spans documents, each numbering from its own start.
        candidates: list[dict[str, Any]] = []
        for event in events:
            if isinstance(event, dict):
                event["sequence"] = self.next_sequence
                self.next_sequence += 1
                candidates.append(event)
        if len(candidates) < len(events):
            logger.warning(
                "capture: session %s: %d of the %d events the page returned are not objects; "
                "dropped",
                self.session.pk,
                len(events) - len(candidates),
                len(events),
            )
        stored: list[dict[str, Any]] = []
        for start in range(0, len(candidates), MAX_EVENTS_PER_BATCH):
            batch = candidates[start : start + MAX_EVENTS_PER_BATCH]
            try:
                result = session_events_append(session=self.session, events=batch)
            except SessionFull as exc:
                logger.warning("capture: %s This run records no more events.", exc)
                self.active = False
                break
            self.events_stored += result.added
            if result.errors:
                logger.warning(
                    "capture: session %s: %d events dropped, refused by the ingest checks: %s",
                    self.session.pk,
                    len(result.errors),
                    result.errors[:3],
                )
            refused = {error["index"] for error in result.errors}
            stored.extend(e for i, e in enumerate(batch) if i not in refused)
        return stored

    def _screenshots_link(
        self, events: list[dict[str, Any]], image_now: bytes | None
    ) -> bytes | None:
        """Give each action the screenshot of the page it was taken on, where there is one.

        The screenshot held from the last checkpoint shows the page the batch's
        first actions (up to its first navigation) were taken on; the one just
        taken shows the page of the actions after its last navigation. Returns
        the new screenshot when no action took it.
        """
        navigations = [i for i, e in enumerate(events) if e.get("kind") == "navigate"]
        first_nav = navigations[0] if navigations else len(events)
        last_nav = navigations[-1] if navigations else -1
        leading = [e["sequence"] for e in events[:first_nav] if e.get("kind") in ACTION_KINDS]
        tail = [e["sequence"] for e in events[last_nav + 1 :] if e.get("kind") in ACTION_KINDS]
        held, held_shot = self._held_image, self._held_shot
        self._held_image, self._held_shot = image_now, None
        if held is not None and leading:
            if held_shot is not None:  # already stored: the same image is not stored twice
                interactions_screenshot_link(
                    session=self.session, screenshot=held_shot, sequences=leading
                )
            else:
                self._screenshot_store(held, leading)
        tail = [sequence for sequence in tail if held is None or sequence not in leading]
        if tail and image_now is not None:
            self._held_shot = self._screenshot_store(image_now, tail)
            return None
        return image_now

    def _screenshot_store(self, image: bytes, sequences: list[int | None]) -> Screenshot:

        shot = session_screenshot_add(
            session=self.session, image_bytes=image, sequence=sequences[0], webp_ok=True
        )
        self.screenshots_stored += 1
        if len(sequences) > 1:
            interactions_screenshot_link(
                session=self.session, screenshot=shot, sequences=sequences[1:]
            )
        return shot

    def finish(self, *, failed: bool, browser_usable: bool) -> None:
        """The last drain and screenshot (when the browser can still answer), then close."""

        started = time.monotonic()
        out_of_time: SoftTimeLimitExceeded | None = None
        if self.active and browser_usable:
            try:
                self._ensure_installed()
                events = self._store(self.raw_driver.execute_script(_STOP_AND_DRAIN))
                unused = self._screenshots_link(events, self._screenshot())
                if unused is not None:
                    # The page the run ended on, the answer or what went wrong, is kept either way.
                    last = self.next_sequence - 1 if self.next_sequence else None
                    self._screenshot_store(unused, [last])
            except SoftTimeLimitExceeded as exc:
                out_of_time = exc  # close the session first, then let the task have it
            except Exception:
                self._give_up("final drain")
        if browser_usable and out_of_time is None:
            self._uninstall()
        try:
            session_close(session=self.session)
        except Exception:
            logger.exception("capture: could not close session %s", self.session.pk)
        self.seconds_spent += time.monotonic() - started
        logger.info(
            "capture: session %s: %d events, %d screenshots, %.2fs spent%s",
            self.session.pk,
            self.events_stored,
            self.screenshots_stored,
            self.seconds_spent,
            " (the run failed)" if failed else "",
        )
        if out_of_time is not None:
            raise out_of_time

    def _give_up(self, step: str) -> None:
        logger.warning("capture: %s failed; this run goes on unrecorded", step, exc_info=True)
        self.active = False


class _Checkpoints(AbstractEventListener):
    """Checkpoints at the publisher's own steps: after a page opens, before a click."""

    def __init__(self, recording: PublishRecording) -> None:
        self.recording = recording

    def after_navigate_to(self, url: str | None, driver: WebDriver) -> None:
        # No screenshot yet: the one before the next click shows this page, filled in.
        self.recording.checkpoint(screenshot=False)

    def before_click(self, element: WebElement, driver: WebDriver) -> None:
        # Before, not after: a click may start a navigation that a script call would wait on,
        # and the screenshot shows the page the click (and the typing before it) acted on.
        self.recording.checkpoint()


def interactions_screenshot_link(
    *, session: CapturedSession, screenshot: Screenshot, sequences: list[int | None]
) -> int:
    """Point more of the session's interactions at one screenshot (the same page)."""
    return Interaction.objects.filter(
        session=session,
        sequence__in=[s for s in sequences if s is not None],
        screenshot__isnull=True,
    ).update(screenshot=screenshot)


def _allow_list(workspace: Any) -> list[str]:
    return [str(name) for name in capture_settings_get(workspace=workspace).input_allow_list or []]


def _task_text(post: Post) -> str:
    account = post.account
    title = f' titled "{post.title}"' if post.title else ""
    article = "an" if post.kind[:1] in "aeiou" else "a"
    return f"Publish {article} {post.kind} post{title} on {account.platform} as @{account.handle}"


def _recording_open(*, driver: WebDriver, post: Post, attempt: PostAttempt) -> PublishRecording:
    account = post.account
    profile = getattr(account, "browser_profile", None)
    page = driver.execute_script(_ENVIRONMENT) or {}
    session = session_open(
        workspace=account.workspace,
        kind=CapturedSession.Kind.AUTOMATED,
        start_url=str(page.get("url") or ""),
        viewport={"width": page.get("width"), "height": page.get("height")},
        user_agent=str(page.get("userAgent") or ""),
        task=_task_text(post),
        account=account,
        profile=profile,
        attempt=attempt,
    )
    recording = PublishRecording(
        driver=driver, session=session, allow_list=_allow_list(account.workspace)
    )
    recording.install()
    return recording


def _browser_usable(exc: BaseException | None) -> bool:
    """Whether the browser may still answer: not after it broke or time ran out."""
    if exc is None:
        return True
    return not isinstance(exc, BrowserBrokeError | SoftTimeLimitExceeded)


@contextmanager
def capture_publish_run(
    *, driver: WebDriver, post: Post, attempt: PostAttempt
) -> Iterator[WebDriver]:
    """Record one publish run; yields the driver the publisher should use.

    With capture off, or when the session cannot be opened, it yields the
    driver it was given and records nothing.
    """
    recording: PublishRecording | None = None
    if getattr(settings, "CAPTURE_PUBLISH_RUNS", True):
        try:
            recording = _recording_open(driver=driver, post=post, attempt=attempt)
        except SoftTimeLimitExceeded:
            _session_abandon(attempt)
            raise
        except Exception:
            logger.warning("capture: could not start recording post %s", post.pk, exc_info=True)
            _session_abandon(attempt)
    if recording is None:
        yield driver
        return
    try:
        yield recording.driver
    except BaseException as exc:
        recording.finish(failed=True, browser_usable=_browser_usable(exc))
        raise
    else:
        recording.finish(failed=False, browser_usable=True)


def _session_abandon(attempt: PostAttempt) -> None:
    """A session opened for the attempt but never installed is closed, not left recording."""
    try:
        session = CapturedSession.objects.filter(
            attempt=attempt, state=CapturedSession.State.RECORDING
        ).first()
        if session is not None:
            session_close(session=session)
    except Exception:
        logger.warning("capture: could not close an abandoned session", exc_info=True)
