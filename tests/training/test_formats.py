"""The two formats, on plain dicts: one example per action, shaped as trainers read them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.factories import (
    MESSAGES_PER_UPLOAD,
    MIND2WEB_PER_UPLOAD,
    PUBLISH,
    element,
    upload_events,
)
from training.formats import (
    SYSTEM_PROMPT,
    FormatStats,
    best_selector,
    messages_examples,
    mind2web_examples,
    session_steps,
)
from training.validation import MessagesValidator, Mind2WebValidator

SESSION = {
    "id": uuid.UUID("0b6c3d1e-9a55-4d4a-9d38-3f1f1b8c2e10"),
    "task": "Upload the holiday clip as a public video",
    "start_url": "http://127.0.0.1:8000/sandbox/upload/",
}


def rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events as the export reads them back: Interaction rows."""
    out = []
    for event in events:
        scroll = event.get("scroll") or {}
        out.append(
            {
                "sequence": event["sequence"],
                "kind": event["kind"],
                "url": event.get("url") or "",
                "title": event.get("title") or "",
                "value": event.get("value") or "",
                "masked_kinds": event.get("masked_kinds") or [],
                "target": event.get("target"),
                "scroll_x": scroll.get("x"),
                "scroll_y": scroll.get("y"),
            }
        )
    return out


def test_best_selector_prefers_unique_then_score_and_builds_one_when_missing() -> None:
    assert best_selector(PUBLISH) == '[data-testid="upload-submit"]'
    shaky = {
        "selectors": [
            {"value": "#a", "score": 0.9, "unique": False},
            {"value": "/html/body/a", "score": 0.2, "unique": True},
        ]
    }
    assert best_selector(shaky) == "/html/body/a"
    assert best_selector({"tag": "input", "role": "textbox", "name": "Title"}) == (
        'role=textbox[name="Title"]'
    )
    assert best_selector({"tag": "div", "attributes": {"id": "main"}}) == "#main"


def test_steps_skip_navigation_select_clicks_and_keep_the_last_of_a_typing_run() -> None:
    steps = session_steps(rows(upload_events("Holiday clip")))
    assert [(s.op, s.value) for s in steps] == [
        ("CLICK", None),
        ("TYPE", "Holiday clip"),
        ("SELECT", "public"),
        ("SCROLL", None),
        ("CLICK", None),
        ("SUBMIT", None),
    ]
    assert steps[3].scroll == (0, 400)
    assert len(steps) == MESSAGES_PER_UPLOAD


def test_messages_example_has_action_space_task_page_candidates_and_history() -> None:
    examples = list(messages_examples(SESSION, rows(upload_events())))
    assert len(examples) == MESSAGES_PER_UPLOAD
    publish = examples[4]["messages"]
    assert [m["role"] for m in publish] == ["system", "user", "assistant"]
    assert set().union(*(m.keys() for m in publish)) == {"role", "content"}
    system, user, assistant = (m["content"] for m in publish)
    assert system == SYSTEM_PROMPT
    for action in ("CLICK", "TYPE", "SELECT", "SCROLL", "SUBMIT"):
        assert action in system
    assert "Task: Upload the holiday clip as a public video" in user
    assert "Page: http://127.0.0.1:8000/sandbox/upload/" in user
    assert "Title: Upload" in user
    # The target and its nearby elements, each with its best selector.
    assert 'button "Publish" -> [data-testid="upload-submit"]' in user
    assert 'input[textbox] "Title" -> role=textbox[name="Title"]' in user
    assert 'a[link] "Cancel" -> text=Cancel' in user
    # Previous actions, in order.
    assert '1. CLICK [data-testid="title-input"]' in user
    assert '2. TYPE [data-testid="title-input"] "Holiday clip"' in user
    assert '3. SELECT [data-testid="visibility"] "public"' in user
    assert "4. SCROLL x=0 y=400" in user
    assert json.loads(assistant) == {
        "action": "CLICK",
        "selector": '[data-testid="upload-submit"]',
        "value": None,
    }
    first_user = examples[0]["messages"][1]["content"]
    assert "Previous actions:\n(none)" in first_user
    assert json.loads(examples[3]["messages"][2]["content"]) == {
        "action": "SCROLL",
        "x": 0,
        "y": 400,
    }


def test_messages_examples_pass_the_fine_tuning_checks() -> None:
    validator = MessagesValidator(min_examples=1)
    for example in messages_examples(SESSION, rows(upload_events())):
        validator.check_line(json.dumps(example))
    assert validator.finish().ok


def test_target_position_among_candidates_is_stable_and_varies_by_action() -> None:
    nearby = [element("a", f"Link {n}", f"link-{n}") for n in range(6)]
    target = element("button", "Go", "go", nearby=nearby)
    events = [
        {"sequence": n, "kind": "click", "url": SESSION["start_url"], "target": target}
        for n in range(1, 30)
    ]

    def positions() -> list[int]:
        found = []
        for example in messages_examples(SESSION, rows(events)):
            lines = example["messages"][1]["content"].splitlines()
            found.append(next(i for i, line in enumerate(lines) if '"Go"' in line))
        return found

    first = positions()
    assert first == positions()
    assert len(set(first)) > 1


def test_mind2web_record_fields() -> None:
    stats = FormatStats()
    records = list(mind2web_examples(SESSION, rows(upload_events()), stats))
    assert len(records) == MIND2WEB_PER_UPLOAD
    assert [r["operation"]["op"] for r in records] == ["CLICK", "TYPE", "SELECT", "CLICK"]
    typed = records[1]
    assert typed["operation"] == {"op": "TYPE", "original_op": "TYPE", "value": "Holiday clip"}
    publish = records[3]
    assert publish["annotation_id"] == str(SESSION["id"])
    assert publish["confirmed_task"] == SESSION["task"]
    assert publish["website"] == "127.0.0.1"
    assert publish["action_uid"] == f"{SESSION['id']}-8"
    [positive] = publish["pos_candidates"]
    assert positive["tag"] == "button"
    assert positive["is_original_target"] is True
    attributes = json.loads(positive["attributes"])
    assert attributes["data-testid"] == "upload-submit"
    assert attributes["type"] == "submit"
    assert attributes["backend_node_id"] == positive["backend_node_id"]
    assert attributes["bounding_box_rect"] == "10,20,80,30"
    negatives = publish["neg_candidates"]
    assert [n["tag"] for n in negatives] == ["input", "a"]
    assert all(isinstance(json.loads(n["attributes"]), dict) for n in negatives)
    node_ids = [positive["backend_node_id"], *(n["backend_node_id"] for n in negatives)]
    assert len(set(node_ids)) == len(node_ids)
    assert 'data-testid="upload-submit"' in publish["cleaned_html"]
    assert publish["action_reprs"] == [
        "[textbox]  Title -> CLICK",
        "[textbox]  Title -> TYPE: Holiday clip",
        "[combobox]  Visibility -> SELECT: public",
        "[button]  Publish -> CLICK",
    ]
    assert publish["target_action_index"] == 3
    assert publish["target_action_reprs"] == "[button]  Publish -> CLICK"
    validator = Mind2WebValidator(min_examples=1)
    for record in records:
        validator.check_line(json.dumps(record))
    assert validator.finish().ok


def test_a_submit_on_its_own_is_a_mind2web_click() -> None:
    events = [
        {"sequence": 1, "kind": "input", "target": element("input", "Search", "q"), "value": "x"},
        {"sequence": 2, "kind": "submit", "target": element("form", "Search form", "search")},
    ]
    records = list(mind2web_examples(SESSION, rows(events)))
    assert [r["operation"] for r in records] == [
        {"op": "TYPE", "original_op": "TYPE", "value": "x"},
        {"op": "CLICK", "original_op": "SUBMIT", "value": ""},
    ]


def test_actions_without_a_target_are_counted_and_left_out() -> None:
    stats = FormatStats()
    events = [{"sequence": 1, "kind": "click", "target": None}, *upload_events()[1:2]]
    examples = list(messages_examples(SESSION, rows(events), stats))
    assert len(examples) == 1
    assert stats.skipped_no_target == 1


def test_a_long_history_shows_only_the_last_actions() -> None:
    target = element("button", "Next", "next")
    events = [{"sequence": n, "kind": "click", "target": target} for n in range(1, 31)]
    last = list(messages_examples(SESSION, rows(events)))[-1]["messages"][1]["content"]
    assert "(19 earlier actions not shown)" in last
    assert "29. CLICK" in last and "20. CLICK" in last and "19. CLICK" not in last
