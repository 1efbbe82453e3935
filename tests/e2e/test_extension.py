"""The Manifest V3 extension, unpacked into real headless Chromium, records a person's session.

Chromium starts with --load-extension (headless=new runs extensions). The
extension is set up through its own options page, a person signs in to the
sandbox and publishes a post, and the session must arrive through the ingest
API: its events, selectors with the test id first, the password masked and no
typed value anywhere.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import Workspace
from browsers.pages import page_left_wait
from capture.models import CapturedSession
from capture.services import ingest_token_create
from core.processes import free_port
from sandbox.models import SandboxPost
from tests.capture.conftest import target_of

from .conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

EXTENSION_DIR = Path(settings.BASE_DIR) / "capture" / "extension"


def unpacked_extension_id(path: Path) -> str:
    """Chromium's id for an unpacked extension: the SHA-256 of its path, spelled in a-p."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


@pytest.fixture
def extension_browser(tmp_path: Path) -> Iterator[tuple[WebDriver, str]]:
    folder = tmp_path / "extension"
    shutil.copytree(EXTENSION_DIR, folder)
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
        "--window-size=1000,420",  # short, so the upload page scrolls
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--load-extension={folder}",
        f"--disable-extensions-except={folder}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        service=Service(executable_path=settings.FARM_CHROMEDRIVER_PATH), options=options
    )
    driver.set_page_load_timeout(30)
    try:
        yield driver, unpacked_extension_id(folder)
    finally:
        driver.quit()


def _testid(name: str) -> tuple[str, str]:
    return By.CSS_SELECTOR, f'[data-testid="{name}"]'


def _next_page(driver: WebDriver, old: WebElement) -> None:
    page_left_wait(driver, old, seconds=20)


def _options_save(
    driver: WebDriver,
    extension_id: str,
    *,
    api_base: str,
    token: str,
    task: str = "",
    idle_minutes: str = "",
    paused: bool = False,
) -> str:
    """Fill in and save the extension's options page as a person would; its status line."""
    driver.get(f"chrome-extension://{extension_id}/options.html")
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "idleMinutes").get_attribute("value"),
        message="the options page never loaded its saved values",
    )
    fields = {"apiBase": api_base, "token": token, "task": task, "idleMinutes": idle_minutes}
    for field, value in fields.items():
        if value or field != "idleMinutes":
            element = driver.find_element(By.ID, field)
            element.clear()
            element.send_keys(value)
    if driver.find_element(By.ID, "paused").is_selected() != paused:
        driver.find_element(By.ID, "paused").click()
    driver.find_element(By.ID, "save").click()
    WebDriverWait(driver, 10).until(lambda d: "Saved" in d.find_element(By.ID, "status").text)
    return driver.find_element(By.ID, "status").text


def _sign_in(driver: WebDriver, sandbox: str, handle: str) -> None:
    driver.get(f"{sandbox}/sandbox/upload/")
    driver.find_element(*_testid("login-handle")).send_keys(handle)
    driver.find_element(*_testid("login-password")).send_keys(f"pw-{handle}-secret")
    submit = driver.find_element(*_testid("login-submit"))
    submit.click()
    _next_page(driver, submit)


def _human_sessions(workspace: Workspace) -> list[CapturedSession]:
    return list(
        CapturedSession.objects.filter(
            workspace=workspace, kind=CapturedSession.Kind.HUMAN
        ).order_by("started_at")
    )


def _input_testids(session: CapturedSession) -> list[str]:
    return [
        target_of(e)["attributes"]["data-testid"]
        for e in session.interactions.filter(kind="input").order_by("sequence")
    ]


def test_the_extension_records_a_person_publishing_and_sends_it_to_the_ingest_api(
    sandbox: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    extension_browser: tuple[WebDriver, str],
    api_client_for: Callable[..., APIClient],
) -> None:
    driver, extension_id = extension_browser
    _, remote = sandbox_account(workspace, "demo")
    password = "pw-demo-secret"
    token, plain = ingest_token_create(workspace=workspace, name="recorder test")

    # Set up as a person would: the extension's options page.
    status = _options_save(
        driver, extension_id, api_base=sandbox, token=plain, task="Publish a post on the sandbox"
    )
    assert "Connected" in status, status

    # A person signs in and publishes a post, typing everything by hand.
    _sign_in(driver, sandbox, "demo")
    driver.execute_script("window.scrollTo(0, 200)")
    driver.find_element(*_testid("upload-title")).send_keys("Holiday snaps")
    driver.find_element(*_testid("upload-caption")).send_keys("Sunny day at the beach")
    submit = driver.find_element(*_testid("upload-submit"))
    submit.click()
    _next_page(driver, submit)
    assert driver.find_elements(*_testid("post-published"))
    assert SandboxPost.objects.filter(account=remote, title="Holiday snaps").exists()

    # Closing the tab closes the session: keep the browser up with a second tab.
    recorded_tab = driver.current_window_handle
    driver.switch_to.new_window("tab")
    blank_tab = driver.current_window_handle
    driver.switch_to.window(recorded_tab)
    driver.close()
    driver.switch_to.window(blank_tab)

    def closed() -> bool:
        return (
            CapturedSession.objects.filter(workspace=workspace, kind=CapturedSession.Kind.HUMAN)
            .exclude(state=CapturedSession.State.RECORDING)
            .exists()
        )

    wait_until(closed, timeout=30, on_timeout="the extension never closed its session")
    session = CapturedSession.objects.get(workspace=workspace)
    assert session.created_by_token_id == token.pk
    assert session.task == "Publish a post on the sandbox"
    assert session.start_url.startswith(f"{sandbox}/sandbox/")
    assert session.viewport_width and session.user_agent

    # What the API hands back, to a member, is what the page recorded; the
    # extension's token reads no session, its own included.
    answer = api_client_for(workspace).get(f"/api/v1/capture/sessions/{session.pk}/")
    assert answer.status_code == 200, answer.content
    assert answer.json()["events_count"] == session.events_count > 0
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Capture {plain}")
    assert client.get(f"/api/v1/capture/sessions/{session.pk}/").status_code == 404

    events = list(session.interactions.order_by("sequence"))
    kinds = [e.kind for e in events]
    assert [e.sequence for e in events] == list(range(len(events)))
    for kind in ("navigate", "input", "click", "submit", "scroll"):
        assert kind in kinds, kinds
    # Two forms, each: typed fields, a click on its button, its submit.
    assert kinds.count("submit") == 2
    clicks = [e for e in events if e.kind == "click"]
    assert [target_of(c)["attributes"]["data-testid"] for c in clicks] == [
        "login-submit",
        "upload-submit",
    ]
    for click in clicks:
        best = target_of(click)["selectors"][0]
        assert best["kind"] == "testid" and best["score"] == 1.0 and best["unique"]
        assert click.found_in_dom
    inputs = {target_of(e)["attributes"]["data-testid"]: e for e in events if e.kind == "input"}
    assert set(inputs) == {"login-handle", "login-password", "upload-title", "upload-caption"}
    assert inputs["login-password"].value == ""
    assert inputs["login-password"].masked_kinds == ["password"]
    for name in ("login-handle", "upload-title", "upload-caption"):
        assert inputs[name].value == "•••" and inputs[name].masked_kinds == ["input"]
    # (The published post's own page shows its title, as any page may show text.)
    stored = json.dumps([[e.value, e.target, e.url] for e in events], ensure_ascii=False)
    for typed in (password, "Holiday snaps", "Sunny day", plain):
        assert typed not in stored
    # Screenshots come from the extension too (after clicks), stored as WebP.
    assert session.screenshots.exists()


def test_a_paused_extension_sends_nothing(
    sandbox: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    extension_browser: tuple[WebDriver, str],
) -> None:
    driver, extension_id = extension_browser
    sandbox_account(workspace, "quiet")
    _, plain = ingest_token_create(workspace=workspace, name="paused")
    _options_save(driver, extension_id, api_base=sandbox, token=plain, paused=True)

    _sign_in(driver, sandbox, "quiet")
    # What the pages would have sent has had time to arrive; nothing did.
    time.sleep(1.5)
    driver.get(f"chrome-extension://{extension_id}/options.html")
    assert driver.find_element(By.ID, "paused").is_selected()
    assert not CapturedSession.objects.exists()


def test_events_recorded_while_the_farm_is_unreachable_arrive_later_and_idle_sessions_close(
    sandbox: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    extension_browser: tuple[WebDriver, str],
) -> None:
    driver, extension_id = extension_browser
    sandbox_account(workspace, "offline")
    _, plain = ingest_token_create(workspace=workspace, name="offline")
    nowhere = f"http://127.0.0.1:{free_port(0)}"
    status = _options_save(driver, extension_id, api_base=nowhere, token=plain, idle_minutes="0.1")
    assert "could not be reached" in status, status

    # Recorded while every send fails: the events wait in the extension.
    _sign_in(driver, sandbox, "offline")
    time.sleep(1)  # the new page's first events go out after 300 ms
    assert not _human_sessions(workspace)

    # The farm is back. Nothing more happens in the page: the extension's own
    # timer sends what waited, then closes the session once it has been idle.
    status = _options_save(driver, extension_id, api_base=sandbox, token=plain)
    assert "Connected" in status, status

    def closed() -> bool:
        sessions = _human_sessions(workspace)
        return bool(sessions) and sessions[0].state != CapturedSession.State.RECORDING

    wait_until(closed, timeout=30, on_timeout="the queued events never came, or never closed")
    (session,) = _human_sessions(workspace)
    assert session.ended_at is not None
    events = list(session.interactions.order_by("sequence"))
    assert [e.sequence for e in events] == list(range(len(events)))
    assert [e.kind for e in events if e.kind != "scroll"][:5] == [
        "navigate",
        "input",
        "input",
        "click",
        "submit",
    ]
    assert _input_testids(session) == ["login-handle", "login-password"]
    assert events[-1].kind == "navigate" and "/sandbox/upload/" in events[-1].url


def test_a_session_closed_by_the_farm_goes_on_in_a_new_one(
    sandbox: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    extension_browser: tuple[WebDriver, str],
) -> None:
    driver, extension_id = extension_browser
    sandbox_account(workspace, "reopen")
    _, plain = ingest_token_create(workspace=workspace, name="reopen")
    _options_save(driver, extension_id, api_base=sandbox, token=plain)
    _sign_in(driver, sandbox, "reopen")

    def signed_in_recorded() -> bool:
        # The sign-in form's submit, and the page it led to, have arrived.
        sessions = _human_sessions(workspace)
        return bool(sessions) and (
            sessions[0].interactions.filter(kind="submit").exists()
            and sessions[0].interactions.filter(kind="navigate").count() >= 2
        )

    wait_until(signed_in_recorded, timeout=15, on_timeout="the sign-in never arrived")
    (first,) = _human_sessions(workspace)

    # An operator (here: the API) closes the session while the person goes on.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Capture {plain}")
    answer = client.post(f"/api/v1/capture/sessions/{first.pk}/close/")
    assert answer.status_code == 200, answer.content
    driver.find_element(*_testid("upload-title")).send_keys("After the close")
    submit = driver.find_element(*_testid("upload-submit"))
    submit.click()
    _next_page(driver, submit)

    wait_until(
        lambda: (
            len(_human_sessions(workspace)) == 2
            and _human_sessions(workspace)[1].interactions.filter(kind="submit").exists()
        ),
        timeout=15,
        on_timeout="the events after the close never arrived in a new session",
    )
    first, second = _human_sessions(workspace)
    assert _input_testids(first) == ["login-handle", "login-password"]
    assert _input_testids(second) == ["upload-title"]
    sequences = list(second.interactions.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(len(sequences)))
