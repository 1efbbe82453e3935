"""A practice platform: accounts that can be made to misbehave, and the posts they received.

SandboxPost rows are the ground truth the farm's tests count, so nothing here
deduplicates by publish token: every successful submission is one row.
"""

from __future__ import annotations

from django.contrib.auth.hashers import check_password, make_password
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class SandboxAccount(models.Model):
    handle = models.SlugField(unique=True)
    password = models.CharField(max_length=128)
    # Sessions carry the epoch they were issued under; bumping it ends them all.
    session_epoch = models.PositiveIntegerField(default=0)

    # Fault switches, all off by default.
    rate_limit_seconds = models.PositiveIntegerField(
        default=0, help_text="When above 0, every upload answers 429 asking to wait this long."
    )
    fail_next = models.PositiveIntegerField(
        default=0, help_text="The next N upload submissions answer 503."
    )
    flaky_rate = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Probability (0 to 1) that an upload answers 503.",
    )
    slow_ms = models.PositiveIntegerField(
        default=0, help_text="Milliseconds the server waits before answering an upload."
    )
    answer_delay_ms = models.PositiveIntegerField(
        default=0,
        help_text=(
            "Milliseconds the server waits after saving an upload and before answering: "
            "the post is on the platform while the uploader still waits for its answer."
        ),
    )
    logged_out = models.BooleanField(
        default=False, help_text="Pages that need a session show a login challenge instead."
    )
    reject_reason = models.CharField(
        max_length=200, blank=True, help_text="When set, uploads are rejected with this reason."
    )
    garbage_html = models.BooleanField(
        default=False, help_text="Uploads answer 200 with a page that has none of the markers."
    )
    caption_max_length = models.PositiveIntegerField(default=2200)

    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["handle"]

    def __str__(self) -> str:
        return f"@{self.handle}"

    def set_password(self, raw_password: str) -> None:
        self.password = make_password(raw_password)

    def check_password(self, raw_password: str) -> bool:
        def upgrade(raw: str) -> None:
            # The hasher settings changed since this hash was made: store a fresh one.
            self.set_password(raw)
            type(self).objects.filter(pk=self.pk).update(password=self.password)

        return check_password(raw_password, self.password, upgrade)


class SandboxPost(models.Model):
    account = models.ForeignKey(SandboxAccount, on_delete=models.CASCADE, related_name="posts")
    title = models.CharField(max_length=200)
    caption = models.TextField(blank=True)
    # Indexed, never unique: duplicates must be recorded so they can be counted.
    publish_token = models.CharField(max_length=64, blank=True, db_index=True)
    media_name = models.CharField(max_length=255, blank=True)
    media_size = models.PositiveBigIntegerField(default=0)
    media_sha256 = models.CharField(max_length=64, blank=True)
    media_content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"
