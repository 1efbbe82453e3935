"""recorder.js in real headless Chromium: what it records, how it names targets, what it masks."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from capture.recorder import RECORDER_PATH, recorder_bootstrap

pytestmark = pytest.mark.e2e

FORM_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Upload form</title></head>
<body>
  <nav><a href="/other.html" data-testid="nav-other">Other page</a></nav>
  <form id="upload" action="/done.html" method="get" data-testid="upload-form">
    <label for="title">Title</label>
    <input type="text" id="title" name="title" data-testid="upload-title" value="preset-secret">
    <label>Caption
      <textarea name="caption" data-testid="upload-caption">old caption</textarea></label>
    <span id="handle-label">Your handle</span>
    <input type="text" name="handle" aria-labelledby="handle-label">
    <input type="password" name="password" data-testid="login-password" value="server-pw-123">
    <input type="text" name="country" id="country" aria-label="Country">
    <input type="hidden" name="token" value="hidden-token-xyz">
    <input type="checkbox" name="agree" id="agree"><label for="agree">I agree</label>
    <select name="visibility" aria-label="Visibility">
      <option value="public">Public</option><option value="private">Private</option>
    </select>
    <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="Company logo" id="logo">
    <button type="button" title="More options" class="icon"></button>
    <button type="button" class="dup" data-testid="dup">Again</button>
    <button type="button" class="dup" data-testid="dup">Again</button>
    <button type="submit" data-testid="upload-submit">Publish</button>
  </form>
  <div style="height: 3000px">tall</div>
</body></html>
"""
DONE_PAGE = """<!doctype html><html><head><title>Done</title></head>
<body><p data-testid="done">Done</p><button data-testid="again">Again</button></body></html>
"""
OTHER_PAGE = """<!doctype html><html><head><title>Other</title></head>
<body><button id="b1">First</button></body></html>
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    (root / "form.html").write_text(FORM_PAGE)
    (root / "done.html").write_text(DONE_PAGE)
    (root / "other.html").write_text(OTHER_PAGE)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _start(driver: WebDriver, *, allow: list[str] | None = None, session: str = "s1") -> None:
    driver.execute_script(recorder_bootstrap(session_id=session, allow_list=allow or []))


def _drain(driver: WebDriver) -> list[dict[str, Any]]:
    return driver.execute_script("return window.__farmRecorder.drain();")


@pytest.fixture
def page(browser: WebDriver, site: str) -> WebDriver:
    browser.get(f"{site}/form.html")
    _start(browser)
    _drain(browser)
    return browser


def _kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["kind"] for e in events]


def test_a_click_names_its_target_with_scored_selectors_best_first(page: WebDriver) -> None:
    # The page keeps the form from leaving, as a single-page app would.
    page.execute_script("document.forms[0].addEventListener('submit', (e) => e.preventDefault());")
    page.find_element(By.CSS_SELECTOR, '[data-testid="upload-submit"]').click()
    events = _drain(page)
    assert _kinds(events) == ["click", "submit"]
    click = next(e for e in events if e["kind"] == "click")
    target = click["target"]

    assert click["url"].endswith("/form.html") and click["title"] == "Upload form"
    assert isinstance(click["timestamp_ms"], int) and click["timestamp_ms"] > 1.6e12
    assert click["found_in_dom"] is True
    assert target["tag"] == "button" and target["text"] == "Publish"
    assert target["role"] == "button" and target["name"] == "Publish"
    assert target["attributes"]["data-testid"] == "upload-submit"
    assert set(target["bbox"]) == {"x", "y", "width", "height"} and target["bbox"]["width"] > 0
    selectors = target["selectors"]
    assert selectors[0] == {
        "kind": "testid",
        "value": '[data-testid="upload-submit"]',
        "score": 1.0,
        "unique": True,
    }
    by_kind = {s["kind"]: s for s in selectors}
    assert by_kind["role"] == {
        "kind": "role",
        "value": 'role=button[name="Publish"]',
        "score": 0.9,
        "unique": True,
    }
    assert by_kind["text"]["value"] == 'text="Publish"' and by_kind["text"]["unique"]
    assert by_kind["css"]["unique"] and by_kind["xpath"]["unique"]
    assert by_kind["xpath"]["value"].startswith("/html/body/form/button")
    # Every selector really finds the target.
    found = page.execute_script(
        "return document.querySelectorAll(arguments[0]).length", by_kind["css"]["value"]
    )
    assert found == 1
    assert [s["score"] for s in selectors] == sorted((s["score"] for s in selectors), reverse=True)
    assert 1 <= len(target["nearby"]) <= 5
    assert all({"tag", "role", "name", "selectors"} <= set(n) for n in target["nearby"])
    # The snippet is the closest form, without anything typed or preset in it.
    assert target["dom_snippet"].startswith("<form")
    assert len(target["dom_snippet"]) <= 4096


def test_a_selector_that_matches_more_than_the_target_scores_lower(page: WebDriver) -> None:
    page.find_elements(By.CSS_SELECTOR, '[data-testid="dup"]')[1].click()
    (click,) = [e for e in _drain(page) if e["kind"] == "click"]
    by_kind = {s["kind"]: s for s in click["target"]["selectors"]}
    assert by_kind["testid"] == {
        "kind": "testid",
        "value": '[data-testid="dup"]',
        "score": 0.5,
        "unique": False,
    }
    assert by_kind["role"]["unique"] is False and by_kind["role"]["score"] < 0.9
    # The best unique selector is then a structural one.
    best = max((s for s in click["target"]["selectors"] if s["unique"]), key=lambda s: s["score"])
    assert best["kind"] == "css"
    assert page.execute_script(
        "return document.querySelectorAll(arguments[0])[0] === "
        "document.querySelectorAll('[data-testid=dup]')[1]",
        best["value"],
    )


def test_accessible_names_come_from_labels_aria_alt_and_title(page: WebDriver) -> None:
    names = page.execute_script(
        """
        const d = (s) => window.__farmRecorder.describe(document.querySelector(s));
        return {
          title: d('#title'), caption: d('textarea'), handle: d('[name=handle]'),
          country: d('#country'), logo: d('#logo'), more: d('.icon'), agree: d('#agree')
        };
        """
    )
    assert names["title"]["name"] == "Title"
    assert {"kind": "label", "value": 'label="Title"', "score": 0.8, "unique": True} in names[
        "title"
    ]["selectors"]
    assert names["caption"]["name"] == "Caption"  # a wrapping label, without its textarea's text
    assert names["handle"]["name"] == "Your handle"  # aria-labelledby
    assert names["country"]["name"] == "Country"  # aria-label
    assert names["logo"]["name"] == "Company logo" and names["logo"]["role"] == "img"
    assert names["more"]["name"] == "More options"  # title, for a button without text
    assert names["agree"]["role"] == "checkbox" and names["agree"]["name"] == "I agree"
    assert names["title"]["role"] == "textbox"
    heading = page.execute_script(
        "const h = document.createElement('h2'); h.textContent = 'Details';"
        "document.body.appendChild(h); return window.__farmRecorder.describe(h);"
    )
    assert {
        "kind": "role",
        "value": 'role=heading[name="Details"]',
        "score": 0.9,
        "unique": True,
    } in (heading["selectors"])
    id_selector = next(s for s in names["title"]["selectors"] if s["kind"] == "id")
    assert id_selector == {"kind": "id", "value": "#title", "score": 0.6, "unique": True}


def test_typed_values_are_masked_and_passwords_never_leave_the_page(page: WebDriver) -> None:
    title = page.find_element(By.ID, "title")
    title.clear()
    title.send_keys("My holiday 2024")
    page.find_element(By.NAME, "password").send_keys("hunter2-Secret")
    page.find_element(By.NAME, "caption").send_keys("a private caption")
    page.find_element(By.ID, "country").send_keys("Portugal")
    page.find_element(By.ID, "agree").click()
    page.find_element(By.CSS_SELECTOR, "body").click()  # blur the last field
    events = _drain(page)
    raw = json.dumps(events, ensure_ascii=False)

    for secret in (
        "My holiday",
        "hunter2",
        "private caption",
        "Portugal",
        "preset-secret",
        "server-pw-123",
        "old caption",
        "hidden-token-xyz",
    ):
        assert secret not in raw
    inputs = {e["target"]["attributes"].get("name"): e for e in events if e["kind"] == "input"}
    assert inputs["password"]["value"] is None
    assert inputs["password"]["masked"] is True
    assert inputs["password"]["masked_kinds"] == ["password"]
    for name in ("title", "caption", "country"):
        assert inputs[name]["value"] == "•••"
        assert inputs[name]["masked"] is True and inputs[name]["masked_kinds"] == ["input"]
    assert inputs["agree"]["value"] == "checked"
    # Typing is debounced: one input event per field edit, not one per key
    # (the title's clearing is an edit of its own).
    names = [e["target"]["attributes"].get("name") for e in events if e["kind"] == "input"]
    assert sorted(names) == ["agree", "caption", "country", "password", "title", "title"]


def test_allow_listed_fields_keep_their_values(browser: WebDriver, site: str) -> None:
    browser.get(f"{site}/form.html")
    _start(browser, allow=["country", "visibility"])
    browser.find_element(By.ID, "country").send_keys("Portugal")
    browser.find_element(By.ID, "title").send_keys(" more")
    browser.find_element(By.CSS_SELECTOR, "select option[value=private]").click()
    browser.find_element(By.CSS_SELECTOR, "body").click()
    inputs = {
        (e["target"]["attributes"].get("name")): e for e in _drain(browser) if e["kind"] == "input"
    }
    assert inputs["country"]["value"] == "Portugal" and inputs["country"]["masked"] is False
    assert inputs["visibility"]["value"] == "private"
    assert inputs["title"]["value"] == "•••"


def test_values_set_by_script_are_recorded_when_their_events_fire(page: WebDriver) -> None:
    # What the sandbox publisher does: set the value, then fire input and change.
    page.execute_script(
        "const fields = [document.querySelector('#title'), document.querySelector('[name=token]')];"
        "for (const el of fields) {"
        "  el.value = 'by script 🌅';"
        "  el.dispatchEvent(new Event('input', {bubbles: true}));"
        "  el.dispatchEvent(new Event('change', {bubbles: true}));"
        "}"
    )
    events = _drain(page)
    inputs = [e for e in events if e["kind"] == "input"]
    # One event for the visible field (input then change make one), none for the hidden one.
    assert len(inputs) == 1
    assert inputs[0]["target"]["attributes"]["data-testid"] == "upload-title"
    assert inputs[0]["value"] == "•••"


def test_submit_and_events_before_a_page_change_reach_the_next_page(
    browser: WebDriver, site: str
) -> None:
    browser.get(f"{site}/form.html")
    _start(browser, session="nav")
    browser.find_element(By.ID, "title").send_keys("x")
    browser.find_element(By.CSS_SELECTOR, '[data-testid="upload-submit"]').click()
    deadline = time.monotonic() + 10
    while not browser.current_url.split("?")[0].endswith("/done.html"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    _start(browser, session="nav")  # the same session picks up what the last page kept
    events = _drain(browser)
    assert _kinds(events) == ["navigate", "input", "click", "submit", "navigate"]
    assert [e["sequence"] for e in events] == list(range(5))
    submit = events[3]
    assert submit["target"]["tag"] == "form"
    assert submit["target"]["selectors"][0]["value"] == '[data-testid="upload-form"]'
    assert events[-1]["url"].split("?")[0].endswith("/done.html") and events[-1]["title"] == "Done"


def test_the_script_injected_on_every_new_document_survives_navigations(
    browser: WebDriver, site: str
) -> None:
    bootstrap = recorder_bootstrap(session_id="cdp", allow_list=[])
    added = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": bootstrap})
    try:
        browser.get(f"{site}/other.html")
        browser.find_element(By.ID, "b1").click()
        browser.get(f"{site}/done.html")
        browser.find_element(By.CSS_SELECTOR, '[data-testid="again"]').click()
        events = _drain(browser)
    finally:
        browser.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": added["identifier"]}
        )
    # The first page's events came along with the same-origin navigation.
    assert _kinds(events) == ["navigate", "click", "navigate", "click"]
    assert events[1]["target"]["selectors"][0] == {
        "kind": "role",
        "value": 'role=button[name="First"]',
        "score": 0.9,
        "unique": True,
    }


def test_injecting_twice_records_each_event_once(page: WebDriver) -> None:
    source = RECORDER_PATH.read_text()
    page.execute_script(source)
    _start(page)
    page.execute_script(source)
    _start(page)
    page.find_element(By.CSS_SELECTOR, '[data-testid="nav-other"]').click()
    time.sleep(0.2)
    page.get(page.current_url)  # back to a fresh form page
    _start(page)
    events = _drain(page)
    assert _kinds(events).count("click") == 1


def test_scrolling_is_throttled(page: WebDriver) -> None:
    for y in range(0, 1500, 50):
        page.execute_script("window.scrollTo(0, arguments[0]);", y)
    time.sleep(0.8)
    scrolls = [e for e in _drain(page) if e["kind"] == "scroll"]
    assert 1 <= len(scrolls) <= 3
    assert scrolls[-1]["scroll"] == {"x": 0, "y": 1450}
    assert scrolls[-1]["target"] is None


def test_stop_ends_recording_and_a_new_session_starts_clean(page: WebDriver) -> None:
    page.find_element(By.CSS_SELECTOR, '[data-testid="nav-other"]').get_attribute("href")
    page.execute_script("window.__farmRecorder.stop();")
    page.find_element(By.ID, "agree").click()
    assert _drain(page) == []
    _start(page, session="another")
    page.find_element(By.ID, "agree").click()
    events = _drain(page)
    assert _kinds(events)[0] == "navigate"
    assert events[0]["sequence"] == 0
    assert "click" in _kinds(events)


def test_every_event_says_whether_the_browser_made_it(page: WebDriver) -> None:
    # Publish runs record everything (their publisher sets values by script) and
    # say which events were real input: ChromeDriver's clicks and keys are.
    page.execute_script(
        "document.forms[0].addEventListener('submit', (e) => e.preventDefault());"
        "const title = document.querySelector('#title');"
        "title.value = 'by script';"
        "title.dispatchEvent(new Event('input', {bubbles: true}));"
        "title.dispatchEvent(new Event('change', {bubbles: true}));"
        "document.querySelector('[data-testid=dup]').click();"
        "document.querySelector('.icon').dispatchEvent(new MouseEvent('click', {bubbles: true}));"
        # A trusted submit event, but no person's action came before it.
        "document.forms[0].requestSubmit();"
    )
    page.find_element(By.ID, "country").send_keys("Portugal")
    page.find_element(By.CSS_SELECTOR, '[data-testid="upload-submit"]').click()
    events = _drain(page)
    seen = [
        (e["kind"], (e["target"] or {}).get("attributes", {}).get("name"), e["trusted"])
        for e in events
    ]
    assert seen == [
        ("input", "title", False),
        ("click", None, False),
        ("click", None, False),
        ("submit", None, False),
        ("input", "country", True),
        ("click", None, True),
        ("submit", None, True),
    ]


def test_trusted_only_records_no_synthetic_event_and_keeps_nothing_in_session_storage(
    browser: WebDriver, site: str
) -> None:
    # As the extension starts it: a page's own events and storage count for nothing.
    start = (
        "window.__farmRecorder.start({sessionId: 'extension', allowList: [],"
        " trustedOnly: true, persist: false});"
    )
    browser.get(f"{site}/form.html")
    browser.execute_script(RECORDER_PATH.read_text() + start)
    forged = {
        "sessionId": "extension",
        "sequence": 7,
        "events": [{"sequence": 0, "kind": "click", "title": "FORGED", "trusted": True}],
    }
    browser.execute_script(
        "sessionStorage.setItem('__farmRecorder.pending', arguments[0]);"
        "document.querySelector('[data-testid=dup]').click();"
        "document.querySelector('.icon').dispatchEvent(new MouseEvent('click', {bubbles: true}));"
        "const title = document.querySelector('#title');"
        "title.value = 'by script';"
        "title.dispatchEvent(new Event('input', {bubbles: true}));"
        "title.dispatchEvent(new Event('change', {bubbles: true}));"
        "document.forms[0].addEventListener('submit', (e) => e.preventDefault());"
        "document.forms[0].requestSubmit();"
        "window.dispatchEvent(new PopStateEvent('popstate'));",
        json.dumps(forged),
    )
    assert _kinds(_drain(browser)) == ["navigate"]

    # ChromeDriver's input is real: it records, trusted.
    browser.find_element(By.ID, "country").send_keys("Portugal")
    browser.find_element(By.CSS_SELECTOR, '[data-testid="upload-submit"]').click()
    events = _drain(browser)
    assert _kinds(events) == ["input", "click", "submit"]
    assert all(e["trusted"] for e in events)

    # The page's sessionStorage is neither written nor read: the forged entry stays
    # as the page left it, and the next page of the same origin does not take it.
    browser.find_element(By.CSS_SELECTOR, '[data-testid="nav-other"]').click()
    deadline = time.monotonic() + 10
    while not browser.current_url.endswith("/other.html"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert browser.execute_script(
        "return sessionStorage.getItem('__farmRecorder.pending')"
    ) == json.dumps(forged)
    browser.execute_script(RECORDER_PATH.read_text() + start)
    events = _drain(browser)
    assert _kinds(events) == ["navigate"]
    assert "FORGED" not in json.dumps(events)
