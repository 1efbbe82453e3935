"""Providers open a WebDriver for a profile. Only `local` ships today.

The local provider runs the system's Chromium through the system's
ChromeDriver, named explicitly so Selenium never downloads a driver or a
browser of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from browsers.models import BrowserProfile

logger = logging.getLogger(__name__)

# Chromium as a quiet, headless worker: nothing phones home, nothing updates
# itself, and memory stays small enough for several browsers on one host.
CHROMIUM_ARGUMENTS = (
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-quic",
    "--mute-audio",
    "--password-store=basic",
    "--metrics-recording-only",
    "--renderer-process-limit=2",
    # V8 starts with a small old generation, so its first full collections come
    # early instead of after every page this tab has left has piled up; the heap
    # still grows as a page needs (no cap, unlike --max-old-space-size).
    "--js-flags=--initial-old-space-size=16",
    # The network service runs inside the browser process: one process (about
    # 20 MB) less per browser.
    "--enable-features=NetworkServiceInProcess2",
    # Not needed by a worker that only navigates forward in one tab: the
    # omnibox popups (a WebUI renderer preloaded for an address bar nobody
    # sees), the spare renderer kept warm for the next site, and the
    # back-forward cache that keeps left pages alive.
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
    "WebUIOmniboxPopup,WebUIOmniboxAimPopup,SpareRendererForSitePerProcess,BackForwardCache",
)


def chromium_options(profile: BrowserProfile) -> Options:
    options = Options()
    options.binary_location = settings.FARM_CHROMIUM_BINARY
    if settings.FARM_BROWSER_HEADLESS:
        options.add_argument("--headless=new")
    for argument in CHROMIUM_ARGUMENTS:
        options.add_argument(argument)
    if settings.FARM_CHROMIUM_NO_SANDBOX:
        # Only where configured: Chromium refuses its sandbox when run as root.
        options.add_argument("--no-sandbox")
    options.add_argument(f"--user-data-dir={profile.user_data_dir}")
    options.add_argument(f"--window-size={profile.window_width},{profile.window_height}")
    options.add_argument(f"--lang={profile.locale}")
    if profile.proxy and profile.proxy.get("server"):
        options.add_argument(f"--proxy-server={profile.proxy['server']}")
    options.page_load_strategy = "normal"
    return options


def open_local(profile: BrowserProfile) -> WebDriver:
    profile.user_data_dir.mkdir(parents=True, exist_ok=True)
    service = Service(executable_path=settings.FARM_CHROMEDRIVER_PATH)
    driver = webdriver.Chrome(service=service, options=chromium_options(profile))
    driver.set_page_load_timeout(settings.FARM_BROWSER_PAGE_TIMEOUT)
    driver.set_script_timeout(settings.FARM_BROWSER_PAGE_TIMEOUT)
    if profile.timezone and profile.timezone != "UTC":
        driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": profile.timezone})
    return driver


PROVIDERS: dict[str, Callable[[BrowserProfile], WebDriver]] = {
    BrowserProfile.Provider.LOCAL: open_local,
}


def driver_open(profile: BrowserProfile) -> WebDriver:
    try:
        opener = PROVIDERS[profile.provider]
    except KeyError:
        raise ValueError(f"Unknown browser provider {profile.provider!r}.") from None
    return opener(profile)
