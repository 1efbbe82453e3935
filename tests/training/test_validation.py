"""Every check of OpenAI's chat fine-tuning data-preparation recipe, and Mind2Web's fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from training.validation import (
    MAX_TOKENS,
    MIN_EXAMPLES,
    REPORTED_PER_CODE,
    estimate_tokens,
    validate_file,
    validate_lines,
)


def good(n: int = 0) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "You are a web agent."},
            {"role": "user", "content": f"Task: step {n}"},
            {"role": "assistant", "content": '{"action": "CLICK", "selector": "#go"}'},
        ]
    }


def lines_with(broken: Any, count: int = MIN_EXAMPLES) -> list[str]:
    """A file of good examples with one broken line in the middle."""
    lines = [json.dumps(good(n)) for n in range(count)]
    lines[3] = broken if isinstance(broken, str) else json.dumps(broken)
    return lines


def test_a_good_file_passes(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(good(n)) + "\n" for n in range(12)))
    report = validate_file(path)
    assert report.ok, report.errors
    assert report.examples == 12
    assert report.warnings == []


def _message(**fields: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "hi"}, fields]}


BROKEN = {
    "invalid_json": '{"messages": [',
    "data_type": ["not", "an", "object"],
    "missing_messages_list": {"prompt": "hi", "completion": "there"},
    "missing_messages_list (empty)": {"messages": []},
    "missing_messages_list (not a list)": {"messages": "hello"},
    "message_missing_key (role)": {
        "messages": [{"content": "hello"}, {"role": "assistant", "content": "ok"}]
    },
    "message_missing_key (content)": _message(role="assistant"),
    "message_unrecognized_key": _message(role="assistant", content="ok", tool="x"),
    "unrecognized_role": {
        "messages": [
            {"role": "tool", "content": "x"},
            {"role": "assistant", "content": "ok"},
        ]
    },
    "unrecognized_role (function)": {
        "messages": [
            {"role": "function", "content": "x"},
            {"role": "assistant", "content": "ok"},
        ]
    },
    "missing_content (not a string)": _message(role="assistant", content=["a", "b"]),
    "missing_content (null)": _message(role="assistant", content=None),
    "example_missing_assistant_message": {
        "messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}]
    },
    "invalid_weight": _message(role="assistant", content="ok", weight=2),
    "data_type (message)": {"messages": ["hello", {"role": "assistant", "content": "ok"}]},
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_each_broken_example_is_an_error_naming_its_line(case: str) -> None:
    report = validate_lines(lines_with(BROKEN[case]), file="train.jsonl")
    assert not report.ok
    code = case.split(" ")[0]
    assert set(report.error_counts) == {code}, report.errors
    [problem] = report.errors
    assert problem.line == 4
    assert problem.file == "train.jsonl"


def test_allowed_extra_keys_pass() -> None:
    example = {
        "messages": [
            {"role": "system", "content": "x", "name": "rules"},
            {"role": "user", "content": "y"},
            {"role": "assistant", "content": "z", "weight": 0},
            {"role": "assistant", "content": "w", "function_call": None, "weight": 1},
        ]
    }
    assert validate_lines(lines_with(example)).ok


@pytest.mark.parametrize("count", [0, 1, MIN_EXAMPLES - 1])
def test_fewer_than_ten_examples_are_refused(count: int) -> None:
    report = validate_lines([json.dumps(good(n)) for n in range(count)])
    assert list(report.error_counts) == ["too_few_examples"]
    assert f"{count} example(s)" in report.errors[0].message


def test_exactly_ten_examples_pass() -> None:
    assert validate_lines([json.dumps(good(n)) for n in range(MIN_EXAMPLES)]).ok


def test_an_example_over_the_token_limit_is_a_warning_not_an_error() -> None:
    huge = good()
    huge["messages"][1]["content"] = "word " * (MAX_TOKENS + 100)
    report = validate_lines(lines_with(huge))
    assert report.ok
    assert list(report.warning_counts) == ["too_many_tokens"]
    assert report.warnings[0].line == 4


def test_token_estimate_is_about_four_characters_a_token_plus_the_recipe_overhead() -> None:
    messages = [{"role": "user", "content": "x" * 400}, {"role": "assistant", "content": "ok"}]
    # 3 priming + 3 per message + ceil(len/4) per value.
    assert estimate_tokens(messages) == 3 + (3 + 1 + 100) + (3 + 3 + 1)


def test_only_the_first_problems_of_a_kind_are_kept_but_all_are_counted() -> None:
    lines = [json.dumps({"messages": []})] * (REPORTED_PER_CODE + 15)
    report = validate_lines(lines)
    assert report.error_counts["missing_messages_list"] == REPORTED_PER_CODE + 15
    assert len([p for p in report.errors if p.code == "missing_messages_list"]) == (
        REPORTED_PER_CODE
    )


def _record(**changes: Any) -> dict[str, Any]:
    record = {
        "annotation_id": "a",
        "confirmed_task": "t",
        "website": "example.org",
        "action_uid": "a-1",
        "operation": {"op": "CLICK", "original_op": "CLICK", "value": ""},
        "pos_candidates": [
            {"tag": "button", "attributes": '{"backend_node_id": "1"}', "backend_node_id": "1"}
        ],
        "neg_candidates": [],
        "cleaned_html": "<button>Go</button>",
        "action_reprs": ["[button]  Go -> CLICK"],
    }
    record.update(changes)
    return record


MIND2WEB_BROKEN = {
    "missing_key": {k: v for k, v in _record().items() if k != "confirmed_task"},
    "bad_operation": _record(operation={"op": "HOVER", "value": ""}),
    "bad_candidates": _record(pos_candidates=[]),
    "invalid_attributes": _record(
        pos_candidates=[{"tag": "a", "attributes": {"href": "/"}, "backend_node_id": "1"}]
    ),
}


def test_mind2web_good_records_pass() -> None:
    assert validate_lines([json.dumps(_record())] * MIN_EXAMPLES, fmt="mind2web").ok


@pytest.mark.parametrize("code", list(MIND2WEB_BROKEN))
def test_mind2web_broken_records_are_errors(code: str) -> None:
    lines = [json.dumps(_record())] * MIN_EXAMPLES
    lines[2] = json.dumps(MIND2WEB_BROKEN[code])
    report = validate_lines(lines, fmt="mind2web")
    assert set(report.error_counts) == {code}
    assert report.errors[0].line == 3
