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

import html
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from operator import methodcaller
from typing import Any

MASK = "•••"
TEXT_CAP = 200
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
CLICKABLE_ROLES = {
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
    "listbox",
    "slider",
    "spinbutton",
}
TEXT_TARGET_TAGS = {"a", "button", "summary", "label", "option"}
TEXT_TARGET_ROLES = {"button", "link", "tab", "menuitem", "option"}
SKIP_TEXT_TAGS = {"script", "style", "noscript", "template"}
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


def _clean(text: Any, cap: int) -> str:
    out = re.sub(r"\s+", " ", str(text or "")).strip()
    return out[: cap - 1] + "…" if len(out) > cap else out


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


def text_of(node: Node) -> str:
    """Text without form values: controls count by their button label, if any."""
    if node.kind == NODE_TEXT:
        return node.text
    if not node.is_element or node.tag in SKIP_TEXT_TAGS:
        return ""
    if node.tag in ("input", "textarea", "select"):
        if node.tag == "input" and node.input_type in BUTTON_INPUT_TYPES:
            return f" {node.get('value') or ''} "
        return " "
    return "".join(text_of(child) for child in node.children)


def visible_text(node: Node) -> str:
    if node.tag == "input":
        if node.input_type in BUTTON_INPUT_TYPES:
            return _clean(node.get("value") or node.get("alt"), TEXT_CAP)
        return ""
    if node.tag in ("textarea", "select") or node.get("contenteditable") is not None:
        return ""
    return _clean(text_of(node), TEXT_CAP)


def role_of(node: Node) -> str:
    explicit = (node.get("role") or "").strip().split()
    if explicit:
        return explicit[0].lower()
    if node.tag in ("a", "area"):
        return "link" if node.get("href") is not None else ""
    if node.tag == "input":
        kind = node.input_type
        return "" if kind == "hidden" else INPUT_ROLES.get(kind, "textbox")
    if node.tag == "select":
        return "listbox" if node.get("multiple") is not None else "combobox"
    return TAG_ROLES.get(node.tag, "")


def _labels_of(dom: Dom, node: Node) -> list[Node]:
    found = []
    element_id = node.get("id")
    if element_id:
        by_for = dom.cached("labels_for", lambda: _labels_by_for(dom))
        found.extend(by_for.get(element_id, []))
    wrapping = node.closest(lambda n: n.tag == "label")
    if wrapping is not None and wrapping not in found:
        found.append(wrapping)
    return found


def _labels_by_for(dom: Dom) -> dict[str, list[Node]]:
    out: dict[str, list[Node]] = {}
    for node in dom.all_elements():
        if node.tag == "label" and node.get("for"):
            out.setdefault(node.get("for") or "", []).append(node)
    return out


def label_text(dom: Dom, node: Node) -> str:
    return _clean(" ".join(text_of(label) for label in _labels_of(dom, node)), TEXT_CAP)


def accessible_name(dom: Dom, node: Node) -> str:
    ids = node.get("aria-labelledby")
    if ids:
        parts = [text_of(dom_node) for dom_node in _by_dom_ids(dom, ids.split())]
        named = _clean(" ".join(parts), TEXT_CAP)
        if named:
            return named
    aria = _clean(node.get("aria-label"), TEXT_CAP)
    if aria:
        return aria
    if node.tag in ("input", "textarea", "select"):
        labelled = label_text(dom, node)
        if labelled:
            return labelled
    if node.tag in ("img", "area") or node.input_type == "image":
        alt = _clean(node.get("alt"), TEXT_CAP)
        if alt:
            return alt
    if node.tag == "input" and node.input_type in BUTTON_INPUT_TYPES:
        value = _clean(node.get("value"), TEXT_CAP)
        if value:
            return value
        if node.input_type in ("submit", "reset"):
            return node.input_type.capitalize()
    if role_of(node) in NAME_FROM_CONTENT or node.tag in ("label", "summary"):
        content = _clean(text_of(node), TEXT_CAP)
        if content:
            return content
    title = _clean(node.get("title"), TEXT_CAP)
    if title:
        return title
    if node.tag in ("input", "textarea"):
        return _clean(node.get("placeholder"), TEXT_CAP)
    return ""


def _by_dom_ids(dom: Dom, ids: Iterable[str]) -> list[Node]:
    index = dom.cached(
        "by_dom_id", lambda: {n.get("id"): n for n in dom.all_elements() if n.get("id")}
    )
    return [index[i] for i in ids if i in index]


def _attributes(node: Node) -> dict[str, str]:
    out = {
        name: _clean(node.get(name), ATTR_CAP) for name in ATTRIBUTE_WHITELIST if name in node.attrs
    }
    if node.tag == "input" and node.input_type in BUTTON_INPUT_TYPES and "value" in node.attrs:
        out["value"] = _clean(node.get("value"), ATTR_CAP)
    return out


def _selector(kind: str, value: str, count: int) -> dict[str, Any]:
    unique = count == 1
    score = SCORES[kind] if unique else round(SCORES[kind] * NOT_UNIQUE_FACTOR, 2)
    return {"kind": kind, "value": value, "score": score, "unique": unique}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _css_ident(value: str) -> str:
    return re.sub(r"([^a-zA-Z0-9_-])", r"\\\1", value)


def _stable_id(value: str) -> bool:
    if not value or len(value) > 64:
        return False
    if re.fullmatch(r":.*:", value) or re.match(r"(ember|ext-gen|yui_|react-|mui-)\d", value):
        return False
    return not (re.search(r"[0-9a-f]{8,}", value, re.I) or re.search(r"\d{4,}", value))


def _nth_of_type(node: Node) -> tuple[int, int]:
    siblings = [c for c in (node.parent.children if node.parent else [node]) if c.is_element]
    same = [c for c in siblings if c.tag == node.tag]
    return same.index(node) + 1 if node in same else 1, len(same)


def _step_matches(node: Node, step: tuple[str, str, int]) -> bool:
    kind, name, index = step
    if kind == "id":
        return node.get("id") == name
    if node.tag != name:
        return False
    return index == 0 or _nth_of_type(node)[0] == index


def _path_count(dom: Dom, steps: list[tuple[str, str, int]]) -> int:
    """How many elements a "a > b:nth-of-type(2) > c" path (as steps) matches."""
    kind, name, _ = steps[-1]
    if kind == "id":
        candidates = _by_dom_ids(dom, [name])
    else:
        by_tag = dom.cached("by_tag", lambda: _group_by_tag(dom))
        candidates = by_tag.get(name, [])
    count = 0
    for node in candidates:
        current: Node | None = node
        ok = True
        for step in reversed(steps):
            if current is None or not current.is_element or not _step_matches(current, step):
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
            parts.append("#" + _css_ident(name))
        else:
            parts.append(f"{name}:nth-of-type({index})" if index else name)
    return " > ".join(parts)


def css_path(dom: Dom, node: Node) -> tuple[str, int]:
    steps: list[tuple[str, str, int]] = []
    current: Node | None = node
    while current is not None and current.is_element:
        element_id = current.get("id") or ""
        if current is not node and _stable_id(element_id) and _id_count(dom, element_id) == 1:
            steps.insert(0, ("id", element_id, 0))
            break
        index, same = _nth_of_type(current)
        steps.insert(0, ("tag", current.tag, index if same > 1 else 0))
        count = _path_count(dom, steps)
        if count == 1 or current.tag == "html":
            return _render(steps), count
        current = current.parent
    return _render(steps), _path_count(dom, steps)


def xpath(node: Node) -> str:
    steps: list[str] = []
    for current in (node, *node.ancestors()):
        if not current.is_element:
            continue
        index, same = _nth_of_type(current)
        steps.insert(0, f"{current.tag}[{index}]" if same > 1 else current.tag)
    return "/" + "/".join(steps)


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


def selectors_for(dom: Dom, node: Node) -> list[dict[str, Any]]:
    out = []
    for attr in TESTID_ATTRIBUTES:
        testid = node.get(attr)
        if testid:
            by_testid = partial(_count_by, dom, methodcaller("get", attr))
            counts = dom.cached(f"testid:{attr}", by_testid)
            css = f"[{attr}={_quote(testid)}]"
            out.append(_selector("testid", css, counts.get(testid, 0)))
            break
    role, name = role_of(node), accessible_name(dom, node)
    if role and name:
        counts = dom.cached(
            "role_name", lambda: _count_by(dom, lambda n: (role_of(n), accessible_name(dom, n)))
        )
        out.append(
            _selector("role", f"role={role}[name={_quote(name)}]", counts.get((role, name), 0))
        )
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
    if text and len(text) <= 60 and _is_text_target(node):
        counts = dom.cached(
            "texts",
            lambda: _count_by(dom, lambda n: visible_text(n) if _is_text_target(n) else None),
        )
        out.append(_selector("text", f"text={_quote(text)}", counts.get(text, 0)))
    element_id = node.get("id") or ""
    if _stable_id(element_id):
        out.append(_selector("id", "#" + _css_ident(element_id), _id_count(dom, element_id)))
    path, count = css_path(dom, node)
    out.append(_selector("css", path, count))
    out.append(_selector("xpath", xpath(node), 1))
    out.sort(key=lambda s: -s["score"])
    return out


def _is_text_target(node: Node) -> bool:
    return (
        node.tag in TEXT_TARGET_TAGS
        or role_of(node) in TEXT_TARGET_ROLES
        or (node.tag == "input" and node.input_type in ("submit", "button", "reset"))
    )


def _is_interactive(node: Node) -> bool:
    if node.tag == "input":
        return node.input_type != "hidden"
    if node.tag in ("button", "select", "textarea", "summary", "label"):
        return True
    if node.tag == "a":
        return node.get("href") is not None
    return role_of(node) in CLICKABLE_ROLES or node.get("contenteditable") in ("", "true")


def click_target(node: Node) -> Node:
    """The interactive element a click landed in, as the recorder picks it."""
    found = node.closest(lambda n: _is_interactive(n) or n.tag == "option")
    return found or node


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
