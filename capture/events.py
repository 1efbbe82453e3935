"""Validation of one captured event, as the recorder sends it (see docs/design.md)."""

from __future__ import annotations

from typing import Any

from capture.models import Interaction

MAX_SEQUENCE = 2**31 - 1
MAX_TIMESTAMP_MS = 2**63 - 1
_KINDS = frozenset(Interaction.Kind.values)
_SELECTOR_FIELDS = ("kind", "value")


def _is_int(value: Any) -> bool:
    # bool is an int too; true and false are not sequences.
    return type(value) is int


def event_errors(event: Any) -> dict[str, list[str]]:
    """Field -> messages for one event; empty when the event is good."""
    if not isinstance(event, dict):
        return {"non_field_errors": ["An event must be a JSON object."]}
    errors: dict[str, list[str]] = {}

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
    elif kind not in _KINDS:
        add("kind", f"{kind!r} is not one of {', '.join(sorted(_KINDS))}.")
    for field in ("url", "title", "value"):
        value = event.get(field)
        if value is not None and not isinstance(value, str):
            add(field, "Must be a string or null.")
    masked_kinds = event.get("masked_kinds")
    if masked_kinds is not None and (
        not isinstance(masked_kinds, list) or not all(isinstance(k, str) for k in masked_kinds)
    ):
        add("masked_kinds", "Must be a list of strings.")
    for field in ("masked", "found_in_dom", "dom_changed"):
        value = event.get(field)
        if value is not None and not isinstance(value, bool):
            add(field, "Must be true, false or null.")
    target = event.get("target")
    if target is not None:
        for message in _target_errors(target):
            add("target", message)
    scroll = event.get("scroll")
    if scroll is not None and (
        not isinstance(scroll, dict)
        or not all(
            isinstance(scroll.get(axis), int | float) and not isinstance(scroll.get(axis), bool)
            for axis in ("x", "y")
        )
    ):
        add("scroll", 'Must be {"x": number, "y": number} or null.')
    return errors


def _target_errors(target: Any) -> list[str]:
    if not isinstance(target, dict):
        return ["Must be an object or null."]
    messages = []
    for field in ("tag", "text", "role", "name", "dom_snippet"):
        value = target.get(field)
        if value is not None and not isinstance(value, str):
            messages.append(f"{field}: must be a string or null.")
    attributes = target.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        messages.append("attributes: must be an object.")
    bbox = target.get("bbox")
    if bbox is not None and (
        not isinstance(bbox, dict)
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox.values())
    ):
        messages.append("bbox: must be an object of numbers.")
    selectors = target.get("selectors")
    if selectors is not None:
        if not isinstance(selectors, list):
            messages.append("selectors: must be a list.")
        else:
            for i, selector in enumerate(selectors):
                if not isinstance(selector, dict) or not all(
                    isinstance(selector.get(f), str) for f in _SELECTOR_FIELDS
                ):
                    messages.append(f"selectors[{i}]: needs string kind and value.")
                    continue
                score = selector.get("score")
                if score is not None and (
                    isinstance(score, bool)
                    or not isinstance(score, int | float)
                    or not 0 <= score <= 1
                ):
                    messages.append(f"selectors[{i}].score: must be a number from 0 to 1.")
    nearby = target.get("nearby")
    if nearby is not None and (
        not isinstance(nearby, list) or not all(isinstance(n, dict) for n in nearby)
    ):
        messages.append("nearby: must be a list of objects.")
    return messages
