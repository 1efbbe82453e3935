from __future__ import annotations

import zoneinfo
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now

from accounts.crypto import EncryptedJSONField
from core.tenancy import Role


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a known IANA time zone.") from None


class Platform(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox"
    TIKTOK = "tiktok", "TikTok"
    INSTAGRAM = "instagram", "Instagram"
    YOUTUBE = "youtube", "YouTube"
    X = "x", "X"
    REDDIT = "reddit", "Reddit"


class Workspace(models.Model):
    """A tenant: accounts, posts and members belong to one workspace."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    max_accounts = models.PositiveIntegerField(
        default=50, help_text="The plan's cap on the number of platform accounts."
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def local_date(self, at: datetime | None = None) -> date:
        return (at or now()).astimezone(self.tz).date()


class Membership(models.Model):
    Role = Role  # owner, operator, viewer: core.tenancy decides what each may do

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.OPERATOR)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.workspace}"


class Account(models.Model):
    """One account on one platform, run by the workspace's operators."""

    # Encrypted columns: never loaded for a console page (core.admin.deferring_secrets).
    secret_fields = ("credentials", "cookies")

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        NEEDS_LOGIN = "needs_login", "Needs login"
        DISABLED = "disabled", "Disabled"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="accounts")
    platform = models.CharField(max_length=16, choices=Platform.choices)
    handle = models.CharField(max_length=120)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.ACTIVE, db_index=True
    )
    state_reason = models.CharField(max_length=500, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)

    credentials = EncryptedJSONField(null=True, blank=True, editable=False)
    cookies = EncryptedJSONField(null=True, blank=True, editable=False)

    # The workspace's calendar day decides what "today" means for the quota.
    daily_quota = models.PositiveIntegerField(default=20)
    quota_used = models.PositiveIntegerField(default=0)
    quota_date = models.DateField(null=True, blank=True)

    # Overrides of the platform's RateLimitRule for "post"; empty = the rule.
    per_hour_override = models.PositiveIntegerField(null=True, blank=True)
    per_day_override = models.PositiveIntegerField(null=True, blank=True)
    min_interval_override = models.PositiveIntegerField(null=True, blank=True)

    # Health: what the farm last saw of this account.
    last_posted_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error_kind = models.CharField(max_length=32, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["workspace", "platform", "handle"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "platform", "handle"], name="unique_handle_per_platform"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} @{self.handle}"

    def quota_used_on(self, day: date) -> int:
        return self.quota_used if self.quota_date == day else 0


class ApiToken(models.Model):
    """A person's key to the API, sent as `Authorization: Token <key>`.

    Only the key's SHA-256 is stored, with its first characters to tell keys
    apart; the key itself is shown once, when it is made
    (`accounts.services.api_token_create`). A call with it acts as the person,
    with their roles in each of their workspaces.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=120, help_text="What the key is for, e.g. the integration.")
    prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
