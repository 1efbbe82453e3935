"""Waits on pages that any platform's automation needs."""

from __future__ import annotations

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait


def page_left_wait(driver: WebDriver, old_element: WebElement, *, seconds: float) -> None:
    """Wait until the page holding `old_element` has been replaced.

    While the page is swapped, ChromeDriver may answer a staleness check with
    "node does not belong to the document": the same news, so poll on.
    """
    WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,)).until(
        ec.staleness_of(old_element)
    )
