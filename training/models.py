"""Training-data exports of captured sessions, and their schedules."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django_celery_beat.validators import crontab_validator

from accounts.models import Workspace
from training.formats import MESSAGES, MIND2WEB
from training.split import MAX_VALIDATION_SHARE


class ExportFormat(models.TextChoices):
    MESSAGES = MESSAGES, "Chat messages (OpenAI / TRL)"
    MIND2WEB = MIND2WEB, "Mind2Web"


class ExportFilters(models.Model):
    """Which sessions an export takes, and how it writes them (shared by schedules)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kinds = models.JSONField(
        default=list,
        blank=True,
        help_text="Session kinds to take (human, automated, hybrid); empty takes all.",
    )
    min_quality = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Only sessions whose overall quality is at least this (0..1).",
    )
    format = models.CharField(
        max_length=16, choices=ExportFormat.choices, default=ExportFormat.MESSAGES
    )
    validation_share = models.FloatField(
        default=0.1,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_VALIDATION_SHARE)],
        help_text="Share of sessions (by a hash of their id) that go to the validation file.",
    )

    class Meta:
        abstract = True


class Export(ExportFilters):
    # A build's progress and what it wrote, as the console and the API show them.
    COUNT_FIELDS = (
        "sessions_total",
        "sessions_done",
        "sessions_count",
        "examples_count",
        "train_count",
        "validation_count",
    )

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="training_exports"
    )
    started_from = models.DateTimeField(
        null=True, blank=True, help_text="Sessions started at or after this."
    )
    started_until = models.DateTimeField(
        null=True, blank=True, help_text="Sessions started before this."
    )
    schedule = models.ForeignKey(
        "training.ExportSchedule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exports",
    )

    state = models.CharField(
        max_length=16, choices=State.choices, default=State.PENDING, db_index=True
    )
    # Each run claims the export with a fresh token; a run whose token is gone
    # (another took over a crashed run) stops at its next progress update.
    run_token = models.UUIDField(null=True, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    sessions_total = models.PositiveIntegerField(default=0)
    sessions_done = models.PositiveIntegerField(default=0)
    sessions_count = models.PositiveIntegerField(default=0, help_text="Sessions exported.")
    examples_count = models.PositiveIntegerField(default=0)
    train_count = models.PositiveIntegerField(default=0, help_text="Training examples.")
    validation_count = models.PositiveIntegerField(default=0, help_text="Validation examples.")
    warnings = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)

    train_file = models.FileField(upload_to="training/exports/", null=True, blank=True)
    validation_file = models.FileField(upload_to="training/exports/", null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "state"])]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.format}, {self.state})"

    @property
    def progress_percent(self) -> int:
        if self.state == self.State.READY:
            return 100
        if not self.sessions_total:
            return 0
        return min(100, int(100 * self.sessions_done / self.sessions_total))


class ExportSchedule(ExportFilters):
    """An export made again and again by beat (a django-celery-beat PeriodicTask).

    Each run takes the sessions started in the last `window_days` days (all of
    them when empty) up to the moment it runs.
    """

    name = models.CharField(max_length=120)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="training_export_schedules"
    )
    window_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Take sessions of the last this many days; empty: all."
    )
    cron = models.CharField(
        max_length=120,
        default="0 3 * * *",
        validators=[crontab_validator],
        help_text="When to run, as cron's five fields (minute hour day month weekday), "
        "in the workspace's time zone.",
    )
    enabled = models.BooleanField(default=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["workspace", "name"]

    def __str__(self) -> str:
        return self.name
