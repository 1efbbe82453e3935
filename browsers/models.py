from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models

from accounts.crypto import EncryptedJSONField
from accounts.models import Account


class BrowserProfile(models.Model):
    """The isolated browser an account is driven through.

    The lease fields make sure at most one live browser runs a profile across
    the whole farm: a worker takes the lease with a conditional UPDATE and
    renews it while the browser lives.
    """

    class Provider(models.TextChoices):
        LOCAL = "local", "Local Chromium"

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, related_name="browser_profile"
    )
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.LOCAL)
    # A proxy URL may carry a password, so it is kept encrypted.
    proxy = EncryptedJSONField(null=True, blank=True, editable=False)
    locale = models.CharField(max_length=16, default="en-US")
    timezone = models.CharField(max_length=64, default="UTC")
    window_width = models.PositiveIntegerField(default=1280)
    window_height = models.PositiveIntegerField(default=900)
    # Names the profile's folder: a database restored or reset never hands
    # one account's logged-in folder to another that got the same id.
    folder = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    lease_holder = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Profile of {self.account}"

    @property
    def user_data_dir(self) -> Path:
        return Path(settings.FARM_PROFILES_DIR) / str(self.folder)
