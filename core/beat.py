"""One beat for the whole farm, however many are started.

`SingleBeatScheduler` is django-celery-beat's database scheduler behind a
farm-wide lock: a row in the database, taken and renewed by one conditional
UPDATE per tick. A second beat started by mistake finds the lock held and
waits, sending nothing; it takes over within FARM_BEAT_LOCK_SECONDS when the
first one stops or dies. (Every periodic task is idempotent and has
`expires` as well, so even a brief overlap would do no harm.)
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from contextlib import suppress
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    close_old_connections,
    connections,
    transaction,
)
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.schedulers import DatabaseScheduler

from core.models import SchedulerLock

logger = logging.getLogger(__name__)

BEAT_LOCK = "beat"


def scheduler_lock_hold(*, name: str, holder: str, seconds: float) -> bool:
    """Take or renew the lock `name` for `holder`; False while someone else holds it."""
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    taken = (
        SchedulerLock.objects.filter(name=name)
        .filter(Q(holder=holder) | Q(expires_at__lt=now))
        .update(holder=holder, expires_at=until, acquired_at=now)
    )
    if taken:
        return True
    if SchedulerLock.objects.filter(name=name).exists():
        return False
    try:
        with transaction.atomic():
            SchedulerLock.objects.create(name=name, holder=holder, expires_at=until)
    except IntegrityError:  # another beat created it a moment ago
        return False
    return True


def scheduler_lock_release(*, name: str, holder: str) -> bool:
    return (
        SchedulerLock.objects.filter(name=name, holder=holder).update(
            holder="", expires_at=timezone.now()
        )
        == 1
    )


class SingleBeatScheduler(DatabaseScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lock_holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lock_seconds = float(settings.FARM_BEAT_LOCK_SECONDS)
        self._holding: bool | None = None
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        renew_in = self.lock_seconds / 3
        close_old_connections()
        try:
            return self._tick_holding_the_lock(renew_in, *args, **kwargs)
        except DatabaseError:
            # The database restarts or is unreachable: send nothing, try again soon.
            logger.warning("beat: database unavailable; retrying in %.0fs", renew_in)
            connections.close_all()
            return renew_in

    def _tick_holding_the_lock(self, renew_in: float, *args: Any, **kwargs: Any) -> float:
        holding = scheduler_lock_hold(
            name=BEAT_LOCK, holder=self.lock_holder, seconds=self.lock_seconds
        )
        if holding != self._holding:
            if holding:
                logger.info("beat lock taken by %s: sending the schedules", self.lock_holder)
            else:
                logger.warning("another beat holds the beat lock: standing by")
            self._holding = holding
        # Renew well before the lock runs out; stand by at the same pace.
        if not holding:
            return renew_in
        return min(super().tick(*args, **kwargs), renew_in)

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._holding:
                with suppress(DatabaseError):  # it runs out by itself anyway
                    scheduler_lock_release(name=BEAT_LOCK, holder=self.lock_holder)
