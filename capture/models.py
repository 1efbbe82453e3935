"""Captured browser sessions: who did what on which page, masked and scored.

A session is written by the ingest API (a person's extension) or by the
publish run (Selenium); its interactions and screenshots are raw data kept
until the session is archived, after which only the ZIP and the session row
with its scores remain.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import Account, Workspace


class IngestToken(models.Model):
    """What the browser extension sends: `Authorization: Capture <token>`.

    Only the token's SHA-256 is stored; the token itself is shown once.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="ingest_tokens")
    name = models.CharField(max_length=120)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["workspace", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.workspace})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class CaptureSettings(models.Model):
    """A workspace's capture knobs, created on first use."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="capture_settings"
    )
    min_quality = models.FloatField(
        default=0.5, help_text="Sessions whose overall quality is below this are rejected (0..1)."
    )
    retention_days = models.PositiveIntegerField(
        default=90, help_text="Sessions older than this are archived and their raw rows removed."
    )
    input_allow_list = models.JSONField(
        default=list,
        blank=True,
        help_text="Input names or ids whose values may be recorded unmasked.",
    )

    class Meta:
        verbose_name = "capture settings"
        verbose_name_plural = "capture settings"

    def __str__(self) -> str:
        return f"Capture settings of {self.workspace}"


class CapturedSession(models.Model):
    class Kind(models.TextChoices):
        HUMAN = "human", "Human"
        AUTOMATED = "automated", "Automated"
        HYBRID = "hybrid", "Hybrid"

    class State(models.TextChoices):
        RECORDING = "recording", "Recording"
        CLOSED = "closed", "Closed"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        ARCHIVED = "archived", "Archived"

    # The training split hashes this id, so it must never change.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="captured_sessions"
    )
    account = models.ForeignKey(Account, on_delete=models.SET_NULL, null=True, blank=True)
    profile = models.ForeignKey(
        "browsers.BrowserProfile", on_delete=models.SET_NULL, null=True, blank=True
    )
    attempt = models.OneToOneField(
        "uploads.PostAttempt",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="captured_session",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.HUMAN)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.RECORDING, db_index=True
    )
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    start_url = models.URLField(max_length=2000, blank=True)
    viewport_width = models.PositiveIntegerField(null=True, blank=True)
    viewport_height = models.PositiveIntegerField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    task = models.TextField(blank=True, help_text="The task description, masked.")

    # Scores, 0..1, set when the session is closed; `quality` is the overall one.
    completeness = models.FloatField(null=True, blank=True)
    selector_reliability = models.FloatField(null=True, blank=True)
    training_value = models.FloatField(null=True, blank=True)
    quality = models.FloatField(null=True, blank=True, db_index=True)
    quality_details = models.JSONField(default=dict, blank=True)
    rejection_reason = models.TextField(blank=True)

    events_count = models.PositiveIntegerField(default=0)
    masked_kinds = models.JSONField(default=list, blank=True)
    archive = models.FileField(upload_to="capture/archives/%Y/%m/", null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_by_token = models.ForeignKey(
        IngestToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions"
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["workspace", "state", "started_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} session {self.id}"


class Screenshot(models.Model):
    session = models.ForeignKey(
        CapturedSession, on_delete=models.CASCADE, related_name="screenshots"
    )
    # The interaction it belongs to, if any.
    sequence = models.PositiveIntegerField(null=True, blank=True)
    image = models.ImageField(upload_to="capture/screenshots/%Y/%m/%d/")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "sequence", "taken_at"]
        indexes = [models.Index(fields=["session", "sequence"])]

    def __str__(self) -> str:
        return f"Screenshot {self.sequence} of {self.session_id}"


class Interaction(models.Model):
    class Kind(models.TextChoices):
        NAVIGATE = "navigate", "Navigate"
        CLICK = "click", "Click"
        INPUT = "input", "Input"
        SCROLL = "scroll", "Scroll"
        SUBMIT = "submit", "Submit"

    session = models.ForeignKey(
        CapturedSession, on_delete=models.CASCADE, related_name="interactions"
    )
    sequence = models.PositiveIntegerField()
    timestamp_ms = models.BigIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.TextField(blank=True)
    title = models.CharField(max_length=500, blank=True)
    value = models.TextField(blank=True, help_text="Already masked.")
    masked_kinds = models.JSONField(default=list, blank=True)
    # tag, text, role, name, attributes, bbox, selectors, nearby, dom_snippet
    target = models.JSONField(null=True, blank=True)
    scroll_x = models.IntegerField(null=True, blank=True)
    scroll_y = models.IntegerField(null=True, blank=True)
    found_in_dom = models.BooleanField(null=True, blank=True)
    # The page changed after this event (a mutation the recorder saw); null = not reported.
    dom_changed = models.BooleanField(null=True, blank=True)
    screenshot = models.ForeignKey(
        Screenshot, on_delete=models.SET_NULL, null=True, blank=True, related_name="interactions"
    )

    class Meta:
        ordering = ["session", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "sequence"], name="capture_interaction_unique_sequence"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sequence}: {self.kind}"


# What an interaction records of its event, in the order ingest writes it:
# the one list that ingest, scoring, exports and the console read from.
INTERACTION_RECORDED_FIELDS = (
    "sequence",
    "timestamp_ms",
    "kind",
    "url",
    "title",
    "value",
    "masked_kinds",
    "target",
    "scroll_x",
    "scroll_y",
    "found_in_dom",
    "dom_changed",
)
