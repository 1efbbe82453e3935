"""Farm-wide locks kept in the database."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class SchedulerLock(models.Model):
    """A named farm-wide lock with an expiry, e.g. the one beat allowed to send schedules."""

    name = models.CharField(max_length=64, unique=True)
    holder = models.CharField(max_length=128, blank=True)
    acquired_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'} until {self.expires_at:%H:%M:%S}"
