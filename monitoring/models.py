from __future__ import annotations

from django.db import models
from django.utils import timezone

from accounts.models import Account, Platform, Workspace


class Alert(models.Model):
    """Something an operator must look at; open until resolved."""

    class Kind(models.TextChoices):
        LOGIN_REQUIRED = "login_required", "Login required"
        POST_DEAD = "post_dead", "Post gave up"
        POST_REJECTED = "post_rejected", "Post rejected"
        RATE_LIMITED = "rate_limited", "Rate limited by the platform"
        PLATFORM_CIRCUIT_OPEN = "platform_circuit_open", "Platform paused after repeated failures"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="alerts")
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, null=True, blank=True, related_name="alerts"
    )
    # Set on platform-wide alerts (no account), which each affected workspace gets.
    platform = models.CharField(max_length=16, choices=Platform.choices, blank=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    message = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message[:60]}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
