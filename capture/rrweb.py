"""rrweb recordings in, captured sessions out.

An rrweb recording is a JSON array of events. The ones used here:

- type 4, Meta: `data.href`, `data.width`, `data.height` (a page was opened);
- type 2, FullSnapshot: `data.node`, the serialized DOM (node types 0 document,
  1 doctype, 2 element, 3 text, 4 CDATA, 5 comment; each with an `id`);
- type 3, IncrementalSnapshot, by `data.source`: 0 Mutation (adds, removes,
  attributes, texts: kept so later ids resolve), 2 MouseInteraction (`type` 2
  is a click on node `id`), 3 Scroll (`id`, `x`, `y`), 5 Input (`id`, `text`,
  `isChecked`).

Each action's node id is resolved against the DOM as it stood then, and the
target is described the way recorder.js describes it: tag, text, role and
accessible name, whitelisted attributes, selectors scored by robustness with
their uniqueness counted in that DOM, nearby interactive elements, a DOM
snippet without values. Values are masked as the recorder masks them
(passwords never kept, other inputs "•••" unless allow-listed); the server's
PII masking runs on top when the events are stored.
"""

from __future__ import annotations

import functools
import html
import itertools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from operator import methodcaller
from types import MappingProxyType
from typing import Any

MASK = "•••"
TEXT_CAP = 200
NAME_CAP = 200
ATTR_CAP = 300
SNIPPET_CAP = 4096
NEARBY_MAX = 5
SCROLL_MERGE_MS = 500

SCORES = {
    "testid": 1.0,
    "role": 0.9,
    "label": 0.8,
    "text": 0.7,
    "id": 0.6,
    "css": 0.4,
    "xpath": 0.2,
}
NOT_UNIQUE_FACTOR = 0.5
TESTID_ATTRIBUTES = ("data-testid", "data-test-id", "data-test", "data-qa", "data-cy")
ATTRIBUTE_WHITELIST = [
    "id",
    "name",
    "type",
    "role",
    "href",
    "src",
    "alt",
    "title",
    "placeholder",
    "aria-label",
    "aria-labelledby",
    "aria-describedby",
    "aria-expanded",
    "aria-checked",
    "aria-selected",
    "aria-haspopup",
    "aria-controls",
    "for",
    "action",
    "method",
    "autocomplete",
    "disabled",
    "readonly",
    "required",
    "checked",
    "multiple",
    "accept",
    "maxlength",
    "class",
    "data-testid",
    "data-test-id",
    "data-test",
    "data-qa",
    "data-cy",
]
BUTTON_INPUT_TYPES = {"submit", "button", "reset", "image"}
INPUT_ROLES = {
    "button": "button",
    "submit": "button",
    "reset": "button",
    "image": "button",
    "checkbox": "checkbox",
    "radio": "radio",
    "range": "slider",
    "number": "spinbutton",
    "search": "searchbox",
    "email": "textbox",
    "tel": "textbox",
    "text": "textbox",
    "url": "textbox",
    "password": "textbox",
    "file": "button",
}
TAG_ROLES = {
    "button": "button",
    "textarea": "textbox",
    "form": "form",
    "img": "img",
    "nav": "navigation",
    "main": "main",
    "header": "banner",
    "footer": "contentinfo",
    "aside": "complementary",
    "ul": "list",
    "ol": "list",
    "li": "listitem",
    "table": "table",
    "tr": "row",
    "td": "cell",
    "th": "columnheader",
    "option": "option",
    "h1": "heading",
    "h2": "heading",
    "h3": "heading",
    "h4": "heading",
    "h5": "heading",
    "h6": "heading",
    "dialog": "dialog",
    "summary": "button",
    "progress": "progressbar",
    "hr": "separator",
}
NAME_FROM_CONTENT = {
    "button",
    "link",
    "tab",
    "menuitem",
    "option",
    "checkbox",
    "radio",
    "heading",
    "cell",
    "columnheader",
    "listitem",
    "switch",
}
# Tags whose <label> names them (the recorder's accessibleName), and those a label can label.
LABEL_NAMED_TAGS = {"input", "textarea", "select", "meter", "progress"}
LABELABLE_TAGS = {"button", "input", "meter", "output", "progress", "select", "textarea"}

# recorder.js picks elements with CSS selectors; these sets spell the same selectors out.
# INTERACTIVE (nearby elements):
INTERACTIVE_TAGS = {"button", "select", "textarea", "summary", "label"}
INTERACTIVE_ROLES = {
    "button",
    "link",
    "checkbox",
    "radio",
    "tab",
    "menuitem",
    "option",
    "switch",
    "textbox",
    "combobox",
    "searchbox",
}
# CLICK_TARGET (what a click is on):
CLICK_TARGET_TAGS = {"button", "input", "select", "textarea", "summary", "label", "option"}
CLICK_TARGET_ROLES = {"button", "link", "checkbox", "radio", "tab", "menuitem", "option", "switch"}
# TEXT_TARGET (what a text selector may name):
TEXT_TARGET_TAGS = {"a", "button", "summary", "label", "option"}
TEXT_TARGET_ROLES = {"button", "link", "tab", "menuitem", "option"}
TEXT_TARGET_INPUT_TYPES = {"submit", "button", "reset"}
# ROLE_CANDIDATES (the elements a role selector's uniqueness is counted among), besides
# the target's own tag and [role="…"]:
ROLE_CANDIDATE_TAGS = {
    "button": {"button", "summary"},
    "textbox": {"textarea"},
    "combobox": {"select"},
    "img": {"img"},
    "option": {"option"},
    "heading": {"h1", "h2", "h3", "h4", "h5", "h6"},
    "form": {"form"},
}
ROLE_CANDIDATE_INPUT_TYPES = {
    "button": {"submit", "button", "reset", "image", "file"},
    "textbox": {"text", "email", "tel", "url", "password"},
    "searchbox": {"search"},
    "checkbox": {"checkbox"},
    "radio": {"radio"},
    "slider": {"range"},
    "spinbutton": {"number"},
}

# The recorder's visible text is the browser's innerText; rrweb keeps no layout, so it is
# rebuilt from Chromium's default styles (and inline ones): what is not displayed, what
# shows no children, and what starts a line (a line break reads as a space once cleaned).
UNDISPLAYED_TAGS = {
    "area",
    "base",
    "datalist",
    "head",
    "link",
    "meta",
    "noscript",
    "param",
    "rp",
    "script",
    "style",
    "template",
    "title",
}
CHILDLESS_TAGS = {
    "audio",
    "canvas",
    "iframe",
    "img",
    "input",
    "meter",
    "progress",
    "textarea",
    "video",
}
BLOCK_TAGS = {
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "br",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "html",
    "legend",
    "li",
    "listing",
    "main",
    "menu",
    "nav",
    "ol",
    "optgroup",
    "option",
    "p",
    "plaintext",
    "pre",
    "search",
    "section",
    "summary",
    "table",
    "td",
    "th",
    "tr",
    "ul",
    "xmp",
}
FLEX_DISPLAYS = {"flex", "inline-flex", "grid", "inline-grid"}
BLOCK_DISPLAYS = {
    "block",
    "flex",
    "flow-root",
    "grid",
    "list-item",
    "table",
    "table-caption",
    "table-cell",
    "table-row",
}
VOID_TAGS = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}

# rrweb's numbers
EVENT_FULL_SNAPSHOT, EVENT_INCREMENTAL, EVENT_META = 2, 3, 4
SOURCE_MUTATION, SOURCE_MOUSE, SOURCE_SCROLL, SOURCE_INPUT = 0, 2, 3, 5
MOUSE_CLICK = 2
NODE_DOCUMENT, NODE_ELEMENT, NODE_TEXT = 0, 2, 3


class RrwebError(ValueError):
    """A recording this importer cannot read; the message names the event."""


# JavaScript's \s: the recorder collapses and trims with it.
JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_SPACES = re.compile(f"[{JS_SPACE}]+")


def _js_length(text: str) -> int:
    """The length JavaScript gives a string: UTF-16 code units."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def _clean(text: Any, cap: int) -> str:
    out = _JS_SPACES.sub(" ", str(text or "")).strip(" ")
    if _js_length(out) <= cap:
        return out
    # Cut where the recorder's slice(0, cap - 1) does, but never through a surrogate pair.
    kept, units = [], 0
    for char in out:
        units += 2 if ord(char) > 0xFFFF else 1
        if units > cap - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


# ---- The DOM as rrweb serialized it ---------------------------------------


@dataclass(eq=False)
class Node:
    id: int
    kind: int
    tag: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None
    is_svg: bool = False

    @property
    def is_element(self) -> bool:
        return self.kind == NODE_ELEMENT

    def get(self, name: str) -> str | None:
        value = self.attrs.get(name)
        return None if value is None else str(value)

    def elements(self) -> Iterator[Node]:
        """This node's element descendants (and itself), in document order."""
        stack = [self]
        while stack:
            node = stack.pop()
            if node.is_element:
                yield node
            stack.extend(reversed(node.children))

    def ancestors(self) -> Iterator[Node]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def closest(self, test: Callable[[Node], bool]) -> Node | None:
        for node in (self, *self.ancestors()):
            if node.is_element and test(node):
                return node
        return None

    @property
    def input_type(self) -> str:
        return (self.get("type") or "text").lower() if self.tag == "input" else ""

    @property
    def attached(self) -> bool:
        root = self
        while root.parent is not None:
            root = root.parent
        return root.kind == NODE_DOCUMENT


class Dom:
    """The page's node tree, kept current through mutations."""

    def __init__(self) -> None:
        self.by_id: dict[int, Node] = {}
        self.root: Node | None = None
        self.version = 0
        self._cache: dict[str, Any] = {}
        self._cache_version = -1

    def load(self, serialized: dict[str, Any]) -> None:
        self.by_id = {}
        self.root = self._build(serialized, None)
        self.version += 1

    def _build(self, data: Any, parent: Node | None) -> Node:
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise ValueError("a serialized node needs an integer `id`")
        attrs = data.get("attributes") or {}
        node = Node(
            id=data["id"],
            kind=int(data.get("type", -1)),
            tag=str(data.get("tagName") or "").lower(),
            attrs={str(k): "" if v is True else str(v) for k, v in attrs.items() if v is not False},
            text=str(data.get("textContent") or ""),
            parent=parent,
            is_svg=data.get("isSVG") is True,
        )
        self.by_id[node.id] = node
        for child in data.get("childNodes") or []:
            node.children.append(self._build(child, node))
        return node

    def mutate(self, data: dict[str, Any]) -> None:
        for removed in data.get("removes") or []:
            node = self.by_id.get(removed.get("id"))
            if node is not None and node.parent is not None:
                if node in node.parent.children:
                    node.parent.children.remove(node)
                node.parent = None
        for added in data.get("adds") or []:
            parent = self.by_id.get(added.get("parentId"))
            if parent is None:
                continue
            node = self._build(added.get("node"), parent)
            following = self.by_id.get(added.get("nextId")) if added.get("nextId") else None
            if following is not None and following in parent.children:
                parent.children.insert(parent.children.index(following), node)
            else:
                parent.children.append(node)
        for change in data.get("attributes") or []:
            node = self.by_id.get(change.get("id"))
            if node is None:
                continue
            for name, value in (change.get("attributes") or {}).items():
                if value is None or value is False:
                    node.attrs.pop(name, None)
                elif isinstance(value, dict):  # a style diff: not needed to describe targets
                    continue
                else:
                    node.attrs[name] = str(value)
        for change in data.get("texts") or []:
            node = self.by_id.get(change.get("id"))
            if node is not None:
                node.text = str(change.get("value") or "")
        self.version += 1

    def all_elements(self) -> list[Node]:
        return list(self.root.elements()) if self.root is not None else []

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        if self._cache_version != self.version:
            self._cache = {}
            self._cache_version = self.version
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def title(self) -> str:
        if self.root is None:
            return ""
        for node in self.root.elements():
            if node.tag == "title":
                return _clean("".join(c.text for c in node.children if c.kind == NODE_TEXT), 500)
        return ""


# ---- Describing an element, as recorder.js does ----------------------------
#
# Each function below mirrors the recorder's function of the same purpose
# (named in its docstring); tests/capture/test_recorder_parity.py holds the two
# to the same answers on one page.


def _first_token(value: str | None) -> str:
    tokens = _JS_SPACES.split((value or "").strip(JS_SPACE))
    return tokens[0] if tokens else ""


def _declared_type(node: Node) -> str | None:
    """The input's type attribute as CSS compares it (case-insensitively), None without one."""
    declared = node.get("type")
    return None if declared is None else declared.lower()


def is_editable(node: Node) -> bool:
    """isEditable: the element or its nearest contenteditable ancestor says true."""
    for current in (node, *node.ancestors()):
        if not current.is_element:
            break
        value = current.get("contenteditable")
        if value is None:
            continue
        value = value.lower()
        if value in ("", "true", "plaintext-only"):
            return True
        if value == "false":
            return False
        # Any other value is invalid and inherits, as browsers do.
    return False


def text_of(node: Node) -> str:
    """textWithoutValues: text without form values; controls count by their button label."""
    if node.kind == NODE_TEXT:
        return node.text
    if not node.is_element:
        return ""
    if node.tag in ("input", "textarea", "select", "script", "style"):
        if node.tag == "input" and node.input_type in BUTTON_INPUT_TYPES:
            return f" {node.get('value') or ''} "
        return " "
    return "".join(text_of(child) for child in node.children)


def _style(node: Node) -> Mapping[str, str]:
    """The element's inline style declarations, lower-cased, without !important."""
    return _parse_style(node.get("style") or "")


@functools.lru_cache(maxsize=4096)  # pages repeat a few style attributes many times
def _parse_style(style: str) -> Mapping[str, str]:
    out = {}
    for declaration in style.split(";"):
        name, colon, value = declaration.partition(":")
        if colon:
            value = re.sub(r"!\s*important\s*$", "", value.strip().lower()).strip()
            out[name.strip().lower()] = value
    return MappingProxyType(out)


def _display(node: Node) -> str:
    """The element's display: its inline style, else Chromium's default."""
    declared = _style(node).get("display")
    if declared:
        return declared
    if node.tag in UNDISPLAYED_TAGS:
        return "none"
    hidden = node.get("hidden")
    if hidden is not None and hidden.lower() != "until-found":
        return "none"
    if node.tag == "dialog" and node.get("open") is None:
        return "none"
    if node.input_type == "hidden":
        return "none"
    return "block" if node.tag in BLOCK_TAGS else "inline"


def _shown_children(node: Node) -> list[Node]:
    """The children innerText reads: none under hidden=until-found, a closed details' summary."""
    hidden = node.get("hidden")
    if node.tag in CHILDLESS_TAGS or (hidden is not None and hidden.lower() == "until-found"):
        return []
    if node.tag == "details" and node.get("open") is None:
        summary = next((c for c in node.children if c.tag == "summary"), None)
        return [summary] if summary is not None else []
    return node.children


def _inherited(node: Node, prop: str) -> str | None:
    """An inherited property's value from the nearest inline style that sets it."""
    for current in (node, *node.ancestors()):
        if current.is_element and prop in _style(current):
            return _style(current)[prop]
    return None


def _transformed(text: str, transform: str | None) -> str:
    if transform == "uppercase":
        return text.upper()
    return text.lower() if transform == "lowercase" else text


def _rendered_text(node: Node, visible: bool, transform: str | None, item: bool) -> str:
    """innerText's walk; item: a flex or grid item, which sits on a line of its own."""
    if node.kind == NODE_TEXT:
        text = _transformed(node.text, transform) if visible else ""
        return f"\n{text}\n" if item else text
    if not node.is_element:
        return ""
    display = _display(node)
    if display == "none":
        return ""
    if node.tag == "br":
        return "\n"
    style = _style(node)
    if "visibility" in style:
        visible = style["visibility"] not in ("hidden", "collapse")
    transform = style.get("text-transform", transform)
    container = display in FLEX_DISPLAYS
    inner = "".join(
        _rendered_text(child, visible, transform, container) for child in _shown_children(node)
    )
    return f"\n{inner}\n" if item or display in BLOCK_DISPLAYS else inner


def _text_content(node: Node) -> str:
    if node.kind == NODE_TEXT:
        return node.text
    return "".join(_text_content(child) for child in node.children)


def inner_text(node: Node) -> str:
    """What innerText gives: the rendered text, or textContent for an element without a box."""
    lineage = [node, *node.ancestors()]
    if not node.attached or node.is_svg or any(_display(n) == "none" for n in lineage[:-1]):
        return _text_content(node)
    # Inside content the page keeps hidden (a closed details, hidden=until-found): nothing.
    for child, parent in itertools.pairwise(lineage[:-1]):
        if child not in _shown_children(parent):
            return ""
    visible = _inherited(node, "visibility") not in ("hidden", "collapse")
    transform = _inherited(node, "text-transform")
    return "".join(
        _rendered_text(child, visible, transform, _display(node) in FLEX_DISPLAYS)
        for child in _shown_children(node)
    )


def visible_text(node: Node) -> str:
    """visibleText: the text a person sees on the element; never a form control's value."""
    if node.tag == "input":
        if node.input_type in BUTTON_INPUT_TYPES:
            return _clean(node.get("value") or node.get("alt"), TEXT_CAP)
        return ""
    if node.tag in ("textarea", "select") or is_editable(node):
        return ""
    return _clean(inner_text(node), TEXT_CAP)


def _html_size(value: str | None) -> int:
    """A select's size property: the attribute read as a non-negative integer, else 0."""
    found = re.match(r"[\t\n\f\r ]*\+?([0-9]+)", value or "")
    if found is None:
        return 0
    size = int(found.group(1))
    return size if size <= 2147483647 else 0


def role_of(node: Node) -> str:
    """roleOf: the explicit role's first token, else the element's implicit role."""
    explicit = _first_token(node.get("role"))
    if explicit:
        return explicit.lower()
    tag = node.tag
    if tag in ("a", "area"):
        return "link" if node.get("href") is not None else ""
    if tag == "input":
        kind = node.input_type
        return INPUT_ROLES.get(kind) or ("" if kind == "hidden" else "textbox")
    if tag == "select":
        several = node.get("multiple") is not None or _html_size(node.get("size")) > 1
        return "listbox" if several else "combobox"
    if tag == "section" and (
        node.get("aria-label") is not None or node.get("aria-labelledby") is not None
    ):
        return "region"
    if is_editable(node):
        return "textbox"
    return TAG_ROLES.get(tag, "")


def _labelable(node: Node) -> bool:
    return node.tag in LABELABLE_TAGS and node.input_type != "hidden"


def _first_by_id(dom: Dom) -> dict[str, Node]:
    """getElementById for every id: the first element in document order holding it."""

    def make() -> dict[str, Node]:
        out: dict[str, Node] = {}
        for node in dom.all_elements():
            element_id = node.get("id")
            if element_id and element_id not in out:
                out[element_id] = node
        return out

    return dom.cached("first_by_id", make)


def _labels_by_control(dom: Dom) -> dict[int, list[Node]]:
    """element.labels for every labelled element, as the HTML spec links labels to controls."""

    def make() -> dict[int, list[Node]]:
        by_id = _first_by_id(dom)
        out: dict[int, list[Node]] = {}
        for label in dom.all_elements():
            if label.tag != "label":
                continue
            target = label.get("for")
            if target is not None:
                control = by_id.get(target)
            else:
                control = next(
                    (n for n in label.elements() if n is not label and _labelable(n)), None
                )
            if control is not None and _labelable(control):
                out.setdefault(control.id, []).append(label)
        return out

    return dom.cached("labels_by_control", make)


def _labels_by_for(dom: Dom) -> dict[str, list[Node]]:
    def make() -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {}
        for node in dom.all_elements():
            if node.tag == "label" and node.get("for"):
                out.setdefault(node.get("for") or "", []).append(node)
        return out

    return dom.cached("labels_for", make)


def _labels_of(dom: Dom, node: Node) -> list[Node]:
    """labelsOf: element.labels, else label[for=id] and the wrapping label."""
    if _labelable(node):
        labels = _labels_by_control(dom).get(node.id)
        if labels:
            return list(labels)
    found: list[Node] = []
    element_id = node.get("id")
    # The recorder's label[for="…"] is no selector with a line break in it: it finds none.
    if element_id and _css_string_ok(element_id):
        found.extend(_labels_by_for(dom).get(element_id, []))
    wrapping = node.closest(lambda n: n.tag == "label")
    if wrapping is not None and wrapping not in found:
        found.append(wrapping)
    return found


def label_text(dom: Dom, node: Node) -> str:
    return _clean(" ".join(text_of(label) for label in _labels_of(dom, node)), NAME_CAP)


def accessible_name(dom: Dom, node: Node) -> str:
    """accessibleName: aria-labelledby, aria-label, label, alt, button value, content, title…"""
    ids = node.get("aria-labelledby")
    if ids:
        by_id = _first_by_id(dom)
        parts = [text_of(by_id[i]) for i in _JS_SPACES.split(ids) if i and i in by_id]
        named = _clean(" ".join(parts), NAME_CAP)
        if named:
            return named
    aria = _clean(node.get("aria-label"), NAME_CAP)
    if aria:
        return aria
    if node.tag in LABEL_NAMED_TAGS:
        labelled = label_text(dom, node)
        if labelled:
            return labelled
    if node.tag in ("img", "area") or node.input_type == "image":
        alt = _clean(node.get("alt"), NAME_CAP)
        if alt:
            return alt
    if node.tag == "input" and node.input_type in BUTTON_INPUT_TYPES:
        value = _clean(node.get("value"), NAME_CAP)
        if value:
            return value
        if node.input_type in ("submit", "reset"):
            return node.input_type.capitalize()
    if role_of(node) in NAME_FROM_CONTENT or node.tag in ("label", "summary"):
        content = _clean(text_of(node), NAME_CAP)
        if content:
            return content
    title = _clean(node.get("title"), NAME_CAP)
    if title:
        return title
    if node.tag in ("input", "textarea"):
        return _clean(node.get("placeholder"), NAME_CAP)
    return ""


def _attributes(node: Node) -> dict[str, str]:
    out = {
        name: _clean(node.get(name), ATTR_CAP) for name in ATTRIBUTE_WHITELIST if name in node.attrs
    }
    if node.tag == "input" and node.input_type in BUTTON_INPUT_TYPES and "value" in node.attrs:
        out["value"] = _clean(node.get("value"), ATTR_CAP)
    return out


def _selector(kind: str, value: str, count: int) -> dict[str, Any]:
    """selector: a count of -1 (a selector the browser refuses) is not unique either."""
    unique = count == 1
    # Math.round(x * 100) / 100, which rounds halves up where round() would not.
    score = (
        SCORES[kind] if unique else math.floor(SCORES[kind] * NOT_UNIQUE_FACTOR * 100 + 0.5) / 100
    )
    return {"kind": kind, "value": value, "score": score, "unique": unique}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _css_string_ok(value: str) -> bool:
    """Whether a quoted CSS string can hold the value: a raw line break ends it in error."""
    return not any(c in value for c in "\n\r\f")


def css_escape(value: str) -> str:
    """CSS.escape, as the CSSOM spec defines it."""
    out = []
    for index, char in enumerate(value):
        code = ord(char)
        leading_digit = char in "0123456789" and (index == 0 or (index == 1 and value[0] == "-"))
        if code == 0:
            out.append("\ufffd")
        elif 0x1 <= code <= 0x1F or code == 0x7F or leading_digit:
            out.append(f"\\{code:x} ")
        elif index == 0 and char == "-" and len(value) == 1:
            out.append("\\-")
        elif code >= 0x80 or char in "-_" or (char.isascii() and char.isalnum()):
            out.append(char)
        else:
            out.append("\\" + char)
    return "".join(out)


def _stable_id(value: str) -> bool:
    """stableId: generated ids (React's ":r1:", "ember123", long hex) change between loads."""
    if not value or _js_length(value) > 64:
        return False
    if re.fullmatch(r":.*:", value) or re.match(r"(ember|ext-gen|yui_|react-|mui-)[0-9]", value):
        return False
    return not (re.search(r"[0-9a-f]{8,}", value, re.I | re.A) or re.search(r"[0-9]{4,}", value))


def _nth_of_type(dom: Dom, node: Node) -> tuple[int, int]:
    """The element's place among its siblings of the same tag, and how many they are."""
    parent = node.parent
    if parent is None:
        return 1, 1
    # Once per parent and DOM version: paths are matched against every candidate's siblings.
    places = dom.cached(f"nth:{parent.id}", lambda: _places_of_type(parent))
    return places.get(node.id, (1, 1))


def _places_of_type(parent: Node) -> dict[int, tuple[int, int]]:
    seen: dict[str, int] = {}
    places: dict[int, tuple[int, str]] = {}
    for child in parent.children:
        if child.is_element:
            seen[child.tag] = seen.get(child.tag, 0) + 1
            places[child.id] = (seen[child.tag], child.tag)
    return {key: (index, seen[tag]) for key, (index, tag) in places.items()}


def _step_matches(dom: Dom, node: Node, step: tuple[str, str, int]) -> bool:
    kind, name, index = step
    if kind == "id":
        return node.get("id") == name
    if node.tag != name:
        return False
    return index == 0 or _nth_of_type(dom, node)[0] == index


def _path_count(dom: Dom, steps: list[tuple[str, str, int]]) -> int:
    """How many elements a "a > b:nth-of-type(2) > c" path (as steps) matches."""
    kind, name, _ = steps[-1]
    if kind == "id":
        candidates = [n for n in dom.all_elements() if n.get("id") == name]
    else:
        by_tag = dom.cached("by_tag", lambda: _group_by_tag(dom))
        candidates = by_tag.get(name, [])
    count = 0
    for node in candidates:
        current: Node | None = node
        ok = True
        for step in reversed(steps):
            if current is None or not current.is_element or not _step_matches(dom, current, step):
                ok = False
                break
            current = current.parent
        if ok:
            count += 1
    return count


def _group_by_tag(dom: Dom) -> dict[str, list[Node]]:
    out: dict[str, list[Node]] = {}
    for node in dom.all_elements():
        out.setdefault(node.tag, []).append(node)
    return out


def _render(steps: list[tuple[str, str, int]]) -> str:
    parts = []
    for kind, name, index in steps:
        if kind == "id":
            parts.append("#" + css_escape(name))
        else:
            parts.append(f"{name}:nth-of-type({index})" if index else name)
    return " > ".join(parts)


def css_path(dom: Dom, node: Node) -> tuple[str, int]:
    """cssPath: the shortest path from the target up that names only it."""
    steps: list[tuple[str, str, int]] = []
    current: Node | None = node
    while current is not None and current.is_element:
        element_id = current.get("id") or ""
        if current is not node and _stable_id(element_id) and _id_count(dom, element_id) == 1:
            steps.insert(0, ("id", element_id, 0))
            break
        index, same = _nth_of_type(dom, current)
        steps.insert(0, ("tag", current.tag, index if same > 1 else 0))
        count = _path_count(dom, steps)
        if count == 1 or current.tag == "html":
            return _render(steps), count
        current = current.parent
    return _render(steps), _path_count(dom, steps)


def _xpath_steps(dom: Dom, node: Node) -> list[tuple[str, int, bool]]:
    steps: list[tuple[str, int, bool]] = []
    for current in (node, *node.ancestors()):
        if not current.is_element:
            break
        index, same = _nth_of_type(dom, current)
        steps.insert(0, (current.tag, index if same > 1 else 0, current.is_svg))
    return steps


def xpath(dom: Dom, node: Node) -> str:
    """xPath: absolute, with an index where siblings share the tag."""
    return "/" + "/".join(
        f"{tag}[{index}]" if index else tag for tag, index, _ in _xpath_steps(dom, node)
    )


def _xpath_count(dom: Dom, node: Node) -> int:
    """What the browser's count() of the path gives in the page (a removed node's may differ)."""
    steps = _xpath_steps(dom, node)
    if dom.root is None or any(svg for _, _, svg in steps):
        return 0  # an unprefixed XPath name matches HTML elements only, never SVG ones
    matched = [dom.root]
    for tag, index, _ in steps:
        found = []
        for parent in matched:
            same = [c for c in parent.children if c.is_element and c.tag == tag]
            found.extend(same[index - 1 : index] if index else same)
        matched = found
    return len(matched)


def _id_count(dom: Dom, element_id: str) -> int:
    counts = dom.cached("id_counts", lambda: _count_by(dom, lambda n: n.get("id")))
    return counts.get(element_id, 0)


def _count_by(dom: Dom, key: Callable[[Node], Any]) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for node in dom.all_elements():
        value = key(node)
        if value:
            counts[value] = counts.get(value, 0) + 1
    return counts


def _role_candidate(node: Node, role: str, tag: str) -> bool:
    """Whether the recorder counts the element among those that may carry the role."""
    if node.tag == tag or node.get("role") == role:
        return True
    if node.tag in ROLE_CANDIDATE_TAGS.get(role, ()):
        return True
    if node.tag == "input":
        declared = _declared_type(node)
        if declared is None:
            return role == "textbox"  # input:not([type])
        return declared in ROLE_CANDIDATE_INPUT_TYPES.get(role, ())
    if role == "link":
        return node.tag in ("a", "area") and node.get("href") is not None
    if role == "listbox":
        return node.tag == "select" and (
            node.get("multiple") is not None or node.get("size") is not None
        )
    return False


def _role_count(dom: Dom, node: Node, role: str, name: str) -> int:
    if '"' in role or not _css_string_ok(role):
        return -1  # the recorder's [role="…"] selector would not parse
    by_role_name = dom.cached("role_name", lambda: _group_by_role_name(dom))
    return sum(1 for c in by_role_name.get((role, name), []) if _role_candidate(c, role, node.tag))


def _group_by_role_name(dom: Dom) -> dict[tuple[str, str], list[Node]]:
    out: dict[tuple[str, str], list[Node]] = {}
    for node in dom.all_elements():
        role = role_of(node)
        if role:
            out.setdefault((role, accessible_name(dom, node)), []).append(node)
    return out


def selectors_for(dom: Dom, node: Node) -> list[dict[str, Any]]:
    """selectorsFor: testid, role, label, text, id, css and xpath, best first."""
    out = []
    for attr in TESTID_ATTRIBUTES:
        testid = node.get(attr)
        if testid:
            by_testid = partial(_count_by, dom, methodcaller("get", attr))
            counts = dom.cached(f"testid:{attr}", by_testid)
            count = counts.get(testid, 0) if _css_string_ok(testid) else -1
            out.append(_selector("testid", f"[{attr}={_quote(testid)}]", count))
            break
    role, name = role_of(node), accessible_name(dom, node)
    if role and name and role != "generic":
        count = _role_count(dom, node, role, name)
        out.append(_selector("role", f"role={role}[name={_quote(name)}]", count))
    if node.tag in ("input", "textarea", "select"):
        label = label_text(dom, node)
        if label:
            counts = dom.cached(
                "labels",
                lambda: _count_by(
                    dom,
                    lambda n: (
                        label_text(dom, n) if n.tag in ("input", "textarea", "select") else None
                    ),
                ),
            )
            out.append(_selector("label", f"label={_quote(label)}", counts.get(label, 0)))
    text = visible_text(node)
    if text and _js_length(text) <= 60 and _is_text_target(node):
        counts = dom.cached(
            "texts",
            lambda: _count_by(dom, lambda n: visible_text(n) if _is_text_target(n) else None),
        )
        out.append(_selector("text", f"text={_quote(text)}", counts.get(text, 0)))
    element_id = node.get("id") or ""
    if _stable_id(element_id):
        out.append(_selector("id", "#" + css_escape(element_id), _id_count(dom, element_id)))
    path, count = css_path(dom, node)
    out.append(_selector("css", path, count))
    out.append(_selector("xpath", xpath(dom, node), _xpath_count(dom, node)))
    out.sort(key=lambda s: -s["score"])
    return out


def _is_text_target(node: Node) -> bool:
    """TEXT_TARGET: buttons, links, labels, options and their roles, button inputs."""
    if node.tag in TEXT_TARGET_TAGS or node.get("role") in TEXT_TARGET_ROLES:
        return True
    return node.tag == "input" and _declared_type(node) in TEXT_TARGET_INPUT_TYPES


def _is_interactive(node: Node) -> bool:
    """INTERACTIVE: what the recorder lists as nearby."""
    if node.tag == "input":
        return _declared_type(node) != "hidden"
    if node.tag in INTERACTIVE_TAGS or node.get("role") in INTERACTIVE_ROLES:
        return True
    if node.tag == "a" and node.get("href") is not None:
        return True
    if node.get("contenteditable") in ("", "true"):
        return True
    tabindex = node.get("tabindex")
    return tabindex is not None and tabindex != "-1"


def _is_click_target(node: Node) -> bool:
    """CLICK_TARGET: what the recorder takes a click to be on."""
    if node.tag in CLICK_TARGET_TAGS or node.get("role") in CLICK_TARGET_ROLES:
        return True
    if node.tag == "a" and node.get("href") is not None:
        return True
    return node.get("onclick") is not None


def click_target(node: Node) -> Node:
    """clickTarget: the closest element a click is on, else the element hit."""
    return node.closest(_is_click_target) or node


def nearby(dom: Dom, node: Node) -> list[dict[str, Any]]:
    """Up to five interactive elements nearest in document order (rrweb has no layout)."""
    interactive = dom.cached(
        "interactive", lambda: [n for n in dom.all_elements() if _is_interactive(n)]
    )
    order = dom.cached("order", lambda: {n.id: i for i, n in enumerate(dom.all_elements())})
    here = order.get(node.id, 0)
    around = set(node.ancestors())
    others = [
        n for n in interactive if n is not node and n not in around and node not in n.ancestors()
    ]
    others.sort(key=lambda n: abs(order.get(n.id, 0) - here))
    return [
        {
            "tag": n.tag,
            "text": visible_text(n),
            "role": role_of(n),
            "name": accessible_name(dom, n),
            "attributes": _attributes(n),
            "selectors": selectors_for(dom, n)[:3],
        }
        for n in others[:NEARBY_MAX]
    ]


def outer_html(node: Node) -> str:
    """The element as HTML, with every typed or preset value left out."""
    if node.kind == NODE_TEXT:
        parent = node.parent.tag if node.parent else ""
        return "" if parent in ("script", "style", "textarea") else html.escape(node.text)
    if not node.is_element:
        return ""
    attrs = dict(node.attrs)
    if node.tag == "input":
        if node.input_type not in BUTTON_INPUT_TYPES:
            attrs.pop("value", None)
        attrs.pop("checked", None)
    if node.tag in ("textarea", "select"):
        attrs.pop("value", None)  # rrweb keeps what was typed or picked as an attribute
    if node.tag == "option":
        attrs.pop("selected", None)
    for name in [a for a in attrs if a.startswith("rr_") or a.startswith("on")]:
        attrs.pop(name)
    rendered = "".join(
        f" {name}" if value == "" else f' {name}="{html.escape(value)}"'
        for name, value in attrs.items()
    )
    if node.tag in VOID_TAGS:
        return f"<{node.tag}{rendered}>"
    if node.tag == "textarea" or node.get("contenteditable") is not None:
        inner = ""
    else:
        inner = "".join(outer_html(child) for child in node.children)
    return f"<{node.tag}{rendered}>{inner}</{node.tag}>"


def snippet(node: Node) -> str:
    form = node.closest(lambda n: n.tag == "form")
    candidates = [form, node] if form is not None else [node]
    for i, candidate in enumerate(candidates):
        text = outer_html(candidate)
        if len(text) <= SNIPPET_CAP:
            return text
        if i == len(candidates) - 1:
            return text[: SNIPPET_CAP - 1] + "…"
    return ""


def describe(dom: Dom, node: Node, *, with_nearby: bool = True) -> dict[str, Any]:
    return {
        "tag": node.tag,
        "text": visible_text(node),
        "role": role_of(node),
        "name": accessible_name(dom, node),
        "attributes": _attributes(node),
        "bbox": None,
        "selectors": selectors_for(dom, node),
        "nearby": nearby(dom, node) if with_nearby else [],
        "dom_snippet": snippet(node),
    }


def masked_value(node: Node, text: Any, checked: Any, allow: set[str]) -> dict[str, Any]:
    autocomplete = (node.get("autocomplete") or "").lower()
    if node.input_type == "password" or autocomplete in ("current-password", "new-password"):
        return {"value": None, "masked": True, "masked_kinds": ["password"]}
    if node.input_type in ("checkbox", "radio"):
        return {"value": "checked" if checked else "unchecked", "masked": False, "masked_kinds": []}
    value = "" if text is None else str(text)
    if value == "":
        return {"value": "", "masked": False, "masked_kinds": []}
    if (node.get("name") or "") in allow or (node.get("id") or "") in allow:
        return {"value": value, "masked": False, "masked_kinds": []}
    return {"value": MASK, "masked": True, "masked_kinds": ["input"]}


# ---- The conversion ---------------------------------------------------------


@dataclass
class Conversion:
    events: list[dict[str, Any]] = field(default_factory=list)
    start_url: str = ""
    viewport: dict[str, int] | None = None
    skipped: list[str] = field(default_factory=list)  # what could not be resolved, by index


def _where(index: int, event: Any) -> str:
    kind = event.get("type") if isinstance(event, dict) else None
    return f"event {index}" + (f" (type {kind})" if type(kind) is int else "")


def rrweb_convert(
    recording: Any,
    *,
    allow_list: Iterable[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> Conversion:
    """Turn rrweb events into recorder events; RrwebError names the first malformed event."""
    if not isinstance(recording, list):
        raise RrwebError("An rrweb recording is a JSON array of events; this file holds none.")
    allow = set(allow_list)
    out = Conversion()
    dom = Dom()
    href, title = "", ""
    pending_input: dict[str, Any] | None = None
    total = len(recording)

    def flush_input() -> None:
        nonlocal pending_input
        if pending_input is not None:
            out.events.append(pending_input)
            pending_input = None

    def base(kind: str, timestamp: int) -> dict[str, Any]:
        return {
            "sequence": len(out.events),
            "timestamp_ms": timestamp,
            "kind": kind,
            "url": href,
            "title": title,
            "value": None,
            "masked": False,
            "masked_kinds": [],
            "target": None,
            "scroll": None,
            "found_in_dom": None,
        }

    for index, event in enumerate(recording):
        if progress is not None and ((index + 1) % 1000 == 0 or index == total - 1):
            progress(index + 1, total)
        where = _where(index, event)
        if not isinstance(event, dict):
            raise RrwebError(f"{where}: an event must be a JSON object.")
        # Unvalidated JSON values, checked by hand below.
        kind: Any = event.get("type")
        data: Any = event.get("data")
        timestamp: Any = event.get("timestamp")
        if type(kind) is not int:
            raise RrwebError(f"{where}: `type` must be an integer.")
        if type(timestamp) not in (int, float) or timestamp < 0:
            raise RrwebError(f"{where}: `timestamp` must be a non-negative number (ms).")
        timestamp = int(timestamp)
        if kind in (EVENT_META, EVENT_FULL_SNAPSHOT, EVENT_INCREMENTAL) and not isinstance(
            data, dict
        ):
            raise RrwebError(f"{where}: `data` must be an object.")

        if kind == EVENT_META:
            if not isinstance(data.get("href"), str):
                raise RrwebError(f"{where}: a Meta event needs `data.href`.")
            flush_input()
            href = data["href"]
            width, height = data.get("width"), data.get("height")
            if not out.start_url:
                out.start_url = href
                if type(width) is int and type(height) is int:
                    out.viewport = {"width": width, "height": height}
            dom = Dom()
            title = ""
            out.events.append(base("navigate", timestamp))
        elif kind == EVENT_FULL_SNAPSHOT:
            try:
                dom.load(data.get("node"))
            except (ValueError, TypeError, AttributeError, RecursionError) as exc:
                raise RrwebError(
                    f"{where}: the FullSnapshot's `data.node` is broken: {exc}."
                ) from None
            title = dom.title()
            for earlier in reversed(out.events):
                if earlier["kind"] != "navigate" or earlier["url"] != href:
                    break
                earlier["title"] = title
                break
        elif kind == EVENT_INCREMENTAL:
            source = data.get("source")
            if type(source) is not int:
                raise RrwebError(f"{where}: an IncrementalSnapshot needs an integer `data.source`.")
            if source == SOURCE_MUTATION:
                try:
                    dom.mutate(data)
                except (ValueError, TypeError, AttributeError) as exc:
                    raise RrwebError(f"{where}: a broken mutation: {exc}.") from None
                title = dom.title() or title
                continue
            if source not in (SOURCE_MOUSE, SOURCE_SCROLL, SOURCE_INPUT):
                continue
            if source == SOURCE_MOUSE and data.get("type") != MOUSE_CLICK:
                continue
            if type(data.get("id")) is not int:
                raise RrwebError(f"{where}: `data.id` must be the integer id of a node.")
            if dom.root is None:
                raise RrwebError(
                    f"{where}: it comes before any FullSnapshot, so node ids mean nothing yet."
                )
            node = dom.by_id.get(data["id"])
            if source == SOURCE_SCROLL:
                x, y = data.get("x"), data.get("y")
                if type(x) not in (int, float) or type(y) not in (int, float):
                    raise RrwebError(f"{where}: a Scroll needs numbers `x` and `y`.")
                flush_input()
                is_page = node is None or node.kind == NODE_DOCUMENT or node.tag in ("html", "body")
                scrolled = None if is_page else node
                target = None if scrolled is None else describe(dom, scrolled, with_nearby=False)
                last = out.events[-1] if out.events else None
                if (
                    last is not None
                    and last["kind"] == "scroll"
                    and timestamp - last["timestamp_ms"] <= SCROLL_MERGE_MS
                    and (last["target"] or {}).get("selectors") == (target or {}).get("selectors")
                ):
                    # Throttled like the recorder: a burst of scrolling is one event.
                    last["scroll"] = {"x": round(x), "y": round(y)}
                    last["timestamp_ms"] = timestamp
                    continue
                scroll = base("scroll", timestamp)
                scroll.update(target=target, scroll={"x": round(x), "y": round(y)})
                scroll["found_in_dom"] = None if scrolled is None else scrolled.attached
                out.events.append(scroll)
                continue
            if node is not None and node.kind == NODE_TEXT and node.parent is not None:
                node = node.parent  # a click on text is a click on its element
            if node is None or not node.is_element:
                out.skipped.append(f"{where}: node {data['id']} is not an element of the page")
                continue
            if source == SOURCE_INPUT:
                if node.tag == "input" and node.input_type == "hidden":
                    continue
                value = masked_value(node, data.get("text"), data.get("isChecked"), allow)
                if pending_input is not None and pending_input["_node"] is node:
                    # Keystrokes on one field make one input event, as the recorder's debounce does.
                    pending_input.update(value, timestamp_ms=timestamp)
                    continue
                flush_input()
                pending_input = base("input", timestamp)
                pending_input.update(value, _node=node, target=describe(dom, node))
                pending_input["found_in_dom"] = node.attached
                continue
            flush_input()
            target_node = click_target(node)
            click = base("click", timestamp)
            click["target"] = describe(dom, target_node)
            click["found_in_dom"] = target_node.attached
            out.events.append(click)
    flush_input()
    for i, event in enumerate(out.events):
        event.pop("_node", None)
        event["sequence"] = i
    return out
