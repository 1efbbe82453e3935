"""Scores of a captured session, each 0..1, computed when it is closed.

- completeness: each action (click, input, submit) counts half for its
  target being found in the captured DOM and half for having a screenshot;
- selector reliability: the best unique selector's score, averaged over actions;
- training value: 1 minus penalties for rage clicks (three or more clicks on
  the same target within a second), dead clicks (a click after which nothing
  shows the page reacted), redundant steps (the same action twice in a row)
  and a high share of masked events;
- quality: the weighted geometric mean of the three, so a session that fails
  badly on one count (no screenshots at all, no usable selector) cannot be
  carried over the threshold by the other two.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ACTION_KINDS = frozenset({"click", "input", "submit"})
RAGE_CLICKS = 3
RAGE_WINDOW_MS = 1000
# How long after a click a reaction (navigation, input, submit, a DOM change) may come.
DEAD_CLICK_WINDOW_MS = 3000
# Masked events are expected (a password, an e-mail field); only above this share do they cost.
MASKED_SHARE_FREE = 0.5
# A zero score counts as this in the geometric mean, so quality stays comparable.
SCORE_FLOOR = 0.01
WEIGHTS = {"completeness": 0.4, "selector_reliability": 0.3, "training_value": 0.3}
# Clicking these focuses or toggles them; the reaction is the input that follows, or none is needed.
_SELF_REACTING_TAGS = frozenset({"input", "textarea", "select", "option", "label"})


@dataclass
class Scores:
    completeness: float
    selector_reliability: float
    training_value: float
    quality: float
    details: dict[str, Any] = field(default_factory=dict)

    def rejection_reason(self, minimum: float) -> str:
        d = self.details
        n = d.get("actions", 0)
        parts = [f"Quality {self.quality:.2f} is below the workspace minimum {minimum:.2f}"]
        if d.get("actions", 0) == 0:
            parts.append("the session has no actions (clicks, inputs or submits)")
        else:
            if d["targets_not_found"]:
                parts.append(f"{d['targets_not_found']} of {n} targets not found in the DOM")
            if d["actions_without_screenshot"]:
                parts.append(
                    f"{d['actions_without_screenshot']} of {n} actions without a screenshot"
                )
            if d["actions_without_unique_selector"]:
                parts.append(
                    f"{d['actions_without_unique_selector']} actions without a unique selector"
                )
            if self.selector_reliability < 0.5:
                parts.append(f"selector reliability {self.selector_reliability:.2f}")
            for key, label in (
                ("rage_clicks", "rage clicks"),
                ("dead_clicks", "dead clicks"),
                ("redundant_steps", "redundant steps"),
            ):
                if d.get(key):
                    parts.append(f"{d[key]} {label}")
            if d.get("masked_share", 0) > MASKED_SHARE_FREE:
                parts.append(f"{d['masked_share']:.0%} of events masked")
        return "; ".join(parts) + "."


def _target_key(target: Any) -> str:
    if not isinstance(target, dict):
        return ""
    selectors = target.get("selectors") or []
    for selector in selectors:
        if isinstance(selector, dict) and selector.get("unique", True) and selector.get("value"):
            return f"{selector.get('kind')}:{selector['value']}"
    return f"{target.get('tag')}|{target.get('role')}|{target.get('name')}|{target.get('text')}"


def best_selector_score(target: Any) -> float:
    """The highest score among the target's unique selectors; 0 without one."""
    if not isinstance(target, dict):
        return 0.0
    best = 0.0
    for selector in target.get("selectors") or []:
        if not isinstance(selector, dict) or selector.get("unique") is False:
            continue
        score = selector.get("score")
        if isinstance(score, int | float) and not isinstance(score, bool):
            best = max(best, float(score))
    return best


def _found_in_dom(event: Mapping[str, Any]) -> bool:
    found = event.get("found_in_dom")
    if found is not None:
        return bool(found)
    # Not reported: the target counts as found when its DOM snippet shows its tag.
    target = event.get("target")
    if not isinstance(target, dict):
        return False
    snippet, tag = target.get("dom_snippet") or "", target.get("tag") or ""
    return bool(tag) and f"<{tag.lower()}" in snippet.lower()


@dataclass(slots=True)
class _Step:
    """What scoring needs of one event; long strings only as their hashes.

    A session's events are read one chunk at a time and kept only as steps,
    so closing a session holds no more than this per event in memory.
    """

    sequence: int
    timestamp_ms: int
    kind: str
    target_key: int
    # The page it happened on (URL and title) and what redundancy compares.
    page: int
    signature: int
    masked: bool
    dom_changed: bool
    # Actions only.
    found: bool
    screenshot: bool
    selector_score: float
    self_reacting: bool


def _step(event: Mapping[str, Any], screenshot_sequences: set[int]) -> _Step:
    kind = event["kind"]
    target = event.get("target")
    key = hash(_target_key(target))
    url = event.get("url")
    action = kind in ACTION_KINDS
    return _Step(
        sequence=event["sequence"],
        timestamp_ms=event["timestamp_ms"],
        kind=kind,
        target_key=key,
        page=hash((url, event.get("title"))),
        signature=hash((kind, key, event.get("value"), url)),
        masked=bool(event.get("masked_kinds")),
        dom_changed=bool(event.get("dom_changed")),
        found=action and _found_in_dom(event),
        screenshot=action
        and bool(event.get("screenshot_id") or event["sequence"] in screenshot_sequences),
        selector_score=best_selector_score(target) if action else 0.0,
        self_reacting=isinstance(target, dict)
        and str(target.get("tag") or "").lower() in _SELF_REACTING_TAGS,
    )


def _reacted(steps: Sequence[_Step], i: int) -> bool:
    click = steps[i]
    if click.dom_changed or click.self_reacting:
        return True
    # Each click looks no further than the next click, so all clicks together
    # look at each event at most once.
    for k in range(i + 1, len(steps)):
        later = steps[k]
        if later.timestamp_ms - click.timestamp_ms > DEAD_CLICK_WINDOW_MS:
            break
        if later.kind in ("navigate", "input", "submit") or later.dom_changed:
            return True
        if later.page != click.page:
            return True
        if later.kind == "click":
            # Another click before any reaction: this one did nothing visible.
            return False
    return False


def _rage_clicks(clicks: Sequence[_Step]) -> set[int]:
    """Sequences of the clicks in a burst: RAGE_CLICKS or more on one target within the window.

    A click starts a burst when it and the later clicks on its target (in
    sequence order) stamped at most RAGE_WINDOW_MS after it are RAGE_CLICKS
    or more; every click of such a burst counts. Counted per target with a
    Fenwick tree over the timestamps, O(n log n) in all.
    """
    by_target: dict[int, list[_Step]] = defaultdict(list)
    for click in clicks:
        by_target[click.target_key].append(click)
    rage: set[int] = set()
    for group in by_target.values():
        if len(group) < RAGE_CLICKS:
            continue
        times = sorted({c.timestamp_ms for c in group})
        rank = {t: i + 1 for i, t in enumerate(times)}
        tree = [0] * (len(times) + 1)
        starts = [False] * len(group)
        for i in range(len(group) - 1, -1, -1):
            position = rank[group[i].timestamp_ms]
            while position <= len(times):
                tree[position] += 1
                position += position & -position
            # How many of clicks i.. are stamped at most the window after click i.
            position, within = bisect_right(times, group[i].timestamp_ms + RAGE_WINDOW_MS), 0
            while position > 0:
                within += tree[position]
                position -= position & -position
            starts[i] = within >= RAGE_CLICKS
        # A click is in a burst when a burst starts at it, or at an earlier
        # click whose window reaches it.
        latest_start: int | None = None
        for i, click in enumerate(group):
            if starts[i] and (latest_start is None or click.timestamp_ms > latest_start):
                latest_start = click.timestamp_ms
            if latest_start is not None and click.timestamp_ms - latest_start <= RAGE_WINDOW_MS:
                rage.add(click.sequence)
    return rage


def session_scores(
    *, interactions: Iterable[Mapping[str, Any]], screenshot_sequences: set[int]
) -> Scores:
    """Scores from a session's interactions (dicts with the event fields), in any order.

    O(n log n) in the number of events; the interactions may be an iterator
    (a query read in chunks): each is kept only as a small `_Step`.
    """
    steps = sorted((_step(e, screenshot_sequences) for e in interactions), key=lambda s: s.sequence)
    actions = [s for s in steps if s.kind in ACTION_KINDS]
    n = len(actions)
    details: dict[str, Any] = {"events": len(steps), "actions": n}
    if n == 0:
        details.update(
            targets_not_found=0,
            actions_without_screenshot=0,
            actions_without_unique_selector=0,
            rage_clicks=0,
            dead_clicks=0,
            redundant_steps=0,
            masked_share=0.0,
        )
        return Scores(0.0, 0.0, 0.0, 0.0, details)

    found = sum(1 for s in actions if s.found)
    shot = sum(1 for s in actions if s.screenshot)
    completeness = (found + shot) / (2 * n)
    selector_reliability = sum(s.selector_score for s in actions) / n

    clicks = [s for s in steps if s.kind == "click"]
    rage = _rage_clicks(clicks)
    dead = {
        s.sequence
        for i, s in enumerate(steps)
        if s.kind == "click" and s.sequence not in rage and not _reacted(steps, i)
    }
    # Redundant: the same action on the same target with the same value as the one before.
    redundant = 0
    previous: int | None = None
    for s in actions:
        if s.signature == previous and s.sequence not in rage:
            redundant += 1
        previous = s.signature
    masked_share = sum(1 for s in steps if s.masked) / len(steps)

    penalty = (
        len(rage) / n
        + len(dead) / n
        + 0.5 * redundant / n
        + max(0.0, masked_share - MASKED_SHARE_FREE) * 2
    )
    training_value = max(0.0, 1.0 - penalty)
    quality = math.exp(
        sum(
            weight * math.log(max(score, SCORE_FLOOR))
            for weight, score in (
                (WEIGHTS["completeness"], completeness),
                (WEIGHTS["selector_reliability"], selector_reliability),
                (WEIGHTS["training_value"], training_value),
            )
        )
    )
    details.update(
        targets_not_found=n - found,
        actions_without_screenshot=n - shot,
        actions_without_unique_selector=sum(1 for s in actions if s.selector_score == 0),
        rage_clicks=len(rage),
        dead_clicks=len(dead),
        redundant_steps=redundant,
        masked_share=round(masked_share, 4),
    )
    return Scores(
        round(completeness, 4),
        round(selector_reliability, 4),
        round(training_value, 4),
        round(quality, 4),
        details,
    )
