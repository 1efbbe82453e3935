"""recorder.js and the rrweb importer describe the same page the same way.

One fixture page, described twice: recorder.js records a click on each target
in headless Chromium, and the same DOM, serialized in rrweb's node format,
goes through `rrweb_convert` with a click on each target's node id. Each
target's tag, role, accessible name, visible text and selectors (kind, value,
score, uniqueness) must match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from capture.recorder import recorder_bootstrap
from capture.rrweb import rrweb_convert

pytestmark = pytest.mark.e2e

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Parity</title></head>
<body>
<header>
  <nav><a href="/home" id="home">Home</a> <a href="/help">Help <span>centre</span></a></nav>
</header>
<main>
  <section aria-label="Account settings" id="settings">
    <h2>Profile</h2>
    <form id="profile" action="/save">
      <label for="display-name">Display name</label>
      <input id="display-name" name="display_name">
      <input type="email" name="email" aria-label="Email address" placeholder="you@example.com">
      <label>Bio <textarea name="bio">An old bio</textarea></label>
      <label><input type="checkbox" name="newsletter"> Send me the newsletter</label>
      <fieldset><legend>Plan</legend>
        <label><input type="radio" name="plan" value="free"> Free</label>
        <label><input type="radio" name="plan" value="pro"> Pro</label>
      </fieldset>
      <label for="country">Country</label>
      <select id="country" name="country"><option>Portugal</option><option>Spain</option></select>
      <label class="tags">Tags <select name="tags" size="3">
        <option>news</option><option>sport</option><option>music</option></select></label>
      <select name="languages" multiple aria-label="Languages">
        <option>English</option><option>Portuguese</option></select>
      <label>Phone <input name="phone_country" aria-label="Country code">
        <input id="phone-number" name="phone_number"></label>
      <label for="phone-number">Number</label>
      <div contenteditable="true" aria-label="Notes" class="notes"><p>Draft <b>notes</b></p></div>
      <button type="submit" data-testid="save-profile">Save <span>profile</span></button>
    </form>
  </section>
  <section aria-labelledby="usage-title">
    <h3 id="usage-title">Usage</h3>
    <label for="quota">Storage used</label>
    <progress id="quota" value="30" max="100">30 %</progress>
    <hr>
    <div contenteditable="">Plain <i>editable</i> text</div>
  </section>
  <div role="button" tabindex="0" aria-label="Close panel">X</div>
  <a href="/next" role="tab">Next step</a>
  <button class="lines"><div>Line one</div><div>Line two</div></button>
  <button class="more">More</button><button class="more">More</button>
  <input type="submit" value="Send" form="profile">
  <input type="image" alt="Search" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
  <span role="generic" title="Just text">Just text</span>
  <div id="2fa">Two-factor <em>settings</em></div>
</main>
</body></html>
"""

# Where each click lands; a click inside an element is described as the recorder resolves it.
TARGETS = [
    "#home",
    'a[href="/help"] span',
    "#settings",
    "h2",
    "#display-name",
    "[name=email]",
    "textarea",
    "[name=newsletter]",
    "[value=pro]",
    "label[for=country]",
    "#country",
    "label.tags",
    "[name=tags]",
    "[name=languages]",
    "[name=phone_country]",
    "#phone-number",
    ".notes",
    ".notes b",
    "[data-testid=save-profile]",
    "[data-testid=save-profile] span",
    "section[aria-labelledby]",
    "#quota",
    "hr",
    'div[contenteditable=""]',
    "div[role=button]",
    "a[role=tab]",
    ".lines",
    ".more",
    "input[type=submit]",
    "input[type=image]",
    "[role=generic]",
    '[id="2fa"]',
]

# The live DOM in rrweb's snapshot format: node types 0 document, 1 doctype,
# 2 element, 3 text, 4 CDATA, 5 comment. Like rrweb, a form control's current
# value and checked state become attributes and a script's text a placeholder.
SERIALIZE = """
const wanted = arguments[0].map((selector) => document.querySelector(selector));
const ids = new Map();
let next = 1;
function children(node) {
  const out = [];
  for (const child of node.childNodes) {
    const serialized = serialize(child);
    if (serialized) out.push(serialized);
  }
  return out;
}
function serialize(node) {
  const id = next++;
  ids.set(node, id);
  switch (node.nodeType) {
    case Node.DOCUMENT_NODE:
      return {type: 0, childNodes: children(node), id};
    case Node.DOCUMENT_TYPE_NODE:
      return {type: 1, name: node.name, publicId: node.publicId, systemId: node.systemId, id};
    case Node.ELEMENT_NODE: {
      const tagName = node.tagName.toLowerCase();
      const attributes = {};
      for (const attribute of node.attributes) attributes[attribute.name] = attribute.value;
      if (tagName === "input" || tagName === "textarea" || tagName === "select") {
        const type = attributes.type;
        if (!["radio", "checkbox", "submit", "button"].includes(type) && node.value) {
          attributes.value = node.value;
        } else if (node.checked) {
          attributes.checked = true;
        }
      }
      if (tagName === "option") {
        if (node.selected) attributes.selected = true;
        else delete attributes.selected;
      }
      const out = {type: 2, tagName, attributes, childNodes: children(node), id};
      if (node.namespaceURI === "http://www.w3.org/2000/svg") out.isSVG = true;
      return out;
    }
    case Node.TEXT_NODE: {
      const script = node.parentNode && node.parentNode.nodeName === "SCRIPT";
      return {type: 3, textContent: script ? "SCRIPT_PLACEHOLDER" : node.textContent, id};
    }
    case Node.CDATA_SECTION_NODE:
      return {type: 4, textContent: "", id};
    case Node.COMMENT_NODE:
      return {type: 5, textContent: node.textContent, id};
  }
  return null;
}
const root = serialize(document);
return {node: root, ids: wanted.map((element) => ids.get(element) || null)};
"""

# A click on each target, as a person's would reach the recorder; the page's own
# handler then cancels it, so no link is followed and no box changes.
CLICK_EACH = """
const recorder = window.__farmRecorder;
document.addEventListener("click", (event) => event.preventDefault());
recorder.drain();
return arguments[0].map((selector) => {
  const element = document.querySelector(selector);
  element.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true, composed: true}));
  const clicks = recorder.drain().filter((event) => event.kind === "click");
  return clicks.length === 1 ? clicks[0].target : null;
});
"""

COMPARED = ("tag", "role", "name", "text", "selectors")


def _compared(target: dict[str, Any] | None) -> dict[str, Any] | None:
    if target is None:
        return None
    out = {key: target.get(key) for key in COMPARED}
    # JSON from the browser turns 1.0 into 1: compare scores as numbers.
    out["selectors"] = [{**s, "score": float(s["score"])} for s in target.get("selectors") or []]
    return out


@pytest.fixture
def page(browser: WebDriver, tmp_path: Path) -> WebDriver:
    path = tmp_path / "parity.html"
    path.write_text(PAGE, encoding="utf-8")
    browser.get(path.as_uri())
    for selector in TARGETS:  # a typo in the list would otherwise compare two nulls
        count = browser.execute_script(
            "return document.querySelectorAll(arguments[0]).length", selector
        )
        assert count >= 1, selector
    return browser


def _recorder_targets(driver: WebDriver) -> list[dict[str, Any] | None]:
    driver.execute_script(recorder_bootstrap(session_id="parity", allow_list=[]))
    return driver.execute_script(CLICK_EACH, TARGETS)


def _rrweb_targets(driver: WebDriver) -> list[dict[str, Any] | None]:
    snapshot = driver.execute_script(SERIALIZE, TARGETS)
    assert None not in snapshot["ids"]
    recording: list[dict[str, Any]] = [
        {
            "type": 4,
            "data": {"href": driver.current_url, "width": 1200, "height": 800},
            "timestamp": 1,
        },
        {"type": 2, "data": {"node": snapshot["node"]}, "timestamp": 2},
    ]
    recording += [
        {
            "type": 3,
            "data": {"source": 2, "type": 2, "id": node_id, "x": 1, "y": 1},
            "timestamp": 3 + i,
        }
        for i, node_id in enumerate(snapshot["ids"])
    ]
    converted = rrweb_convert(recording)
    assert converted.skipped == []
    clicks = [event for event in converted.events if event["kind"] == "click"]
    assert len(clicks) == len(TARGETS)
    return [click["target"] for click in clicks]


def test_the_recorder_and_the_rrweb_importer_describe_each_element_alike(page: WebDriver) -> None:
    # Serialized first: the recorder's clicks leave the DOM as it was.
    from_rrweb = _rrweb_targets(page)
    from_recorder = _recorder_targets(page)
    assert None not in from_recorder

    differences = {
        selector: {"recorder": _compared(js), "rrweb": _compared(py)}
        for selector, js, py in zip(TARGETS, from_recorder, from_rrweb, strict=True)
        if _compared(js) != _compared(py)
    }
    assert differences == {}, json.dumps(differences, indent=1, ensure_ascii=False)

    # The page covers what it is meant to: the implicit roles the two once disagreed on.
    roles = {
        selector: (target or {}).get("role")
        for selector, target in zip(TARGETS, from_recorder, strict=True)
    }
    assert roles["#settings"] == roles["section[aria-labelledby]"] == "region"
    assert roles[".notes"] == roles['div[contenteditable=""]'] == "textbox"
    assert roles["[name=tags]"] == roles["[name=languages]"] == "listbox"
    assert roles["#country"] == "combobox"
    assert roles["#quota"] == "progressbar" and roles["hr"] == "separator"
    assert roles["a[role=tab]"] == "tab" and roles["[role=generic]"] == "generic"
    # Neither side lets the textarea's text out, not even in a snippet.
    for described in (from_recorder, from_rrweb):
        assert "An old bio" not in json.dumps(described, ensure_ascii=False)
