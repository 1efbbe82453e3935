"""Writes on captured sessions, by topic:

- `sessions`: capture settings, opening a session, closing it (scored, then
  accepted or rejected);
- `ingest`: appending batches of events (set-based and idempotent);
- `screenshots`: checked images stored as WebP;
- `archives`: a session as a ZIP with checksums, and retention;
- `tokens`: the ingest tokens of the browser extension.
"""

from capture.services.archives import (
    interaction_payload,
    session_archive,
    session_payload,
    sessions_archive_expired,
)
from capture.services.ingest import (
    MAX_EVENTS_PER_BATCH,
    AppendResult,
    SessionFull,
    max_events_per_session,
    session_events_append,
)
from capture.services.screenshots import (
    screenshot_max_bytes,
    screenshot_size_check,
    screenshot_to_webp,
    session_screenshot_add,
)
from capture.services.sessions import (
    SessionNotRecording,
    capture_settings_get,
    session_close,
    session_open,
)
from capture.services.tokens import (
    TOKEN_PREFIX,
    ingest_token_create,
    ingest_token_hash,
    ingest_token_revoke,
    ingest_token_touch,
)

__all__ = [
    "MAX_EVENTS_PER_BATCH",
    "TOKEN_PREFIX",
    "AppendResult",
    "SessionFull",
    "SessionNotRecording",
    "capture_settings_get",
    "ingest_token_create",
    "ingest_token_hash",
    "ingest_token_revoke",
    "ingest_token_touch",
    "interaction_payload",
    "max_events_per_session",
    "screenshot_max_bytes",
    "screenshot_size_check",
    "screenshot_to_webp",
    "session_archive",
    "session_close",
    "session_events_append",
    "session_open",
    "session_payload",
    "session_screenshot_add",
    "sessions_archive_expired",
]
