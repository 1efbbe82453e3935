"""The recorder script, as the Python side injects it.

One file, `capture/extension/recorder.js`: Manifest V3 loads content scripts
only from inside the extension's folder, so the extension's copy is the only
one, and publish runs inject that same file.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

RECORDER_PATH = Path(__file__).resolve().parent / "extension" / "recorder.js"


@cache
def recorder_source() -> str:
    return RECORDER_PATH.read_text(encoding="utf-8")


def recorder_bootstrap(*, session_id: str, allow_list: list[str]) -> str:
    """recorder.js followed by its start() call for one session."""
    options = json.dumps({"sessionId": session_id, "allowList": allow_list})
    return (
        f"{recorder_source()}\n;try {{ window.__farmRecorder.start({options}); }} catch (e) {{}}\n"
    )
