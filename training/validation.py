"""Checks that a trainer will accept an export as it is.

`MessagesValidator` runs every check of OpenAI's chat fine-tuning
data-preparation recipe: each line a JSON object with a non-empty `messages`
list; every message with a `role` and string `content` and no keys beyond
role, content, name, function_call and weight; roles system, user and
assistant only; at least one assistant message per example; at least 10
examples; and a warning for examples over 16,385 tokens. Tokens are estimated
(about four characters per token, plus the recipe's per-message overhead)
rather than counted with a tokenizer, which would fetch its vocabulary from
the network the first time it runs.

`Mind2WebValidator` checks the fields a Mind2Web loader reads.

Both are fed one example at a time and keep only counts and the first few
problems of each kind, so a file of any size is checked in constant memory.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.formats import MESSAGES, MIND2WEB, MIND2WEB_OPS

MIN_EXAMPLES = 10
MAX_TOKENS = 16_385
CHARS_PER_TOKEN = 4
ALLOWED_MESSAGE_KEYS = frozenset({"role", "content", "name", "function_call", "weight"})
ALLOWED_ROLES = frozenset({"system", "user", "assistant"})
# How many problems of each kind are kept with their line; the rest are only counted.
REPORTED_PER_CODE = 20


@dataclass
class Problem:
    code: str
    message: str
    line: int | None = None
    file: str = ""

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.file:
            found["file"] = self.file
        if self.line is not None:
            found["line"] = self.line
        return found

    def __str__(self) -> str:
        where = f"{self.file or 'line'}" + (f":{self.line}" if self.line is not None else "")
        return f"{where}: {self.message} ({self.code})"


@dataclass
class ValidationReport:
    examples: int = 0
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    error_counts: Counter[str] = field(default_factory=Counter)
    warning_counts: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.error_counts


def estimate_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """The recipe's count (3 per message, 1 more for a name, 3 to prime the answer),
    with each value's tokens estimated from its length."""
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            text = value if isinstance(value, str) else json.dumps(value)
            total += -(-len(text) // CHARS_PER_TOKEN)
            if key == "name":
                total += 1
    return total


class _Validator:
    fmt = ""

    def __init__(self, *, file: str = "", min_examples: int | None = MIN_EXAMPLES) -> None:
        self.file = file
        self.min_examples = min_examples
        self.report = ValidationReport()
        self.line = 0

    def _problem(self, kind: str, code: str, message: str, line: int | None) -> None:
        counts = self.report.error_counts if kind == "error" else self.report.warning_counts
        counts[code] += 1
        if counts[code] <= REPORTED_PER_CODE:
            found = self.report.errors if kind == "error" else self.report.warnings
            found.append(Problem(code, message, line, self.file))

    def error(self, code: str, message: str, line: int | None = None) -> None:
        self._problem("error", code, message, line)

    def warn(self, code: str, message: str, line: int | None = None) -> None:
        self._problem("warning", code, message, line)

    def check_line(self, text: str) -> None:
        """One line of the file as written."""
        self.line += 1
        try:
            example = json.loads(text)
        except ValueError as exc:
            self.report.examples += 1
            self.error("invalid_json", f"not valid JSON: {exc}", self.line)
            return
        self._check(example, self.line)

    def check_example(self, example: Any) -> None:
        """One example as it is about to be written (json.dumps of it is the line)."""
        self.line += 1
        self._check(example, self.line)

    def _check(self, example: Any, line: int) -> None:
        self.report.examples += 1
        self.check(example, line)

    def check(self, example: Any, line: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def finish(self) -> ValidationReport:
        if self.min_examples and self.report.examples < self.min_examples:
            self.error(
                "too_few_examples",
                f"{self.report.examples} example(s); fine-tuning needs at least "
                f"{self.min_examples}",
            )
        return self.report


class MessagesValidator(_Validator):
    fmt = MESSAGES

    def __init__(self, *, max_tokens: int = MAX_TOKENS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_tokens = max_tokens

    def check(self, example: Any, line: int) -> None:
        if not isinstance(example, dict):
            self.error("data_type", "the line is not a JSON object", line)
            return
        messages = example.get("messages")
        if not isinstance(messages, list) or not messages:
            self.error("missing_messages_list", "no non-empty `messages` list", line)
            return
        has_assistant = False
        for n, message in enumerate(messages):
            if not isinstance(message, dict):
                self.error("data_type", f"message {n} is not an object", line)
                continue
            if "role" not in message or "content" not in message:
                missing = [key for key in ("role", "content") if key not in message]
                self.error("message_missing_key", f"message {n} has no {', '.join(missing)}", line)
            unknown = sorted(set(message) - ALLOWED_MESSAGE_KEYS)
            if unknown:
                self.error(
                    "message_unrecognized_key",
                    f"message {n} has unknown key(s) {', '.join(unknown)}",
                    line,
                )
            role = message.get("role")
            if "role" in message and role not in ALLOWED_ROLES:
                self.error("unrecognized_role", f"message {n} has role {role!r}", line)
            if "content" in message and not isinstance(message.get("content"), str):
                self.error("missing_content", f"message {n} has no string content", line)
            if "weight" in message and message["weight"] not in (0, 1):
                self.error("invalid_weight", f"message {n} has a weight other than 0 or 1", line)
            if role == "assistant":
                has_assistant = True
        if not has_assistant:
            self.error("example_missing_assistant_message", "no assistant message", line)
        if all(isinstance(m, dict) for m in messages):
            tokens = estimate_tokens(messages)
            if tokens > self.max_tokens:
                self.warn(
                    "too_many_tokens",
                    f"about {tokens} tokens, over the {self.max_tokens} a trainer keeps; "
                    "it would be truncated",
                    line,
                )


MIND2WEB_KEYS = {
    "annotation_id": str,
    "confirmed_task": str,
    "website": str,
    "action_uid": str,
    "operation": dict,
    "pos_candidates": list,
    "neg_candidates": list,
    "cleaned_html": str,
    "action_reprs": list,
}


class Mind2WebValidator(_Validator):
    fmt = MIND2WEB

    def check(self, example: Any, line: int) -> None:
        if not isinstance(example, dict):
            self.error("data_type", "the line is not a JSON object", line)
            return
        for key, kind in MIND2WEB_KEYS.items():
            if not isinstance(example.get(key), kind):
                self.error("missing_key", f"no {key} of type {kind.__name__}", line)
        operation = example.get("operation")
        if isinstance(operation, dict):
            if operation.get("op") not in MIND2WEB_OPS:
                self.error(
                    "bad_operation",
                    f"op {operation.get('op')!r} is not one of {', '.join(MIND2WEB_OPS)}",
                    line,
                )
            if not isinstance(operation.get("value"), str):
                self.error("bad_operation", "operation value is not a string", line)
        positives = example.get("pos_candidates")
        if isinstance(positives, list) and len(positives) != 1:
            self.error("bad_candidates", f"{len(positives)} positive candidates, not 1", line)
        for group in ("pos_candidates", "neg_candidates"):
            for candidate in example.get(group) or ():
                if not isinstance(candidate, dict) or not isinstance(candidate.get("tag"), str):
                    self.error("bad_candidates", f"a {group} entry has no tag", line)
                    continue
                raw = candidate.get("attributes")
                try:
                    attributes = (
                        json.loads(raw) if isinstance(raw, str | bytes | bytearray) else None
                    )
                except ValueError:
                    attributes = None
                if not isinstance(attributes, dict):
                    self.error(
                        "invalid_attributes",
                        f"a {group} entry's attributes are not a JSON object string",
                        line,
                    )
                elif not candidate.get("backend_node_id"):
                    self.error("bad_candidates", f"a {group} entry has no backend_node_id", line)


VALIDATORS: dict[str, type[_Validator]] = {MESSAGES: MessagesValidator, MIND2WEB: Mind2WebValidator}


def validator_for(fmt: str, **kwargs: Any) -> _Validator:
    try:
        return VALIDATORS[fmt](**kwargs)
    except KeyError:
        raise ValueError(f"Unknown format {fmt!r}; choose from {', '.join(VALIDATORS)}.") from None


def validate_lines(
    lines: Iterable[str], *, fmt: str = MESSAGES, file: str = "", min_examples: int | None = None
) -> ValidationReport:
    """Check the lines of a JSONL file (blank lines are errors too: a trainer rejects them)."""
    validator = validator_for(
        fmt, file=file, min_examples=MIN_EXAMPLES if min_examples is None else min_examples
    )
    for text in lines:
        validator.check_line(text.rstrip("\r\n"))
    return validator.finish()


def validate_file(
    path: str | Path, *, fmt: str = MESSAGES, min_examples: int | None = None
) -> ValidationReport:
    with open(path, encoding="utf-8") as lines:
        return validate_lines(lines, fmt=fmt, file=Path(path).name, min_examples=min_examples)
