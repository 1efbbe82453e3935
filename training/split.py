"""Which split a session goes to: a hash of its id, so every rerun agrees.

All of a session's examples go to the same split; otherwise the validation
set would hold near copies of training examples from the same session.
"""

from __future__ import annotations

import hashlib
import uuid

TRAIN = "train"
VALIDATION = "validation"
SPLITS = (TRAIN, VALIDATION)
MAX_VALIDATION_SHARE = 0.5


def split_fraction(session_id: uuid.UUID | str) -> float:
    """A number in [0, 1) fixed by the session id (SHA-256 of its canonical text)."""
    text = str(uuid.UUID(str(session_id)))
    digest = hashlib.sha256(text.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(session_id: uuid.UUID | str, validation_share: float) -> str:
    if not 0 <= validation_share <= MAX_VALIDATION_SHARE:
        raise ValueError(f"validation share must be between 0 and {MAX_VALIDATION_SHARE}")
    return VALIDATION if split_fraction(session_id) < validation_share else TRAIN
