"""A worker process's pool of live browsers.

A browser stays open after a post so the next post of the same account
reuses it (no cold start, still logged in). The profile's farm-wide lease is
held for as long as the browser lives, so no other worker can open the same
profile meanwhile; idle browsers are closed and their leases released.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil
from django.conf import settings
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from browsers import services
from browsers.models import BrowserProfile
from browsers.providers import driver_open

logger = logging.getLogger(__name__)


class ProfileBusy(Exception):
    """Another live browser in the farm holds this profile's lease."""


class BrowserUnavailable(Exception):
    """The browser could not be started or died under us."""


def lease_holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class _Entry:
    profile_id: int
    driver: WebDriver
    last_used: float = field(default_factory=time.monotonic)
    in_use: bool = False
    uses: int = 0


def driver_alive(driver: WebDriver) -> bool:
    try:
        driver.execute_script("return 1")
        return True
    except Exception:
        return False


def driver_quit(driver: WebDriver) -> None:
    """Close a browser; kill its process tree if it does not go quietly."""
    process = getattr(getattr(driver, "service", None), "process", None)
    pids: list[psutil.Process] = []
    if process is not None:
        try:
            parent = psutil.Process(process.pid)
            pids = [parent, *parent.children(recursive=True)]
        except psutil.Error:
            pids = []
    try:
        driver.quit()
    except Exception:  # A crashed or hung driver: fall through to the kill.
        logger.warning("browser did not quit cleanly; killing it", exc_info=True)
    for proc in pids:
        try:
            if proc.is_running():
                proc.kill()
        except psutil.Error:
            pass


class DriverPool:
    def __init__(
        self,
        *,
        size: int | None = None,
        idle_seconds: float | None = None,
        opener: Callable[[BrowserProfile], WebDriver] = driver_open,
        on_release: Callable[[int], None] | None = None,
        holder: str | None = None,
    ) -> None:
        self.size = size or settings.FARM_BROWSER_POOL_SIZE
        self.idle_seconds = (
            settings.FARM_BROWSER_IDLE_SECONDS if idle_seconds is None else idle_seconds
        )
        self.max_uses = settings.FARM_BROWSER_MAX_USES
        self.opener = opener
        self.on_release = on_release
        self.holder = holder or lease_holder_name()
        self.opened = 0
        self.last_checkout_reused = False
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.RLock()
        self._reaper: threading.Thread | None = None
        self._stopping = threading.Event()

    def __len__(self) -> int:
        return len(self._entries)

    @contextmanager
    def driver_for(self, profile: BrowserProfile) -> Iterator[WebDriver]:
        """Lend the profile's live browser, opening one if needed.

        Raises ProfileBusy when another worker holds the profile, and
        BrowserUnavailable when Chromium cannot be started.
        """
        self._start_reaper()
        entry = self._checkout(profile)
        healthy = True
        try:
            yield entry.driver
        except BrowserUnavailable:
            healthy = False
            raise
        except WebDriverException:
            healthy = driver_alive(entry.driver)
            raise
        finally:
            with self._lock:
                entry.in_use = False
                entry.last_used = time.monotonic()
            # A long-lived browser slowly grows; a fresh one starts small.
            if not healthy or entry.uses >= self.max_uses:
                self.discard(profile.pk)

    def _checkout(self, profile: BrowserProfile) -> _Entry:
        if not services.profile_lease_acquire(profile_id=profile.pk, holder=self.holder):
            raise ProfileBusy(f"profile {profile.pk} is leased by another browser")
        with self._lock:
            entry = self._entries.get(profile.pk)
            if entry is not None and entry.in_use:
                raise ProfileBusy(f"profile {profile.pk} is in use in this process")
            if entry is not None:
                entry.in_use = True
        if entry is not None:
            if driver_alive(entry.driver):
                entry.uses += 1
                self.last_checkout_reused = True
                return entry
            # A crashed browser is replaced, not reused.
            self.discard(profile.pk, release_lease=False)
        self._make_room()
        try:
            driver = self.opener(profile)
        except Exception as exc:
            services.profile_lease_release(profile_id=profile.pk, holder=self.holder)
            raise BrowserUnavailable(
                f"could not start a browser: {exc.__class__.__name__}"
            ) from exc
        entry = _Entry(profile_id=profile.pk, driver=driver, in_use=True, uses=1)
        self.last_checkout_reused = False
        with self._lock:
            self._entries[profile.pk] = entry
            self.opened += 1
        return entry

    def _make_room(self) -> None:
        """Close the least recently used idle browser when the pool is full."""
        with self._lock:
            idle = sorted(
                (e for e in self._entries.values() if not e.in_use), key=lambda e: e.last_used
            )
            excess = len(self._entries) - self.size + 1
            victims = idle[: max(excess, 0)]
        for victim in victims:
            self.discard(victim.profile_id)

    def discard(self, profile_id: int, *, release_lease: bool = True) -> None:
        with self._lock:
            entry = self._entries.pop(profile_id, None)
        if entry is not None:
            driver_quit(entry.driver)
        if release_lease:
            services.profile_lease_release(profile_id=profile_id, holder=self.holder)
            if self.on_release is not None:
                try:
                    self.on_release(profile_id)
                except Exception:
                    logger.exception("hand-off after closing profile %s failed", profile_id)

    def close_idle(self) -> int:
        now = time.monotonic()
        with self._lock:
            stale = [
                e.profile_id
                for e in self._entries.values()
                if not e.in_use and now - e.last_used >= self.idle_seconds
            ]
        for profile_id in stale:
            self.discard(profile_id)
        return len(stale)

    def close_all(self) -> None:
        self._stopping.set()
        for profile_id in list(self._entries):
            self.discard(profile_id)

    def _start_reaper(self) -> None:
        if self._reaper is not None and self._reaper.is_alive():
            return
        # A daemon thread closes idle browsers even when no task arrives.
        self._reaper = threading.Thread(target=self._reap, name="browser-pool-reaper", daemon=True)
        self._reaper.start()

    def _reap(self) -> None:
        interval = max(min(self.idle_seconds / 2, 5.0), 0.5)
        while not self._stopping.wait(interval):
            try:
                self.close_idle()
            except Exception:
                logger.exception("closing idle browsers failed")
