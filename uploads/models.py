from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from accounts.models import Account, Platform, Workspace


class Campaign(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


# The platforms' posted limits for "post" (per hour, per day), shipped as
# RateLimitRule rows; used as they are when a platform's row is missing.
DEFAULT_POST_LIMITS: dict[str, tuple[int, int]] = {
    "tiktok": (3, 10),
    "instagram": (5, 15),
    "youtube": (5, 20),
    "x": (10, 50),
    "reddit": (2, 10),
    "sandbox": (1000, 10000),
}
# A platform the farm knows nothing about gets a cautious limit.
UNKNOWN_PLATFORM_LIMITS = (5, 20)


class RateLimitRule(models.Model):
    """A platform's posted limit for one action; accounts may override it."""

    platform = models.CharField(max_length=16, choices=Platform.choices)
    action = models.CharField(max_length=32, default="post")
    per_hour = models.PositiveIntegerField()
    per_day = models.PositiveIntegerField()
    min_interval_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["platform", "action"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "action"], name="one_rule_per_action")
        ]

    def __str__(self) -> str:
        return f"{self.platform} {self.action}: {self.per_hour}/h, {self.per_day}/day"

    @classmethod
    def shipped_default(cls, platform: str) -> RateLimitRule:
        per_hour, per_day = DEFAULT_POST_LIMITS.get(platform, UNKNOWN_PLATFORM_LIMITS)
        return cls(platform=platform, action="post", per_hour=per_hour, per_day=per_day)


class PostStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Queued"
    PUBLISHING = "publishing", "Publishing"
    RETRY_WAIT = "retry_wait", "Waiting to retry"
    RATE_LIMITED = "rate_limited", "Rate limited"
    UNKNOWN = "unknown", "Unknown (verifying)"
    POSTED = "posted", "Posted"
    FAILED = "failed", "Failed"
    DEAD = "dead", "Dead (attempts used up)"
    CANCELLED = "cancelled", "Cancelled"


# The states the dispatcher may move to `queued` once their time has come.
DISPATCHABLE = (PostStatus.SCHEDULED, PostStatus.RETRY_WAIT, PostStatus.RATE_LIMITED)
TERMINAL = (PostStatus.POSTED, PostStatus.FAILED, PostStatus.DEAD, PostStatus.CANCELLED)


class Post(models.Model):
    class Kind(models.TextChoices):
        VIDEO = "video", "Video"
        IMAGE = "image", "Image"
        TEXT = "text", "Text"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="posts")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="posts")
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="posts"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TEXT)
    title = models.CharField(max_length=200)
    caption = models.TextField(blank=True)
    media = models.FileField(upload_to="posts/%Y/%m/%d/", blank=True)
    priority = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    scheduled_for = models.DateTimeField(default=timezone.now)

    status = models.CharField(
        max_length=16, choices=PostStatus.choices, default=PostStatus.SCHEDULED
    )
    # Handed to the platform with the post, so `verify` can find it there.
    publish_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    attempts_count = models.PositiveIntegerField(default=0)
    dispatch_count = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=4)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    lease_holder = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    platform_post_id = models.CharField(max_length=200, blank=True)
    platform_url = models.URLField(max_length=500, blank=True)
    last_error = models.TextField(blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "scheduled_for"], name="post_status_due"),
            models.Index(fields=["account", "status"], name="post_account_status"),
            models.Index(fields=["status", "queued_at"], name="post_status_queued"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class ErrorKind(models.TextChoices):
    TRANSIENT = "transient", "Transient"
    RATE_LIMITED = "rate_limited", "Rate limited"
    LOGIN_REQUIRED = "login_required", "Login required"
    REJECTED = "rejected", "Content rejected"
    BROWSER = "browser", "Browser broke"
    UNKNOWN = "unknown", "Outcome unknown"
    PROFILE_BUSY = "profile_busy", "Profile busy"


class PostAttempt(models.Model):
    """One dispatch of a post and, once a worker runs it, what happened.

    The row is written at dispatch time, so the trailing-hour and day limits
    count every post already sent to the platform or on its way there.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        POSTED = "posted", "Posted"
        ERROR = "error", "Error"
        ABANDONED = "abandoned", "Abandoned"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="attempts")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    dispatched_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    error_kind = models.CharField(max_length=32, choices=ErrorKind.choices, blank=True)
    message = models.TextField(blank=True)
    screenshot = models.ImageField(upload_to="attempts/%Y/%m/%d/", blank=True)
    browser_reused = models.BooleanField(default=False)
    # False when the platform never saw the post (rate limit, busy profile):
    # such attempts do not use up `max_attempts`.
    counts_as_attempt = models.BooleanField(default=True)

    class Meta:
        ordering = ["post", "number"]
        indexes = [models.Index(fields=["account", "dispatched_at"], name="attempt_account_time")]

    def __str__(self) -> str:
        return f"Attempt {self.number} of post {self.post_id}"

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class PlatformCircuit(models.Model):
    """A platform's circuit breaker, shared by every dispatcher and worker.

    `closed`: posts go out. `open`: repeated infrastructure failures, so no
    post of this platform is dispatched until `retry_at`. `half_open`: the
    cool-down is over and one dispatcher has sent a single probe post; its
    outcome closes the circuit or opens it for another cool-down. Only
    conditional UPDATEs change a row (`uploads.circuits`).
    """

    class State(models.TextChoices):
        CLOSED = "closed", "Closed (posting)"
        OPEN = "open", "Open (paused)"
        HALF_OPEN = "half_open", "Half-open (probing)"

    platform = models.CharField(max_length=16, choices=Platform.choices, unique=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    # The end of the cool-down: from then on a probe may be sent.
    retry_at = models.DateTimeField(null=True, blank=True)
    # A plain id, not a foreign key: the probe is a marker, and deleting a
    # post must not touch the breaker's row.
    probe_post_id = models.BigIntegerField(null=True, blank=True)
    # When a dispatcher claimed the probe slot; a claim older than the publish
    # lease is stale and the slot may be claimed again.
    probe_started_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["platform"]

    def __str__(self) -> str:
        return f"{self.get_platform_display()}: {self.get_state_display()}"
