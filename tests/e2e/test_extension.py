"""The Manifest V3 extension, unpacked into real headless Chromium, records a person's session.

Chromium starts with --load-extension (headless=new runs extensions). The
extension is set up through its own options page (the farm's address, a token,
the sites to record, recording switched on), a person signs in to the sandbox
and publishes a post, and the session must arrive through the ingest API: its
events, selectors with the test id first, the password masked and no typed
value anywhere. Then what the extension must refuse: pages forging events,
content scripts reading the token or sending junk, plain http to another
machine, sites nobody opted into and the farm's own pages.

The farm is the live server under one name (`http://localhost:PORT`) and the
sandbox, as a site the person records, the same server under another
(`http://127.0.0.1:PORT`): the farm's own origin is never recorded.

Granting a site in headless Chromium. A person allows a site with a click on
the options page's "Allow this site", which calls chrome.permissions.request.
A Selenium click is a real user gesture for it, but Chromium then shows its
permission prompt, which headless Chromium cannot answer: the request stays
pending (the old --apps-gallery-install-auto-confirm-for-tests switch does
nothing for it, and the ExtensionSettings policy's runtime_allowed_hosts only
lifts a policy block, it grants nothing).
So the test's copy of the extension (never the shipped one) declares the test
hosts in `host_permissions`, which Chromium grants at load; the same click on
"Allow this site" then gets `true` at once, without a prompt, and the rest is
the shipped code path: the site joins the person's list and the worker
registers the content scripts for it. A host granted this way but not allowed
on the options page is not recorded, as a test below shows.

Screenshots need the toolbar button (activeTab: Chromium lets an extension
capture a tab only with it or with <all_urls>, which this one no longer asks
for). Headless Chromium has no toolbar; CDP's Extensions.triggerAction clicks
the button for a tab, as a person would, and grants activeTab the same way.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import websocket
from django.conf import settings
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import Workspace
from browsers.pages import page_left_wait
from capture.models import CapturedSession, Interaction
from capture.services import ingest_token_create
from core.processes import free_port
from sandbox.models import SandboxPost
from tests.chromium import chromium_open
from tests.factories import target_of

from .conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

EXTENSION_DIR = Path(settings.BASE_DIR) / "capture" / "extension"
# Hosts the test's copy of the extension holds from the start (see the module's docstring).
TEST_HOSTS = ["http://127.0.0.1/*", "http://localhost/*", "http://farm.test/*"]

# A test-only content script in the test's copy: what a compromised content
# script could try. It reports whether it could read the extension's storage,
# and passes a page's `farm-probe` events on to the worker as messages.
PROBE_JS = """
(function () {
  const root = document.documentElement;
  function report(name, area) {
    try {
      area.get(null).then(
        (items) => { root.dataset[name] = "read " + JSON.stringify(items); },
        (error) => { root.dataset[name] = "refused " + error.message; }
      );
    } catch (error) {
      root.dataset[name] = "refused " + error.message;
    }
  }
  report("probeLocal", chrome.storage.local);
  report("probeSession", chrome.storage.session);
  let replies = 0;
  window.addEventListener("farm-probe", (event) => {
    chrome.runtime.sendMessage(JSON.parse(event.detail), () => {
      void chrome.runtime.lastError;
      replies += 1;
      root.dataset.probeReplies = String(replies);
    });
  });
})();
"""


def unpacked_extension_id(path: Path) -> str:
    """Chromium's id for an unpacked extension: the SHA-256 of its path, spelled in a-p."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def _other_name(url: str) -> str:
    """The same server under the other loopback name: a different origin."""
    parts = urlsplit(url)
    host = "127.0.0.1" if parts.hostname == "localhost" else "localhost"
    return f"{parts.scheme}://{host}:{parts.port}"


@pytest.fixture
def farm(sandbox: str) -> str:
    """The farm's address, as the person types it into the options page."""
    return sandbox


@pytest.fixture
def site(sandbox: str) -> str:
    """The sandbox, as a site the person records: not the farm's origin."""
    return _other_name(sandbox)


def _launch(tmp_path: Path, *, probe: bool) -> tuple[WebDriver, str]:
    folder = tmp_path / "extension"
    shutil.copytree(EXTENSION_DIR, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["host_permissions"] = TEST_HOSTS
    if probe:
        (folder / "probe.js").write_text(PROBE_JS)
        manifest["content_scripts"] = [
            {"matches": ["http://127.0.0.1/*"], "js": ["probe.js"], "run_at": "document_start"}
        ]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    driver = chromium_open(
        tmp_path / "profile",
        "--window-size=1000,420",  # short, so the upload page scrolls
        f"--load-extension={folder}",
        f"--disable-extensions-except={folder}",
        # CDP's Extensions.triggerAction (the toolbar button) on a second connection.
        "--enable-unsafe-extension-debugging",
        # farm.test is this machine: an address that is not loopback by name.
        "--host-resolver-rules=MAP farm.test 127.0.0.1",
    )
    driver.set_page_load_timeout(30)
    return driver, unpacked_extension_id(folder)


@pytest.fixture
def extension_browser(tmp_path: Path) -> Iterator[tuple[WebDriver, str]]:
    driver, extension_id = _launch(tmp_path, probe=False)
    try:
        yield driver, extension_id
    finally:
        driver.quit()


@pytest.fixture
def probe_browser(tmp_path: Path) -> Iterator[tuple[WebDriver, str]]:
    driver, extension_id = _launch(tmp_path, probe=True)
    try:
        yield driver, extension_id
    finally:
        driver.quit()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


FORGE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Forge</title></head>
<body>
  <form id="f"><input name="title" id="title"><button data-testid="synthetic">Go</button></form>
  <a href="/next.html" data-testid="to-next">Next</a>
  <script>
    const forged = JSON.stringify({
      sessionId: "extension",
      sequence: 100,
      events: [{
        sequence: 0, timestamp_ms: Date.now(), kind: "click", url: location.href,
        title: "FORGED-TITLE", value: null, masked: false, masked_kinds: [],
        target: {tag: "button", text: "FORGED-CLICK", role: "button", name: "FORGED-CLICK",
                 attributes: {"data-testid": "forged"}, bbox: null, nearby: [],
                 selectors: [{kind: "testid", value: "[data-testid=forged]", score: 1,
                              unique: true}],
                 dom_snippet: "<button>FORGED-CLICK</button>"},
        scroll: null, found_in_dom: true, dom_changed: true, trusted: true
      }]
    });
    sessionStorage.setItem("__farmRecorder.pending", forged);
    // After the recorder's own pagehide, so the next page would find it.
    addEventListener("pagehide", () => sessionStorage.setItem("__farmRecorder.pending", forged));
    const form = document.getElementById("f");
    form.addEventListener("submit", (e) => e.preventDefault());
    const button = document.querySelector("[data-testid=synthetic]");
    button.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true}));
    button.click();
    const title = document.getElementById("title");
    title.value = "FORGED-VALUE";
    title.dispatchEvent(new Event("input", {bubbles: true}));
    title.dispatchEvent(new Event("change", {bubbles: true}));
    form.requestSubmit();
    dispatchEvent(new PopStateEvent("popstate"));
    document.body.dataset.forged = "yes";
  </script>
</body></html>
"""
NEXT_PAGE = """<!doctype html><html><head><title>Next</title></head>
<body><button data-testid="real">Real</button>
<script>document.querySelector("button").dispatchEvent(new MouseEvent("click"));</script>
</body></html>
"""
PLAIN_PAGE = """<!doctype html><html><head><title>Plain</title></head>
<body><button data-testid="plain">Plain</button></body></html>
"""


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[str]:
    """A small site of its own (another origin again): http://127.0.0.1:PORT."""
    root = tmp_path / "pages"
    root.mkdir()
    (root / "forge.html").write_text(FORGE_PAGE)
    (root / "next.html").write_text(NEXT_PAGE)
    (root / "plain.html").write_text(PLAIN_PAGE)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def _testid(name: str) -> tuple[str, str]:
    return By.CSS_SELECTOR, f'[data-testid="{name}"]'


def _next_page(driver: WebDriver, old: WebElement) -> None:
    page_left_wait(driver, old, seconds=20)


def _open_options(driver: WebDriver, extension_id: str) -> None:
    driver.get(f"chrome-extension://{extension_id}/options.html")
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded"),
        message="the options page never loaded its saved values",
    )


def _allow_site(driver: WebDriver, origin: str) -> str:
    """Type a site into the options page (open) and click "Allow this site"; its status line."""
    field = driver.find_element(By.ID, "site")
    field.clear()
    field.send_keys(origin)
    before = driver.find_element(By.ID, "siteStatus").text
    driver.find_element(By.ID, "allowSite").click()
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "siteStatus").text not in ("", before)
    )
    return driver.find_element(By.ID, "siteStatus").text


def _options_save(
    driver: WebDriver,
    extension_id: str,
    *,
    api_base: str,
    token: str,
    task: str = "",
    idle_minutes: str = "",
    recording: bool = True,
    sites: tuple[str, ...] = (),
) -> str:
    """Fill in and save the extension's options page as a person would; its status line."""
    _open_options(driver, extension_id)
    fields = {"apiBase": api_base, "token": token, "task": task, "idleMinutes": idle_minutes}
    for field, value in fields.items():
        if value or field != "idleMinutes":
            element = driver.find_element(By.ID, field)
            element.clear()
            element.send_keys(value)
    if driver.find_element(By.ID, "recording").is_selected() != recording:
        driver.find_element(By.ID, "recording").click()
    status = driver.find_element(By.ID, "status").text
    driver.find_element(By.ID, "save").click()
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "status").text not in ("", status)
    )
    status = driver.find_element(By.ID, "status").text
    assert "Saved" in status, status
    for origin in sites:
        allowed = _allow_site(driver, origin)
        assert allowed.startswith(f"Allowed: {origin}"), allowed
    return status


def _stored_settings(driver: WebDriver, extension_id: str) -> dict[str, Any]:
    _open_options(driver, extension_id)
    return driver.execute_async_script(
        "chrome.storage.local.get(null).then(arguments[arguments.length - 1]);"
    )


def _cdp_call(ws: websocket.WebSocket, number: int, method: str, params: dict[str, Any]) -> Any:
    ws.send(json.dumps({"id": number, "method": method, "params": params}))
    while True:
        answer = json.loads(ws.recv())
        if answer.get("id") == number:
            assert "error" not in answer, answer
            return answer["result"]


def _click_toolbar_button(driver: WebDriver, extension_id: str) -> None:
    """Click the extension's toolbar button in the current tab, as a person would.

    ChromeDriver's own CDP session may not call Extensions.triggerAction, so
    this opens a second connection to the browser target.
    """
    address = driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
    with urllib.request.urlopen(f"http://{address}/json/version", timeout=10) as answer:
        browser_url = json.load(answer)["webSocketDebuggerUrl"]
    ws = websocket.create_connection(browser_url, suppress_origin=True, timeout=10)
    try:
        targets = _cdp_call(ws, 1, "Target.getTargets", {"filter": [{}]})["targetInfos"]
        (tab,) = [t for t in targets if t["type"] == "tab" and t["url"] == driver.current_url]
        _cdp_call(
            ws, 2, "Extensions.triggerAction", {"id": extension_id, "targetId": tab["targetId"]}
        )
    finally:
        ws.close()


def _sign_in(
    driver: WebDriver, site: str, handle: str, *, on_page: Callable[[], None] | None = None
) -> None:
    driver.get(f"{site}/sandbox/upload/")
    if on_page:
        on_page()
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


def _click_testids(session: CapturedSession) -> list[str]:
    return [
        target_of(e)["attributes"].get("data-testid", "")
        for e in session.interactions.filter(kind="click").order_by("sequence")
    ]


def _events(session: CapturedSession) -> list[Interaction]:
    return list(session.interactions.order_by("sequence"))


def test_the_extension_records_a_person_publishing_and_sends_it_to_the_ingest_api(
    farm: str,
    site: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    extension_browser: tuple[WebDriver, str],
    api_client_for: Callable[..., APIClient],
) -> None:
    driver, extension_id = extension_browser
    _, remote = sandbox_account(workspace, "demo")
    password = "pw-demo-secret"
    token, plain = ingest_token_create(workspace=workspace, name="recorder test")

    # Set up as a person would: the extension's options page, the site allowed.
    status = _options_save(
        driver,
        extension_id,
        api_base=farm,
        token=plain,
        task="Publish a post on the sandbox",
        sites=(site,),
    )
    assert "Connected" in status, status

    # A person signs in and publishes a post, typing everything by hand; on the
    # first page they click the extension's button, which allows screenshots.
    _sign_in(driver, site, "demo", on_page=lambda: _click_toolbar_button(driver, extension_id))
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
    assert session.start_url.startswith(f"{site}/sandbox/")
    assert session.viewport_width and session.user_agent

    # What the API hands back, to a member, is what the page recorded; the
    # extension's token reads no session, its own included.
    answer = api_client_for(workspace).get(f"/api/v1/capture/sessions/{session.pk}/")
    assert answer.status_code == 200, answer.content
    assert answer.json()["events_count"] == session.events_count > 0
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Capture {plain}")
    assert client.get(f"/api/v1/capture/sessions/{session.pk}/").status_code == 404

    events = _events(session)
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


def test_recording_is_off_until_switched_on_and_a_switched_off_extension_sends_nothing(
    farm: str,
    site: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    extension_browser: tuple[WebDriver, str],
) -> None:
    driver, extension_id = extension_browser
    sandbox_account(workspace, "quiet")
    _, plain = ingest_token_create(workspace=workspace, name="paused")
    _open_options(driver, extension_id)
    assert not driver.find_element(By.ID, "recording").is_selected()  # a fresh install
    status = _options_save(
        driver, extension_id, api_base=farm, token=plain, recording=False, sites=(site,)
    )
    assert "Recording is off" in status, status

    _sign_in(driver, site, "quiet")
    # What the pages would have sent has had time to arrive; nothing did.
    time.sleep(1.5)
    _open_options(driver, extension_id)
    assert not driver.find_element(By.ID, "recording").is_selected()
    assert not CapturedSession.objects.exists()


def test_events_recorded_while_the_farm_is_unreachable_arrive_later_and_idle_sessions_close(
    farm: str,
    site: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    extension_browser: tuple[WebDriver, str],
) -> None:
    driver, extension_id = extension_browser
    sandbox_account(workspace, "offline")
    _, plain = ingest_token_create(workspace=workspace, name="offline")
    nowhere = f"http://127.0.0.1:{free_port(0)}"
    status = _options_save(
        driver, extension_id, api_base=nowhere, token=plain, idle_minutes="0.1", sites=(site,)
    )
    assert "could not be reached" in status, status

    # Recorded while every send fails: the events wait in the extension.
    _sign_in(driver, site, "offline")
    time.sleep(1)  # the new page's first events go out after 300 ms
    assert not _human_sessions(workspace)

    # The farm is back. Nothing more happens in the page: the extension's own
    # timer sends what waited, then closes the session once it has been idle.
    status = _options_save(driver, extension_id, api_base=farm, token=plain)
    assert "Connected" in status, status

    def closed() -> bool:
        sessions = _human_sessions(workspace)
        return bool(sessions) and sessions[0].state != CapturedSession.State.RECORDING

    wait_until(closed, timeout=30, on_timeout="the queued events never came, or never closed")
    (session,) = _human_sessions(workspace)
    assert session.ended_at is not None
    events = _events(session)
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
    farm: str,
    site: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    extension_browser: tuple[WebDriver, str],
) -> None:
    driver, extension_id = extension_browser
    sandbox_account(workspace, "reopen")
    _, plain = ingest_token_create(workspace=workspace, name="reopen")
    _options_save(driver, extension_id, api_base=farm, token=plain, sites=(site,))
    _sign_in(driver, site, "reopen")

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


def test_only_sites_the_person_allowed_are_recorded_and_never_the_farm_itself(
    farm: str,
    site: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    extension_browser: tuple[WebDriver, str],
) -> None:
    driver, extension_id = extension_browser
    sandbox_account(workspace, "picky")
    _, plain = ingest_token_create(workspace=workspace, name="picky")
    _options_save(driver, extension_id, api_base=farm, token=plain)
    # The farm's own address cannot be allowed.
    refused = _allow_site(driver, farm)
    assert refused.startswith("Not allowed") and "farm's own address" in refused, refused
    assert "sites" not in _stored_settings(driver, extension_id)

    # Recording is on, and Chromium would let the extension in (the test's copy
    # holds the host), but nobody allowed the site: nothing is recorded. Nor on
    # the farm's pages.
    _sign_in(driver, site, "picky")
    driver.get(f"{farm}/sandbox/")
    time.sleep(1.5)
    assert not CapturedSession.objects.exists()

    # Allowed, the site is recorded from its next page on.
    _open_options(driver, extension_id)
    assert _allow_site(driver, site) == f"Allowed: {site}."
    driver.get(f"{site}/sandbox/upload/")
    driver.find_element(*_testid("upload-title")).send_keys("Allowed now")
    driver.find_element(*_testid("upload-submit")).click()
    wait_until(
        lambda: any(
            s.interactions.filter(kind="click").exists() for s in _human_sessions(workspace)
        ),
        timeout=15,
        on_timeout="nothing arrived from the allowed site",
    )
    (session,) = _human_sessions(workspace)
    events = _events(session)
    assert events[0].kind == "navigate" and events[0].url == f"{site}/sandbox/upload/"
    assert all(e.url.startswith(f"{site}/") for e in events)
    assert _input_testids(session) == ["upload-title"]


def test_a_page_cannot_forge_events_through_storage_or_synthetic_events(
    farm: str,
    pages: str,
    workspace: Workspace,
    extension_browser: tuple[WebDriver, str],
) -> None:
    driver, extension_id = extension_browser
    _, plain = ingest_token_create(workspace=workspace, name="forge")
    _options_save(driver, extension_id, api_base=farm, token=plain, sites=(pages,))

    # The page writes a forged buffer into sessionStorage, as the recorder kept
    # one, and dispatches a synthetic click, a button's click(), a script-set
    # value with input and change events, a requestSubmit() and a popstate.
    driver.get(f"{pages}/forge.html")
    assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-forged") == "yes"
    # Then the person really clicks through to the next page of the same origin
    # (where a recorder keeping its buffer in sessionStorage would take the
    # forged one back), whose script fires one more synthetic click; the person
    # clicks a button there.
    link = driver.find_element(*_testid("to-next"))
    link.click()
    _next_page(driver, link)
    driver.find_element(*_testid("real")).click()

    wait_until(
        lambda: any("real" in _click_testids(s) for s in _human_sessions(workspace)),
        timeout=15,
        on_timeout="the real click never arrived",
    )
    time.sleep(1)  # anything else on its way has arrived
    (session,) = _human_sessions(workspace)
    events = _events(session)
    assert [e.sequence for e in events] == list(range(len(events)))
    assert [e.kind for e in events] == ["navigate", "click", "navigate", "click"]
    assert _click_testids(session) == ["to-next", "real"]
    stored = json.dumps([[e.value, e.title, e.target, e.url] for e in events])
    assert "FORGED" not in stored


def test_the_worker_checks_and_caps_what_content_scripts_send_and_they_cannot_read_settings(
    farm: str,
    pages: str,
    workspace: Workspace,
    probe_browser: tuple[WebDriver, str],
) -> None:
    driver, extension_id = probe_browser
    _, plain = ingest_token_create(workspace=workspace, name="probe")
    _options_save(driver, extension_id, api_base=farm, token=plain, sites=(pages,))
    driver.get(f"{pages}/plain.html")

    # A content script of the extension (the test's probe) cannot read the
    # settings, the token among them, nor the worker's queue.
    root = driver.find_element(By.TAG_NAME, "html")
    WebDriverWait(driver, 10).until(
        lambda d: (
            root.get_attribute("data-probe-local") and root.get_attribute("data-probe-session")
        )
    )
    for name in ("data-probe-local", "data-probe-session"):
        assert (root.get_attribute(name) or "").startswith("refused"), root.get_attribute(name)
    assert plain not in (root.get_attribute("data-probe-local") or "")
    # The page's own navigate, from the extension's content script, comes first.
    wait_until(
        lambda: bool(_human_sessions(workspace)),
        timeout=15,
        on_timeout="the page's navigate never arrived",
    )

    # What a compromised content script might send the worker.
    now = int(time.time() * 1000)
    url = f"{pages}/plain.html"

    def event(kind: str = "navigate", **fields: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "sequence": 0,
            "timestamp_ms": now,
            "kind": kind,
            "url": url,
            "title": "Plain",
            "value": None,
            "masked": False,
            "masked_kinds": [],
            "target": None,
            "scroll": None,
            "found_in_dom": None,
            "trusted": True,
        }
        if kind == "click":
            base["target"] = {"tag": "button", "selectors": []}
        base.update(fields)
        return base

    big_target = {
        "tag": "button",
        "text": "T" * 10_000,
        "attributes": {f"data-a{i}": "v" for i in range(500)},
        "selectors": [
            {"kind": "css", "value": f"#s{i}", "score": 0.4, "unique": True} for i in range(50)
        ],
        "nearby": [{"tag": "a", "selectors": []} for _ in range(50)],
        "dom_snippet": "<div>" + "S" * 100_000 + "</div>",
    }
    first: list[Any] = [
        event(title="KEPT-1"),
        event(kind="evil", title="BAD-KIND"),
        event(trusted=False, title="BAD-UNTRUSTED"),
        {k: v for k, v in event(title="BAD-NO-TRUSTED").items() if k != "trusted"},
        event(url=f"{farm}/sandbox/", title="BAD-OTHER-ORIGIN"),
        event(kind="click", target="button", title="BAD-TARGET"),
        event(kind="click", target=None, title="BAD-NO-TARGET"),
        event(timestamp_ms=now - 10 * 24 * 3600 * 1000, title="BAD-OLD"),
        event(masked_kinds=["email"], title="BAD-MASKED-KIND"),
        event(kind="scroll", scroll={"x": "1", "y": 2}, title="BAD-SCROLL"),
        "BAD-NOT-AN-OBJECT",
        event(kind="click", title="KEPT-BIG", target=big_target),
        event(kind="input", title="KEPT-VALUE", value="v" * 50_000, target={"tag": "input"}),
        event(title="KEPT-EXTRA", session="elsewhere", sequence=99),
    ]
    first += [event(title=f"KEPT-FILL-{i}") for i in range(100 - len(first))]
    first += [event(title="BAD-OVER-THE-BATCH-CAP")] * 20
    assert len(first) == 120
    messages = [{"type": "farm-events", "events": first, "viewport": {"width": 800, "height": 600}}]
    # Then more than a session may hold, in batches of 100.
    messages += [
        {"type": "farm-events", "events": [event(title=f"FLOOD-{m}-{i}") for i in range(100)]}
        for m in range(50)
    ]
    for message in messages:
        driver.execute_script(
            "window.dispatchEvent(new CustomEvent('farm-probe', {detail: arguments[0]}));",
            json.dumps(message),
        )
    wait_until(
        lambda: root.get_attribute("data-probe-replies") == str(len(messages)),
        timeout=120,
        on_timeout="the worker never answered every message",
    )

    (session,) = _human_sessions(workspace)
    events = _events(session)
    # The session's cap: 5,000 events, numbered without gaps, the rest dropped.
    assert len(events) == 5000
    assert [e.sequence for e in events] == list(range(5000))
    titles = [e.title for e in events]
    assert not [t for t in titles if t.startswith("BAD")]
    assert titles[:5] == ["Plain", "KEPT-1", "KEPT-BIG", "KEPT-VALUE", "KEPT-EXTRA"]
    assert sum(t.startswith("KEPT-") for t in titles) == 100 - 10
    big = target_of(events[2])
    assert len(big["text"]) == 200
    assert len(big["attributes"]) == 40
    assert len(big["selectors"]) == 10
    assert len(big["nearby"]) == 5
    assert len(big["dom_snippet"]) == 4096
    assert len(events[3].value) == 1000
    assert titles[-1] == "FLOOD-49-8"  # 1 + 90 + 49 * 100 + 9


def test_the_farm_must_be_reached_over_https_unless_it_is_on_this_machine(
    farm: str,
    site: str,
    workspace: Workspace,
    sandbox_account: Callable[..., tuple],
    extension_browser: tuple[WebDriver, str],
    settings: Settings,
) -> None:
    driver, extension_id = extension_browser
    sandbox_account(workspace, "cleartext")
    _, plain = ingest_token_create(workspace=workspace, name="cleartext")
    # farm.test is this machine (the browser maps it), but not by a loopback name:
    # plain http to it would send the token across a network in the clear.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "farm.test"]
    remote = f"http://farm.test:{urlsplit(farm).port}"

    # The options page refuses it, with the reason, and saves nothing.
    _open_options(driver, extension_id)
    for field, value in {"apiBase": remote, "token": plain}.items():
        driver.find_element(By.ID, field).send_keys(value)
    driver.find_element(By.ID, "recording").click()
    driver.find_element(By.ID, "save").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "status").text)
    status = driver.find_element(By.ID, "status").text
    assert status.startswith("Not saved") and "must start with https://" in status, status
    assert "apiBase" not in _stored_settings(driver, extension_id)

    # Stored all the same (by hand, or by an older version), the worker does not use it.
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "chrome.storage.local.set(arguments[0]).then(() => done(true));",
        {"apiBase": remote, "token": plain, "recording": True, "sites": [site]},
    )
    _sign_in(driver, site, "cleartext")
    time.sleep(1.5)
    assert not CapturedSession.objects.exists()

    # On this machine by a loopback name, http is accepted, and the site records.
    status = _options_save(driver, extension_id, api_base=farm, token=plain)
    assert "Connected" in status, status
    driver.get(f"{site}/sandbox/upload/")
    wait_until(
        lambda: bool(_human_sessions(workspace)),
        timeout=15,
        on_timeout="nothing arrived once the address was a loopback one",
    )
