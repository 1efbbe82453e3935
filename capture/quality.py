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
from collections.abc import Mapping, Sequence
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


def _reacted(events: Sequence[Mapping[str, Any]], i: int) -> bool:
    click = events[i]
    if click.get("dom_changed"):
        return True
    target = click.get("target") or {}
    if isinstance(target, dict) and str(target.get("tag") or "").lower() in _SELF_REACTING_TAGS:
        return True
    for later in events[i + 1 :]:
        if later["timestamp_ms"] - click["timestamp_ms"] > DEAD_CLICK_WINDOW_MS:
            break
        if later["kind"] in ("navigate", "input", "submit") or later.get("dom_changed"):
            return True
        if later.get("url") != click.get("url") or later.get("title") != click.get("title"):
            return True
        if later["kind"] == "click":
            # Another click before any reaction: this one did nothing visible.
            return False
    return False


def session_scores(
    *, interactions: Sequence[Mapping[str, Any]], screenshot_sequences: set[int]
) -> Scores:
    """Scores from a session's interactions (dicts with the event fields), in sequence order."""
    events = sorted(interactions, key=lambda e: e["sequence"])
    actions = [e for e in events if e["kind"] in ACTION_KINDS]
    n = len(actions)
    details: dict[str, Any] = {"events": len(events), "actions": n}
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

    found = sum(1 for e in actions if _found_in_dom(e))
    shot = sum(
        1 for e in actions if e.get("screenshot_id") or e["sequence"] in screenshot_sequences
    )
    completeness = (found + shot) / (2 * n)
    selector_scores = [best_selector_score(e.get("target")) for e in actions]
    selector_reliability = sum(selector_scores) / n

    # Rage clicks: bursts of RAGE_CLICKS or more clicks on one target within the window.
    clicks = [e for e in events if e["kind"] == "click"]
    rage: set[int] = set()
    for i, click in enumerate(clicks):
        key = _target_key(click.get("target"))
        burst = [
            c
            for c in clicks[i:]
            if c["timestamp_ms"] - click["timestamp_ms"] <= RAGE_WINDOW_MS
            and _target_key(c.get("target")) == key
        ]
        if len(burst) >= RAGE_CLICKS:
            rage.update(c["sequence"] for c in burst)
    index_of = {e["sequence"]: i for i, e in enumerate(events)}
    dead = {
        c["sequence"]
        for c in clicks
        if c["sequence"] not in rage and not _reacted(events, index_of[c["sequence"]])
    }
    # Redundant: the same action on the same target with the same value as the one before.
    redundant = 0
    previous: tuple | None = None
    for e in actions:
        signature = (e["kind"], _target_key(e.get("target")), e.get("value"), e.get("url"))
        if signature == previous and e["sequence"] not in rage:
            redundant += 1
        previous = signature
    masked_share = sum(1 for e in events if e.get("masked_kinds")) / len(events)

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
        actions_without_unique_selector=sum(1 for s in selector_scores if s == 0),
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
