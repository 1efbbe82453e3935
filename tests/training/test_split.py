"""The split is a hash of the session id: fixed for a session, near the share over many."""

from __future__ import annotations

import io
import json
import uuid

import pytest

from training.split import TRAIN, VALIDATION, split_fraction, split_of
from training.writer import SplitWriter


def test_a_session_always_lands_in_the_same_split() -> None:
    session_id = uuid.UUID("291a5caf-65df-58a5-a971-a4f9393bfb58")
    # SHA-256 of the canonical text: the same in any process, on any machine.
    assert split_fraction(session_id) == split_fraction(str(session_id).upper())
    assert split_fraction(session_id) == pytest.approx(0.09618, abs=1e-5)
    assert split_of(session_id, 0.1) == VALIDATION
    assert split_of(session_id, 0.05) == TRAIN


def test_the_validation_share_is_kept_over_many_sessions() -> None:
    ids = [uuid.uuid5(uuid.NAMESPACE_URL, f"session-{n}") for n in range(20_000)]
    share = sum(split_of(i, 0.2) == VALIDATION for i in ids) / len(ids)
    assert share == pytest.approx(0.2, abs=0.01)
    assert all(split_of(i, 0) == TRAIN for i in ids[:1000])


def test_a_larger_share_only_moves_sessions_into_validation() -> None:
    ids = [uuid.uuid5(uuid.NAMESPACE_URL, f"s-{n}") for n in range(2000)]
    small = {i for i in ids if split_of(i, 0.1) == VALIDATION}
    large = {i for i in ids if split_of(i, 0.3) == VALIDATION}
    assert small < large


@pytest.mark.parametrize("share", [-0.1, 0.51, 1.0])
def test_a_share_out_of_range_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="validation share"):
        split_of(uuid.uuid4(), share)


def test_the_writer_keeps_a_sessions_examples_together() -> None:
    train, validation = io.StringIO(), io.StringIO()
    writer = SplitWriter(fmt="messages", train=train, validation=validation, validation_share=0.5)
    example = {
        "messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]
    }
    ids = [uuid.uuid5(uuid.NAMESPACE_URL, f"w-{n}") for n in range(40)]
    for session_id in ids:
        writer.write_session(session_id, [example] * 3)
    result = writer.finish()
    assert result.train.examples == 3 * result.train.sessions
    assert result.validation.examples == 3 * result.validation.sessions
    assert result.train.sessions + result.validation.sessions == 40
    assert train.getvalue().count("\n") == result.train.examples
    assert all(json.loads(line) == example for line in validation.getvalue().splitlines())
    assert result.reports["train"].ok and result.reports["validation"].ok
