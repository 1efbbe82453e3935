"""Captured sessions as training examples: pure functions over plain dicts.

A session is a mapping with `id`, `task` and `start_url`; its interactions
are mappings shaped like `capture.models.Interaction` rows (`sequence`,
`kind`, `url`, `title`, `value`, `target`, `scroll_x`, `scroll_y`), in
sequence order. Nothing here touches the database, so the formats are tested
on dicts and the export streams them one session at a time.

Two formats, one example per action:

- `messages`: the chat format OpenAI fine-tuning and Hugging Face TRL's
  SFTTrainer both read. system = the action space, user = the task, the page,
  the candidate elements and the previous actions, assistant = the next action
  as JSON text.
- `mind2web`: the per-action records of Mind2Web (operation, the target among
  `pos_candidates` with its attributes as a JSON string, nearby elements as
  `neg_candidates`, the cleaned HTML snippet, the task's action reprs).

Navigation is the environment, not an action: a `navigate` event only moves
the page the next actions happen on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MESSAGES = "messages"
MIND2WEB = "mind2web"
FORMATS = (MESSAGES, MIND2WEB)

CLICK, TYPE, SELECT, SCROLL, SUBMIT = "CLICK", "TYPE", "SELECT", "SCROLL", "SUBMIT"
ACTIONS = (CLICK, TYPE, SELECT, SCROLL, SUBMIT)
# Mind2Web knows three operations; a submit (Enter in a field) counts as a click, as there.
MIND2WEB_OPS = (CLICK, TYPE, SELECT)

# Bounds that keep one example small whatever the page: a trainer's context is finite.
MAX_NEARBY = 10
MAX_PREVIOUS = 10
MAX_TEXT = 80
MAX_SNIPPET = 4000

SYSTEM_PROMPT = (
    "You are a web agent. You see a task, the current page and its candidate elements, "
    "and the actions taken so far; you answer with the next action.\n"
    "Actions:\n"
    "- CLICK: click the element at `selector`.\n"
    "- TYPE: type `value` into the element at `selector`.\n"
    "- SELECT: choose the option `value` in the element at `selector`.\n"
    "- SCROLL: scroll the page to `x`, `y` (pixels).\n"
    "- SUBMIT: submit the form at `selector`.\n"
    "Use the selector given for a candidate element exactly as written. Masked values "
    "appear as placeholders such as ••• or [EMAIL]; type them as shown.\n"
    'Answer with one JSON object and nothing else: {"action": "CLICK", "selector": "...", '
    '"value": null}; for SCROLL: {"action": "SCROLL", "x": 0, "y": 600}.'
)


@dataclass
class FormatStats:
    """What a format left out, so an export can warn about it."""

    skipped_no_target: int = 0
    skipped_other: int = 0

    def add(self, other: FormatStats) -> None:
        self.skipped_no_target += other.skipped_no_target
        self.skipped_other += other.skipped_other


@dataclass
class Step:
    """One action of a session, with the page it happened on."""

    sequence: int
    op: str  # one of ACTIONS
    original: str  # the captured event kind
    target: Mapping[str, Any] | None
    selector: str
    value: str | None
    url: str
    title: str
    scroll: tuple[int, int] | None = None
    nearby: list[Mapping[str, Any]] = field(default_factory=list)


# Elements -------------------------------------------------------------------


def _clip(text: Any, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def best_selector(element: Mapping[str, Any] | None) -> str:
    """The element's most robust selector: unique ones first, then by score.

    An element without selectors (a nearby element the recorder described
    briefly) gets one built from its role and accessible name, its id, or its tag.
    """
    if not element:
        return ""
    best: tuple[bool, float] | None = None
    chosen = ""
    for selector in element.get("selectors") or ():
        if not isinstance(selector, dict) or not selector.get("value"):
            continue
        rank = (selector.get("unique", True) is not False, float(selector.get("score") or 0))
        if best is None or rank > best:
            best, chosen = rank, str(selector["value"])
    if chosen:
        return chosen
    role, name = element.get("role"), element.get("name")
    if role and name:
        return f'role={role}[name="{_clip(name)}"]'
    attributes = element.get("attributes") or {}
    if isinstance(attributes, dict) and attributes.get("id"):
        return f"#{attributes['id']}"
    return str(element.get("tag") or "")


def element_label(element: Mapping[str, Any]) -> str:
    """What a person would call the element: its accessible name, text or placeholder."""
    attributes = element.get("attributes") or {}
    if not isinstance(attributes, dict):
        attributes = {}
    for text in (
        element.get("name"),
        element.get("text"),
        attributes.get("aria-label"),
        attributes.get("placeholder"),
        attributes.get("name"),
    ):
        if text and str(text).strip():
            return _clip(text)
    return ""


def _same_element(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    return bool(a and b) and best_selector(a) == best_selector(b)


# Steps ----------------------------------------------------------------------


def session_steps(
    interactions: Sequence[Mapping[str, Any]], stats: FormatStats | None = None
) -> list[Step]:
    """The session's actions in order, each with the page it happened on.

    Clicks on a <select> are left out (the choice that follows is the
    action), and a run of input events on one field keeps only the last, the
    value the person settled on.
    """
    stats = stats if stats is not None else FormatStats()
    steps: list[Step] = []
    url, title = "", ""
    for index, row in enumerate(interactions):
        kind = row.get("kind")
        url = row.get("url") or url
        title = row.get("title") or title
        target = row.get("target") or None
        if kind == "navigate":
            continue
        if kind == "scroll":
            x, y = row.get("scroll_x"), row.get("scroll_y")
            steps.append(
                Step(
                    sequence=row["sequence"],
                    op=SCROLL,
                    original=kind,
                    target=None,
                    selector="",
                    value=None,
                    url=url,
                    title=title,
                    scroll=(int(x or 0), int(y or 0)),
                )
            )
            continue
        if not isinstance(target, dict):
            stats.skipped_no_target += 1
            continue
        tag = str(target.get("tag") or "").lower()
        if kind == "click":
            if tag in ("select", "option"):
                stats.skipped_other += 1
                continue
            op, value = CLICK, None
        elif kind == "input":
            following = interactions[index + 1] if index + 1 < len(interactions) else None
            if (
                following is not None
                and following.get("kind") == "input"
                and _same_element(following.get("target"), target)
            ):
                continue
            op, value = (SELECT if tag == "select" else TYPE), str(row.get("value") or "")
        elif kind == "submit":
            op, value = SUBMIT, None
        else:
            stats.skipped_other += 1
            continue
        nearby: list[Mapping[str, Any]] = [
            n for n in target.get("nearby") or () if isinstance(n, dict)
        ]
        steps.append(
            Step(
                sequence=row["sequence"],
                op=op,
                original=kind,
                target=target,
                selector=best_selector(target),
                value=value,
                url=url,
                title=title,
                nearby=nearby[:MAX_NEARBY],
            )
        )
    return steps


def action_json(step: Step) -> str:
    """The assistant's answer: the action as JSON text."""
    if step.op == SCROLL:
        x, y = step.scroll or (0, 0)
        return json.dumps({"action": SCROLL, "x": x, "y": y}, ensure_ascii=False)
    return json.dumps(
        {"action": step.op, "selector": step.selector, "value": step.value}, ensure_ascii=False
    )


def action_line(step: Step) -> str:
    """A previous action, as the user message lists it."""
    if step.op == SCROLL:
        x, y = step.scroll or (0, 0)
        return f"SCROLL x={x} y={y}"
    if step.value is not None:
        return f"{step.op} {step.selector} {json.dumps(step.value, ensure_ascii=False)}"
    return f"{step.op} {step.selector}"


def _stable_position(key: str, size: int) -> int:
    """Where the target goes among the candidates: fixed per action, so reruns agree,
    and spread over the positions, so a model cannot learn that the answer comes first."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % size


def candidates(session_id: str, step: Step) -> list[Mapping[str, Any]]:
    """The target and its nearby elements, each once, the target at a stable place."""
    assert step.target is not None
    seen = {step.selector}
    others: list[Mapping[str, Any]] = []
    for element in step.nearby:
        selector = best_selector(element)
        if selector and selector not in seen:
            seen.add(selector)
            others.append(element)
    position = _stable_position(f"{session_id}:{step.sequence}", len(others) + 1)
    return [*others[:position], step.target, *others[position:]]


def _describe(element: Mapping[str, Any]) -> str:
    tag = str(element.get("tag") or "element").lower()
    role = element.get("role")
    head = f"{tag}[{role}]" if role and role != tag else tag
    label = element_label(element)
    text = f' "{label}"' if label else ""
    return f"{head}{text} -> {best_selector(element)}"


# messages -------------------------------------------------------------------


def messages_user_content(session: Mapping[str, Any], step: Step, previous: Sequence[Step]) -> str:
    lines = [f"Task: {session.get('task') or '(none given)'}"]
    lines.append(f"Page: {step.url or session.get('start_url') or '(unknown)'}")
    if step.title:
        lines.append(f"Title: {step.title}")
    if step.target is not None:
        lines.append("Candidate elements:")
        for n, element in enumerate(candidates(str(session["id"]), step)):
            lines.append(f"[{n}] {_describe(element)}")
    lines.append("Previous actions:")
    if not previous:
        lines.append("(none)")
    else:
        shown = previous[-MAX_PREVIOUS:]
        if len(previous) > len(shown):
            lines.append(f"({len(previous) - len(shown)} earlier actions not shown)")
        start = len(previous) - len(shown) + 1
        lines.extend(f"{start + i}. {action_line(p)}" for i, p in enumerate(shown))
    return "\n".join(lines)


def messages_examples(
    session: Mapping[str, Any],
    interactions: Sequence[Mapping[str, Any]],
    stats: FormatStats | None = None,
) -> Iterator[dict[str, Any]]:
    """One chat example per action of the session."""
    steps = session_steps(interactions, stats)
    for index, step in enumerate(steps):
        yield {
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": messages_user_content(session, step, steps[:index])},
                {"role": "assistant", "content": action_json(step)},
            ]
        }


# mind2web -------------------------------------------------------------------


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _bbox_rect(element: Mapping[str, Any]) -> str:
    box = element.get("bbox")
    if not isinstance(box, dict):
        return ""
    return ",".join(str(box.get(key, 0)) for key in ("x", "y", "width", "height"))


def mind2web_candidate(
    element: Mapping[str, Any], node_id: str, *, is_target: bool
) -> dict[str, Any]:
    """A candidate as Mind2Web writes one: its attributes are a JSON string."""
    raw = element.get("attributes")
    attributes: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
    attributes["backend_node_id"] = node_id
    rect = _bbox_rect(element)
    if rect:
        attributes["bounding_box_rect"] = rect
    if element.get("role"):
        attributes.setdefault("role", element["role"])
    label = element_label(element)
    if label:
        attributes.setdefault("aria_name", label)
    attributes["selector"] = best_selector(element)
    return {
        "tag": str(element.get("tag") or "").lower(),
        "attributes": json.dumps(attributes, ensure_ascii=False),
        "backend_node_id": node_id,
        "is_original_target": is_target,
        "is_top_level_target": is_target,
    }


def mind2web_op(step: Step) -> str | None:
    if step.op in (CLICK, TYPE, SELECT):
        return step.op
    if step.op == SUBMIT:
        return CLICK
    return None  # scrolling is not a Mind2Web operation


def mind2web_repr(step: Step, op: str) -> str:
    """`[tag]  label -> OP: value`, as Mind2Web's action_reprs read."""
    target = step.target or {}
    tag = str(target.get("role") or target.get("tag") or "element").lower()
    label = element_label(target)
    text = f"[{tag}]  {label} -> {op}"
    return f"{text}: {step.value}" if op in (TYPE, SELECT) else text


def mind2web_examples(
    session: Mapping[str, Any],
    interactions: Sequence[Mapping[str, Any]],
    stats: FormatStats | None = None,
) -> Iterator[dict[str, Any]]:
    """One Mind2Web record per CLICK, TYPE or SELECT of the session.

    A submit right after a click is that click's consequence and is left out;
    a submit on its own (Enter in a field) is a CLICK on its target.
    """
    stats = stats if stats is not None else FormatStats()
    chosen: list[tuple[Step, str]] = []
    last_op: str | None = None
    for step in session_steps(interactions, stats):
        op = mind2web_op(step)
        if op is None or (step.op == SUBMIT and last_op == CLICK):
            stats.skipped_other += 1
        else:
            chosen.append((step, op))
        last_op = step.op
    session_id = str(session["id"])
    reprs = [mind2web_repr(step, op) for step, op in chosen]
    for index, (step, op) in enumerate(chosen):
        target = step.target or {}
        node = step.sequence * 1000
        negatives = []
        seen = {step.selector}
        for n, element in enumerate(step.nearby, start=1):
            selector = best_selector(element)
            if selector in seen:
                continue
            seen.add(selector)
            negatives.append(mind2web_candidate(element, str(node + n), is_target=False))
        yield {
            "annotation_id": session_id,
            "confirmed_task": session.get("task") or "",
            "website": _host(step.url or session.get("start_url") or ""),
            "action_uid": f"{session_id}-{step.sequence}",
            "operation": {"op": op, "original_op": step.op, "value": step.value or ""},
            "pos_candidates": [mind2web_candidate(target, str(node), is_target=True)],
            "neg_candidates": negatives,
            "cleaned_html": str(target.get("dom_snippet") or "")[:MAX_SNIPPET],
            "url": step.url,
            "action_reprs": reprs,
            "target_action_index": index,
            "target_action_reprs": reprs[index],
        }


def session_examples(
    fmt: str,
    session: Mapping[str, Any],
    interactions: Sequence[Mapping[str, Any]],
    stats: FormatStats | None = None,
) -> Iterator[dict[str, Any]]:
    if fmt == MESSAGES:
        return messages_examples(session, interactions, stats)
    if fmt == MIND2WEB:
        return mind2web_examples(session, interactions, stats)
    raise ValueError(f"Unknown format {fmt!r}; choose from {', '.join(FORMATS)}.")
