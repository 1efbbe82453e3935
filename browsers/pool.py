"""A worker process's pool of live browsers.

A browser stays open after a post so the next post of the same account
reuses it (no cold start, still logged in). The profile's farm-wide lease is
held for as long as the browser lives, so no other worker can open the same
profile meanwhile; idle browsers are closed and their leases released.

A daemon thread keeps house: it closes idle browsers and, every heartbeat,
renews the leases this process holds (its profiles', and through
`on_heartbeat` its posts'). Leases can therefore be short: when the process
dies, the heartbeat stops with it and the leases run out soon after.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
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


def _local_pid(holder: str) -> int | None:
    """The pid in a lease_holder_name() of this host; None for another host's or no holder."""
    host, _, pid = holder.rpartition(":")
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


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


def _driver_processes(driver: WebDriver) -> list[psutil.Process]:
    """ChromeDriver and everything it started (the browser and its helpers)."""
    process = getattr(getattr(driver, "service", None), "process", None)
    if process is None:
        return []
    try:
        parent = psutil.Process(process.pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return []


def _processes_kill(processes: list[psutil.Process]) -> None:
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            if proc.is_running():
                proc.kill()


def driver_quit(driver: WebDriver) -> None:
    """Close a browser; kill its process tree if it does not go quietly."""
    processes = _driver_processes(driver)
    try:
        driver.quit()
    except Exception:  # A crashed or hung driver: fall through to the kill.
        logger.warning("browser did not quit cleanly; killing it", exc_info=True)
    _processes_kill(processes)


class DriverPool:
    def __init__(
        self,
        *,
        size: int | None = None,
        idle_seconds: float | None = None,
        opener: Callable[[BrowserProfile], WebDriver] = driver_open,
        on_release: Callable[[int], None] | None = None,
        on_heartbeat: Callable[[str], object] | None = None,
        holder: str | None = None,
    ) -> None:
        self.size = size or settings.FARM_BROWSER_POOL_SIZE
        self.idle_seconds = (
            settings.FARM_BROWSER_IDLE_SECONDS if idle_seconds is None else idle_seconds
        )
        self.max_uses = settings.FARM_BROWSER_MAX_USES
        self.opener = opener
        self.on_release = on_release
        self.on_heartbeat = on_heartbeat
        self.heartbeat_seconds = settings.FARM_LEASE_HEARTBEAT_SECONDS
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

    def kill_all(self) -> None:
        """Kill every browser outright, then close the pool: for a browser that hangs.

        A polite quit waits for ChromeDriver, which may be stuck on the very
        page that hangs; killing the processes first makes whatever is waiting
        on them fail at once.
        """
        with self._lock:
            drivers = [entry.driver for entry in self._entries.values()]
        for driver in drivers:
            _processes_kill(_driver_processes(driver))
        self.close_all()

    def close_all(self) -> None:
        self._stopping.set()
        for profile_id in list(self._entries):
            self.discard(profile_id)

    def heartbeat(self) -> None:
        """Renew every lease this process holds, so they outlive no dead process."""
        with self._lock:
            profile_ids = list(self._entries)
        services.profile_leases_renew(profile_ids=profile_ids, holder=self.holder)
        if self.on_heartbeat is not None:
            self.on_heartbeat(self.holder)

    def _start_reaper(self) -> None:
        if self._reaper is not None and self._reaper.is_alive():
            return
        # A daemon thread keeps house even when no task arrives.
        self._reaper = threading.Thread(target=self._reap, name="browser-pool-reaper", daemon=True)
        self._reaper.start()

    def _reap(self) -> None:
        from django.db import connection

        interval = max(min(self.idle_seconds / 2, self.heartbeat_seconds / 2, 5.0), 0.2)
        next_beat = time.monotonic() + self.heartbeat_seconds
        try:
            while not self._stopping.wait(interval):
                try:
                    self.close_idle()
                    if time.monotonic() >= next_beat:
                        next_beat = time.monotonic() + self.heartbeat_seconds
                        self.heartbeat()
                except Exception:
                    logger.exception("browser pool housekeeping failed")
                    # A database that went away: reconnect on the next round.
                    connection.close()
        finally:
            connection.close()


# --- After a worker process died without closing its browsers -----------------


def holder_is_dead_here(holder: str) -> bool:
    """True when `holder` names a process of this host that no longer runs.

    Holders on other hosts are never judged here: only their own host, or
    their lease running out, can tell.
    """
    pid = _local_pid(holder)
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@dataclass
class OrphansReaped:
    dead_holders: set[str]
    leases_released: int
    processes_killed: int


def browsers_reap_orphans() -> OrphansReaped:
    """Free what a dead worker process of this host left behind.

    A process killed outright (SIGKILL, the task's hard time limit, the OOM
    killer) runs no cleanup: its profile leases stay taken until they expire
    and its Chromium keeps running, holding the profile's folder. Release the
    leases of holders that no longer run here, and kill the browsers running
    on one of this database's profiles that no live process holds.
    """
    holders = set(
        BrowserProfile.objects.exclude(lease_holder="")
        .values_list("lease_holder", flat=True)
        .distinct()
    )
    dead = {holder for holder in holders if holder_is_dead_here(holder)}
    released = 0
    if dead:
        released = BrowserProfile.objects.filter(lease_holder__in=dead).update(
            lease_holder="", lease_until=None
        )
    return OrphansReaped(dead, released, _orphan_browsers_kill())


def _orphan_browsers_kill() -> int:
    prefix = f"--user-data-dir={settings.FARM_PROFILES_DIR}{os.sep}"
    running: dict[str, list[psutil.Process]] = {}
    for proc in psutil.process_iter(["cmdline"]):
        for arg in proc.info["cmdline"] or ():
            if arg.startswith(prefix):
                folder = arg[len(prefix) :].split(os.sep, 1)[0]
                running.setdefault(folder, []).append(proc)
                break
    if not running:
        return 0
    holders = dict(
        BrowserProfile.objects.filter(folder__in=_valid_uuids(running)).values_list(
            "folder", "lease_holder"
        )
    )
    killed = 0
    for folder, holder in holders.items():
        for proc in running[str(folder)]:
            if _started_by(proc, holder):
                continue  # its holder's own browser, maybe opening right now
            with contextlib.suppress(psutil.Error):
                parent = proc.parent()
                proc.kill()
                killed += 1
                # Its chromedriver goes too, when that is what started it.
                if parent is not None and "chromedriver" in parent.name():
                    parent.kill()
    if killed:
        logger.warning("killed %d browser processes left behind by dead workers", killed)
    return killed


def _started_by(proc: psutil.Process, holder: str) -> bool:
    """Whether the live process the lease names is among `proc`'s ancestors."""
    pid = _local_pid(holder)
    if pid is None:
        return bool(holder)  # another host's lease: not ours to judge
    try:
        return any(parent.pid == pid for parent in proc.parents())
    except psutil.Error:
        return True


def _valid_uuids(folders: Iterable[str]) -> list[uuid.UUID]:
    valid = []
    for folder in folders:
        with contextlib.suppress(ValueError):
            valid.append(uuid.UUID(folder))
    return valid
