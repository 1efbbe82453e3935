"""Headless Chromium for tests that drive pages themselves, outside the farm's browser pool."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver


def chromium_open(user_data_dir: Path, *arguments: str) -> WebDriver:
    """The system's Chromium, headless and quiet, with its profile in `user_data_dir`."""
    options = Options()
    options.binary_location = settings.FARM_CHROMIUM_BINARY
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        f"--user-data-dir={user_data_dir}",
        *arguments,
    ):
        options.add_argument(argument)
    return webdriver.Chrome(
        service=Service(executable_path=settings.FARM_CHROMEDRIVER_PATH), options=options
    )
