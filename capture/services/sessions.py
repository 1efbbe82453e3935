"""Opening and closing captured sessions, and each workspace's capture settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Workspace
from capture.masking import mask_text, mask_url
from capture.models import (
    INTERACTION_RECORDED_FIELDS,
    CapturedSession,
    CaptureSettings,
    IngestToken,
    Interaction,
    Screenshot,
)
from capture.quality import Scores, session_scores
from core.errors import ServiceError, StateConflict


class SessionNotRecording(StateConflict):
    """Events and screenshots go only to a session that is still recording."""

    def __init__(self, session: CapturedSession) -> None:
        super().__init__(
            f"The session is {session.state}; events and screenshots are taken only "
            "while it is recording."
        )
        self.session = session


def capture_settings_get(*, workspace: Workspace) -> CaptureSettings:
    """The workspace's capture settings, created with the defaults on first use."""
    found, _ = CaptureSettings.objects.get_or_create(workspace=workspace)
    return found


def session_open(
    *,
    workspace: Workspace,
    kind: str,
    start_url: str = "",
    viewport: dict[str, Any] | None = None,
    user_agent: str = "",
    task: str = "",
    account: Account | None = None,
    profile: Any = None,
    attempt: Any = None,
    token: IngestToken | None = None,
) -> CapturedSession:
    if kind not in CapturedSession.Kind.values:
        raise ServiceError(f"kind must be one of {', '.join(CapturedSession.Kind.values)}.")
    for name, linked in (("account", account), ("profile", profile), ("token", token)):
        owner = _workspace_id_of(linked)
        if owner is not None and owner != workspace.pk:
            raise ServiceError(f"The {name} belongs to another workspace.")
    masked_task, task_kinds = mask_text(task or "")
    masked_url, url_kinds = mask_url(start_url or "")
    viewport = viewport or {}
    return CapturedSession.objects.create(
        workspace=workspace,
        kind=kind,
        start_url=masked_url[:2000],
        viewport_width=_positive_int(viewport.get("width")),
        viewport_height=_positive_int(viewport.get("height")),
        user_agent=(user_agent or "")[:500],
        task=masked_task,
        masked_kinds=sorted(task_kinds | url_kinds),
        account=account,
        profile=profile,
        attempt=attempt,
        created_by_token=token,
    )


def _positive_int(value: Any) -> int | None:
    return value if type(value) is int and 0 < value < 2**31 else None


def _workspace_id_of(linked: Any) -> int | None:
    if linked is None:
        return None
    if hasattr(linked, "workspace_id"):
        return linked.workspace_id
    account = getattr(linked, "account", None)  # a browser profile
    return getattr(account, "workspace_id", None)


_FINAL = (
    CapturedSession.State.ACCEPTED,
    CapturedSession.State.REJECTED,
    CapturedSession.State.ARCHIVED,
)


def session_close(*, session: CapturedSession, ended_at: datetime | None = None) -> CapturedSession:
    """Score the session, then accept it or reject it against the workspace's minimum.

    Three steps, so that no lock is held while the events are read and scored
    (time linear in the session, up to CAPTURE_MAX_EVENTS_PER_SESSION events):
    the session moves from recording to closed (no more events or screenshots
    are taken), is scored without a lock, then takes its scores and verdict if
    it is still closed. A session left closed (its closer died) is scored by
    the next close. Closing a session already decided returns it as it is, so
    a resent close is harmless.
    """
    with transaction.atomic():
        locked = CapturedSession.objects.select_for_update().get(pk=session.pk)
        if locked.state in _FINAL:
            return locked
        if locked.state == CapturedSession.State.RECORDING:
            locked.state = CapturedSession.State.CLOSED
            locked.ended_at = ended_at or locked.ended_at or timezone.now()
            locked.save(update_fields=["state", "ended_at"])
    scores = _session_score(locked)
    minimum = capture_settings_get(workspace=locked.workspace).min_quality
    with transaction.atomic():
        locked = CapturedSession.objects.select_for_update().get(pk=session.pk)
        if locked.state != CapturedSession.State.CLOSED:
            return locked  # decided meanwhile by another close
        locked.completeness = scores.completeness
        locked.selector_reliability = scores.selector_reliability
        locked.training_value = scores.training_value
        locked.quality = scores.quality
        locked.quality_details = scores.details
        locked.ended_at = ended_at or locked.ended_at or timezone.now()
        if scores.quality < minimum:
            locked.state = CapturedSession.State.REJECTED
            locked.rejection_reason = scores.rejection_reason(minimum)
        else:
            locked.state = CapturedSession.State.ACCEPTED
            locked.rejection_reason = ""
        locked.save()
    return locked


def _session_score(session: CapturedSession) -> Scores:
    # Read in chunks: scoring keeps only a few numbers of each event.
    interactions = (
        Interaction.objects.filter(session=session)
        .order_by("sequence")
        .values(*INTERACTION_RECORDED_FIELDS, "screenshot_id")
        .iterator(chunk_size=1000)
    )
    # The filter leaves out screenshots without a sequence.
    shot_sequences = cast(
        set[int],
        set(
            Screenshot.objects.filter(session=session, sequence__isnull=False).values_list(
                "sequence", flat=True
            )
        ),
    )
    return session_scores(interactions=interactions, screenshot_sequences=shot_sequences)
