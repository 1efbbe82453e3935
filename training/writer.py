"""Examples written straight to two JSONL files as they are made.

Nothing is gathered: each example is checked by the split's validator,
serialised and written, and only counters stay in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from training.split import TRAIN, VALIDATION, split_of
from training.validation import MIN_EXAMPLES, Problem, ValidationReport, validator_for


@dataclass
class SplitCounts:
    sessions: int = 0
    examples: int = 0


@dataclass
class WriteResult:
    train: SplitCounts = field(default_factory=SplitCounts)
    validation: SplitCounts = field(default_factory=SplitCounts)
    reports: dict[str, ValidationReport] = field(default_factory=dict)

    @property
    def examples(self) -> int:
        return self.train.examples + self.validation.examples

    @property
    def errors(self) -> list[Problem]:
        return [p for report in self.reports.values() for p in report.errors]

    @property
    def warnings(self) -> list[Problem]:
        return [p for report in self.reports.values() for p in report.warnings]


class SplitWriter:
    """Writes each session's examples to the train or validation file by its id's hash.

    The training file must hold at least MIN_EXAMPLES examples (what OpenAI's
    fine-tuning asks of it); the validation file may be small, and an empty
    one is only a warning.
    """

    def __init__(
        self,
        *,
        fmt: str,
        train: IO[str],
        validation: IO[str],
        validation_share: float,
        min_examples: int = MIN_EXAMPLES,
    ) -> None:
        self.validation_share = validation_share
        self.files = {TRAIN: train, VALIDATION: validation}
        self.validators = {
            TRAIN: validator_for(fmt, file=f"{TRAIN}.jsonl", min_examples=min_examples),
            VALIDATION: validator_for(fmt, file=f"{VALIDATION}.jsonl", min_examples=0),
        }
        self.result = WriteResult()
        split_of("00000000-0000-0000-0000-000000000000", validation_share)  # checks the share

    def write_session(self, session_id: Any, examples: Iterable[dict[str, Any]]) -> int:
        """Write one session's examples; returns how many."""
        split = split_of(session_id, self.validation_share)
        out, validator = self.files[split], self.validators[split]
        counts = getattr(self.result, split)
        written = 0
        for example in examples:
            validator.check_example(example)
            out.write(json.dumps(example, ensure_ascii=False))
            out.write("\n")
            written += 1
        counts.sessions += 1
        counts.examples += written
        return written

    def finish(self) -> WriteResult:
        for split, validator in self.validators.items():
            report = validator.finish()
            if split == VALIDATION and self.validation_share > 0 and report.examples == 0:
                validator.warn(
                    "empty_validation_file",
                    "no session fell into the validation split; the file is empty",
                )
            self.result.reports[split] = report
        return self.result
