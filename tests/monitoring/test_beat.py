"""One beat sends the schedules; a second one stands by and takes over when the first stops."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from config.celery import app
from core.beat import (
    BEAT_LOCK,
    SingleBeatScheduler,
    scheduler_lock_hold,
    scheduler_lock_release,
)
from core.models import SchedulerLock

pytestmark = pytest.mark.django_db


def test_the_lock_has_one_holder_at_a_time() -> None:
    assert scheduler_lock_hold(name=BEAT_LOCK, holder="a", seconds=30)
    assert not scheduler_lock_hold(name=BEAT_LOCK, holder="b", seconds=30)
    assert scheduler_lock_hold(name=BEAT_LOCK, holder="a", seconds=30)  # renewing
    assert SchedulerLock.objects.get(name=BEAT_LOCK).holder == "a"


def test_an_expired_lock_is_taken_over() -> None:
    scheduler_lock_hold(name=BEAT_LOCK, holder="a", seconds=30)
    SchedulerLock.objects.filter(name=BEAT_LOCK).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert scheduler_lock_hold(name=BEAT_LOCK, holder="b", seconds=30)
    assert not scheduler_lock_hold(name=BEAT_LOCK, holder="a", seconds=30)


def test_a_released_lock_is_free_at_once() -> None:
    scheduler_lock_hold(name=BEAT_LOCK, holder="a", seconds=30)
    assert scheduler_lock_release(name=BEAT_LOCK, holder="a")
    assert scheduler_lock_hold(name=BEAT_LOCK, holder="b", seconds=30)


@pytest.mark.django_db(transaction=True)  # a scheduler manages its own connections
def test_a_second_scheduler_sends_nothing_until_the_first_closes() -> None:
    first = SingleBeatScheduler(app=app)
    second = SingleBeatScheduler(app=app)
    # Every periodic task overdue, so a scheduler that may send sends at once.
    PeriodicTask.objects.update(last_run_at=timezone.now() - timedelta(days=1))
    PeriodicTasks.update_changed()
    sent: list[str] = []
    for scheduler in (first, second):
        scheduler.apply_async = lambda entry, *a, _s=scheduler, **k: sent.append(
            "first" if _s is first else "second"
        )

    first.tick()
    second.tick()
    second.tick()
    assert "second" not in sent
    assert "first" in sent
    assert SchedulerLock.objects.get(name=BEAT_LOCK).holder == first.lock_holder

    first.close()
    second.tick()
    assert SchedulerLock.objects.get(name=BEAT_LOCK).holder == second.lock_holder
    assert "second" in sent
    second.close()
