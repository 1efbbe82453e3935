"""A circuit breaker per platform, shared by every dispatcher and worker.

What counts: only infrastructure failures, `ErrorKind.TRANSIENT` (5xx,
timeouts, unrecognised or garbage pages, an element not found, an
unforeseen error while driving the page). Those say the platform's side is
broken for everyone. Rate limits, login challenges and rejected content
are about one account or one post, and a crashed browser is about our own
machine, so none of them moves the breaker.

`closed` → `open`: `FARM_CIRCUIT_FAILURE_THRESHOLD` counted failures in a
row, across all accounts of the platform (any success resets the count).
Opening raises a platform-wide alert in every workspace with an account on
the platform. Nothing of the platform is dispatched while open, and a queued
post a worker picks up then goes back to `scheduled` untouched.

`open` → `half_open`: once `retry_at` has passed, the dispatcher that wins
one conditional UPDATE queues exactly one post of the platform, the probe,
and records its id in the same transaction. Other dispatchers queue nothing
of the platform while it is half-open, and workers publish only the probe.

`half_open` → `closed` on a success (the alerts are resolved), or → `open`
for another cool-down on a counted failure. A probe that ends any other way
(cancelled, rate limited, login required, a crashed browser, an unknown
outcome) decides nothing: the next dispatcher pass sees it is no longer
queued or publishing and sends a new probe. So does a probe claim older
than the publish lease (a probe stuck in the queue, a dispatcher that died
between claiming and queueing), so a half-open circuit never stays stuck.

Every change is a conditional UPDATE on the platform's row; rows are
created on a platform's first counted failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

from uploads.models import ErrorKind, PlatformCircuit, Post, PostStatus
from uploads.signals import circuit_closed, circuit_opened

logger = logging.getLogger(__name__)

State = PlatformCircuit.State

# The error kinds that are about the platform's infrastructure (see above).
COUNTED_ERRORS = frozenset({ErrorKind.TRANSIENT})
# A probe still in one of these states is out and has not answered yet.
PROBE_OUT = (PostStatus.QUEUED, PostStatus.PUBLISHING)

_CLOSED_FIELDS = {
    "state": State.CLOSED,
    "consecutive_failures": 0,
    "opened_at": None,
    "retry_at": None,
    "probe_post_id": None,
    "probe_started_at": None,
}


def _open_fields(now: datetime, retry_at: datetime) -> dict[str, object]:
    return {
        "state": State.OPEN,
        "opened_at": now,
        "retry_at": retry_at,
        "probe_post_id": None,
        "probe_started_at": None,
        "updated_at": now,
    }


def _announce_open(platform: str, why: str, retry_at: datetime) -> None:
    """Tell every workspace on the platform that it is paused.

    The alert goes to many tenants, so it says only what is the platform's:
    why, how many failures, when the probe goes. The failing posts' own error
    text belongs to one tenant and stays on the circuit row (`last_error`),
    which only people who run the whole farm see.
    """
    label = PlatformCircuit(platform=platform).get_platform_display()
    circuit_opened.send(
        sender=PlatformCircuit,
        platform=platform,
        message=(
            f"{label} is paused: {why}. One probe post goes out after "
            f"{retry_at:%Y-%m-%d %H:%M:%S} UTC; its success resumes posting."
        ),
    )


def circuit_record_failure(
    *, platform: str, error_kind: str, message: str = "", now: datetime | None = None
) -> bool:
    """Count an infrastructure failure on a platform; True if this call opened its circuit.

    Errors of other kinds are ignored (see the module's docstring).
    """
    if error_kind not in COUNTED_ERRORS:
        return False
    now = now or timezone.now()
    message = message[:2000]
    PlatformCircuit.objects.get_or_create(platform=platform)
    row = PlatformCircuit.objects.filter(platform=platform)
    # Half-open and still failing, whether the probe or a straggler said so.
    retry_at = now + timedelta(seconds=settings.FARM_CIRCUIT_COOLDOWN_SECONDS)
    opening = _open_fields(now, retry_at)
    if row.filter(state=State.HALF_OPEN).update(
        consecutive_failures=F("consecutive_failures") + 1, last_error=message, **opening
    ):
        logger.warning("%s: still failing after the cool-down; paused again", platform)
        failures = row.values_list("consecutive_failures", flat=True).first()
        # An operator may have resolved the first alert meanwhile: say it again.
        _announce_open(
            platform,
            f"still failing after a cool-down ({failures} infrastructure failures in a row)",
            retry_at,
        )
        return True
    # Open: posts sent before it opened tell nothing new, and must not extend the pause.
    if not row.filter(state=State.CLOSED).update(
        consecutive_failures=F("consecutive_failures") + 1, last_error=message, updated_at=now
    ):
        return False
    threshold = settings.FARM_CIRCUIT_FAILURE_THRESHOLD
    # Many workers may cross the threshold together: the one whose UPDATE moves the row opens it.
    if not row.filter(state=State.CLOSED, consecutive_failures__gte=threshold).update(**opening):
        return False
    logger.warning("%s: %d infrastructure failures in a row; paused", platform, threshold)
    _announce_open(platform, f"{threshold} infrastructure failures in a row", retry_at)
    return True


def circuit_record_success(*, platform: str, now: datetime | None = None) -> bool:
    """A post of this platform went through; True if this call closed its circuit.

    Resets a closed circuit's count and closes a half-open one. An open
    circuit waits out its cool-down: a post sent before it opened proves little.
    """
    current = (
        PlatformCircuit.objects.filter(platform=platform)
        .values_list("state", "consecutive_failures")
        .first()
    )
    # The common case writes nothing, so successes never queue on the row's lock.
    if current is None or current == (State.CLOSED, 0) or current[0] == State.OPEN:
        return False
    now = now or timezone.now()
    row = PlatformCircuit.objects.filter(platform=platform)
    if current[0] == State.CLOSED:
        row.filter(state=State.CLOSED).update(consecutive_failures=0, updated_at=now)
        return False
    if not row.filter(state=State.HALF_OPEN).update(**_CLOSED_FIELDS, updated_at=now):
        return False
    logger.info("%s: the probe went through; posting resumes", platform)
    circuit_closed.send(sender=PlatformCircuit, platform=platform)
    return True


def circuit_close(*, platform: str, now: datetime | None = None) -> bool:
    """An operator says the platform is fine: close its circuit and resolve its alerts."""
    now = now or timezone.now()
    closed = (
        PlatformCircuit.objects.filter(platform=platform)
        .exclude(state=State.CLOSED, consecutive_failures=0)
        .update(**_CLOSED_FIELDS, updated_at=now)
    )
    circuit_closed.send(sender=PlatformCircuit, platform=platform)
    return bool(closed)


@dataclass(frozen=True)
class CircuitGate:
    """What the circuits allow the dispatcher in one pass.

    `held`: platforms that get no ordinary dispatch (every circuit not
    closed). `probe_ready`: circuits, as read, whose probe slot may be
    claimed now with `circuit_probe_claim`.
    """

    held: frozenset[str] = frozenset()
    probe_ready: tuple[PlatformCircuit, ...] = ()


def circuits_gate(*, now: datetime) -> CircuitGate:
    """Read the circuits for one dispatcher pass: one query, two while a probe is out."""
    circuits = list(PlatformCircuit.objects.exclude(state=State.CLOSED))
    if not circuits:
        return CircuitGate()
    probe_ids = [
        c.probe_post_id for c in circuits if c.state == State.HALF_OPEN and c.probe_post_id
    ]
    out = (
        set(
            Post.objects.filter(pk__in=probe_ids, status__in=PROBE_OUT).values_list("pk", flat=True)
        )
        if probe_ids
        else set()
    )
    stale_before = now - timedelta(seconds=settings.FARM_PUBLISH_LEASE_SECONDS)

    def ready(circuit: PlatformCircuit) -> bool:
        if circuit.state == State.OPEN:
            return circuit.retry_at is None or circuit.retry_at <= now
        if circuit.probe_started_at is None or circuit.probe_started_at < stale_before:
            return True  # released by a dispatcher that found nothing to send, or stale
        # The probe ended without a verdict (cancelled, rate limited, unknown, …).
        return circuit.probe_post_id is not None and circuit.probe_post_id not in out

    return CircuitGate(
        held=frozenset(c.platform for c in circuits),
        probe_ready=tuple(c for c in circuits if ready(c)),
    )


def circuit_probe_claim(*, circuit: PlatformCircuit, now: datetime) -> bool:
    """Take a circuit's probe slot; of the dispatchers that read the same row, one wins.

    The UPDATE names the row exactly as `circuits_gate` read it, so a
    dispatcher whose read is out of date changes nothing. The winner must
    then call `circuit_probe_sent` or `circuit_probe_release` with `now`.
    """
    return (
        PlatformCircuit.objects.filter(
            pk=circuit.pk,
            state=circuit.state,
            retry_at=circuit.retry_at,
            probe_post_id=circuit.probe_post_id,
            probe_started_at=circuit.probe_started_at,
        ).update(state=State.HALF_OPEN, probe_post_id=None, probe_started_at=now, updated_at=now)
        == 1
    )


def _unsent_claim(platform: str, claimed_at: datetime) -> QuerySet[PlatformCircuit]:
    """The circuit row while this dispatcher's probe claim is still open and unsent."""
    return PlatformCircuit.objects.filter(
        platform=platform,
        state=State.HALF_OPEN,
        probe_post_id__isnull=True,
        probe_started_at=claimed_at,
    )


def circuit_probe_sent(*, platform: str, claimed_at: datetime, post_id: int) -> bool:
    """Remember the probe a claim queued (in the transaction that queued it)."""
    return (
        _unsent_claim(platform, claimed_at).update(probe_post_id=post_id, updated_at=timezone.now())
        == 1
    )


def circuit_probe_release(*, platform: str, claimed_at: datetime) -> bool:
    """A claim found no post to send: free the slot for the next pass."""
    return (
        _unsent_claim(platform, claimed_at).update(probe_started_at=None, updated_at=timezone.now())
        == 1
    )


def circuit_admits(*, platform: str, post_id: int) -> bool:
    """May a worker publish this queued post? Never while open; only the probe when half-open."""
    current = (
        PlatformCircuit.objects.filter(platform=platform)
        .values_list("state", "probe_post_id")
        .first()
    )
    if current is None or current[0] == State.CLOSED:
        return True
    return current == (State.HALF_OPEN, post_id)
