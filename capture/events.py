"""Validation of one captured event, as the recorder sends it (see docs/design.md).

An event comes from a page, so every string and list in it has a cap, checked
here before anything else reads it; the caps leave the recorder's own limits
(200 characters of text, a 4 KB DOM snippet, five nearby elements, ...) room
to spare. The ingest API and the publish runs both come through here.
"""

from __future__ import annotations

from typing import Any

from capture.models import Interaction

MAX_SEQUENCE = 2**31 - 1
MAX_TIMESTAMP_MS = 2**63 - 1
MAX_SCROLL = 2**31 - 1
_KINDS = frozenset(Interaction.Kind.values)

# Characters, per string.
MAX_URL = 8192
MAX_TITLE = 1000
MAX_VALUE = 10_000
MAX_TAG = 100  # tag and role
MAX_TEXT = 1000  # text and name
MAX_DOM_SNIPPET = 8192
MAX_ATTRIBUTE_NAME = 100
MAX_ATTRIBUTE_VALUE = 2000
MAX_SELECTOR_KIND = 50
MAX_SELECTOR_VALUE = 2000
MAX_MASKED_KIND = 50
# Entries, per list or object.
MAX_ATTRIBUTES = 50
MAX_SELECTORS = 20
MAX_NEARBY = 10
MAX_MASKED_KINDS = 20
MAX_BBOX_KEYS = 8
# And all the strings of one event together.
MAX_EVENT_CHARS = 65_536

# What an element (a target, or one of its nearby elements) may hold; anything
# else is left out when the event is stored (`event_known_fields`).
ELEMENT_FIELDS = (
    "tag",
    "text",
    "role",
    "name",
    "attributes",
    "bbox",
    "selectors",
    "nearby",
    "dom_snippet",
)
SELECTOR_FIELDS = ("kind", "value", "score", "unique")
_ELEMENT_STRINGS = (
    ("tag", MAX_TAG),
    ("text", MAX_TEXT),
    ("role", MAX_TAG),
    ("name", MAX_TEXT),
    ("dom_snippet", MAX_DOM_SNIPPET),
)
_EVENT_STRINGS = (("url", MAX_URL), ("title", MAX_TITLE), ("value", MAX_VALUE))


def _is_int(value: Any) -> bool:
    # bool is an int too; true and false are not sequences.
    return type(value) is int


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _too_long(length: int, cap: int) -> str:
    return f"At most {cap} characters; this one has {length}."


def _too_many(length: int, cap: int, what: str) -> str:
    return f"At most {cap} {what}; this one has {length}."


def event_errors(event: Any) -> dict[str, list[str]]:
    """Field -> messages for one event; empty when the event is good."""
    if not isinstance(event, dict):
        return {"non_field_errors": ["An event must be a JSON object."]}
    errors: dict[str, list[str]] = {}
    chars = [0]

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    sequence = event.get("sequence")
    if sequence is None:
        add("sequence", "This field is required.")
    elif not _is_int(sequence) or not 0 <= sequence <= MAX_SEQUENCE:
        add("sequence", f"Must be an integer from 0 to {MAX_SEQUENCE}.")
    timestamp = event.get("timestamp_ms")
    if timestamp is None:
        add("timestamp_ms", "This field is required.")
    elif not _is_int(timestamp) or not 0 <= timestamp <= MAX_TIMESTAMP_MS:
        add("timestamp_ms", "Must be a non-negative integer (milliseconds since the epoch).")
    kind = event.get("kind")
    if kind is None:
        add("kind", "This field is required.")
    elif not isinstance(kind, str) or kind not in _KINDS:
        shown = repr(kind) if isinstance(kind, str) and len(kind) <= 50 else "That"
        add("kind", f"{shown} is not one of {', '.join(sorted(_KINDS))}.")
    for field, cap in _EVENT_STRINGS:
        value = event.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            add(field, "Must be a string or null.")
        elif len(value) > cap:
            add(field, _too_long(len(value), cap))
        else:
            chars[0] += len(value)
    masked_kinds = event.get("masked_kinds")
    if masked_kinds is not None:
        if not isinstance(masked_kinds, list) or not all(isinstance(k, str) for k in masked_kinds):
            add("masked_kinds", "Must be a list of strings.")
        elif len(masked_kinds) > MAX_MASKED_KINDS:
            add("masked_kinds", _too_many(len(masked_kinds), MAX_MASKED_KINDS, "kinds"))
        elif any(len(k) > MAX_MASKED_KIND for k in masked_kinds):
            add("masked_kinds", f"Each kind is at most {MAX_MASKED_KIND} characters.")
    for field in ("masked", "found_in_dom", "dom_changed"):
        value = event.get(field)
        if value is not None and not isinstance(value, bool):
            add(field, "Must be true, false or null.")
    target = event.get("target")
    if target is not None:
        for message in _element_errors(target, chars, nearby_allowed=True):
            add("target", message)
    scroll = event.get("scroll")
    if scroll is not None and (
        not isinstance(scroll, dict)
        or not all(
            _is_number(scroll.get(axis)) and -MAX_SCROLL <= scroll[axis] <= MAX_SCROLL
            for axis in ("x", "y")
        )
    ):
        add("scroll", f'Must be {{"x": number, "y": number}} within ±{MAX_SCROLL}, or null.')
    if not errors and chars[0] > MAX_EVENT_CHARS:
        add(
            "non_field_errors",
            f"An event holds at most {MAX_EVENT_CHARS} characters of text in all; "
            f"this one has {chars[0]}.",
        )
    return errors


def _element_errors(
    element: Any, chars: list[int], *, nearby_allowed: bool, prefix: str = ""
) -> list[str]:
    """Messages about one element, each starting with the field it is about."""
    if not isinstance(element, dict):
        return [f"{prefix}: must be an object." if prefix else "Must be an object or null."]
    messages = []

    def add(field: str, message: str) -> None:
        messages.append(f"{prefix}{field}: {message}")

    for field, cap in _ELEMENT_STRINGS:
        value = element.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            add(field, "must be a string or null.")
        elif len(value) > cap:
            add(field, f"at most {cap} characters; this one has {len(value)}.")
        else:
            chars[0] += len(value)
    attributes = element.get("attributes")
    if attributes is not None:
        if not isinstance(attributes, dict):
            add("attributes", "must be an object.")
        elif len(attributes) > MAX_ATTRIBUTES:
            add("attributes", f"at most {MAX_ATTRIBUTES}; this element has {len(attributes)}.")
        else:
            for name, value in attributes.items():
                if len(name) > MAX_ATTRIBUTE_NAME:
                    add("attributes", f"a name is at most {MAX_ATTRIBUTE_NAME} characters.")
                    break
                if isinstance(value, str):
                    if len(value) > MAX_ATTRIBUTE_VALUE:
                        add(
                            f"attributes.{name}",
                            f"at most {MAX_ATTRIBUTE_VALUE} characters; this one has {len(value)}.",
                        )
                        break
                    chars[0] += len(name) + len(value)
                elif value is not None and not isinstance(value, int | float):
                    add(f"attributes.{name}", "must be a string, a number, a boolean or null.")
                    break
    bbox = element.get("bbox")
    if bbox is not None and (
        not isinstance(bbox, dict)
        or len(bbox) > MAX_BBOX_KEYS
        or not all(_is_number(v) and len(k) <= MAX_TAG for k, v in bbox.items())
    ):
        add("bbox", "must be an object of numbers.")
    selectors = element.get("selectors")
    if selectors is not None:
        if not isinstance(selectors, list):
            add("selectors", "must be a list.")
        elif len(selectors) > MAX_SELECTORS:
            add("selectors", f"at most {MAX_SELECTORS}; this element has {len(selectors)}.")
        else:
            for i, selector in enumerate(selectors):
                message = _selector_error(selector, chars)
                if message:
                    messages.append(f"{prefix}selectors[{i}]{message}")
    nearby = element.get("nearby")
    if nearby is not None:
        if not isinstance(nearby, list) or not all(isinstance(n, dict) for n in nearby):
            add("nearby", "must be a list of objects.")
        elif nearby and not nearby_allowed:
            add("nearby", "a nearby element has no nearby elements of its own.")
        elif len(nearby) > MAX_NEARBY:
            add("nearby", f"at most {MAX_NEARBY}; this element has {len(nearby)}.")
        else:
            for i, other in enumerate(nearby):
                messages.extend(
                    _element_errors(other, chars, nearby_allowed=False, prefix=f"nearby[{i}].")
                )
    return messages


def _selector_error(selector: Any, chars: list[int]) -> str | None:
    if not isinstance(selector, dict) or not all(
        isinstance(selector.get(f), str) for f in ("kind", "value")
    ):
        return ": needs string kind and value."
    if len(selector["kind"]) > MAX_SELECTOR_KIND:
        return f".kind: at most {MAX_SELECTOR_KIND} characters."
    if len(selector["value"]) > MAX_SELECTOR_VALUE:
        return (
            f".value: at most {MAX_SELECTOR_VALUE} characters; "
            f"this one has {len(selector['value'])}."
        )
    score = selector.get("score")
    if score is not None and (not _is_number(score) or not 0 <= score <= 1):
        return ".score: must be a number from 0 to 1."
    unique = selector.get("unique")
    if unique is not None and not isinstance(unique, bool):
        return ".unique: must be true, false or null."
    chars[0] += len(selector["kind"]) + len(selector["value"])
    return None


def event_known_fields(event: dict[str, Any]) -> dict[str, Any]:
    """A checked event with only the fields an element and a selector may hold.

    What a page adds beyond them would be stored unchecked inside the target's
    JSON, so it is left out.
    """
    target = event.get("target")
    if not isinstance(target, dict):
        return event
    return {**event, "target": _element_known_fields(target)}


def _element_known_fields(element: dict[str, Any]) -> dict[str, Any]:
    out = {k: element[k] for k in ELEMENT_FIELDS if k in element}
    selectors = out.get("selectors")
    if isinstance(selectors, list):
        out["selectors"] = [
            {k: s[k] for k in SELECTOR_FIELDS if k in s} for s in selectors if isinstance(s, dict)
        ]
    nearby = out.get("nearby")
    if isinstance(nearby, list):
        out["nearby"] = [_element_known_fields(n) for n in nearby if isinstance(n, dict)]
    return out
