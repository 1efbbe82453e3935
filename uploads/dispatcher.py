"""The dispatcher: moves due posts to `queued` within every limit, and sends one message each.

Run by beat every few seconds. Each pass locks a chunk of accounts
(`SKIP LOCKED`, so concurrent dispatchers share the work instead of
waiting), counts each account's dispatches in the trailing hour and day,
and queues as many of its due posts as the limits allow, highest priority
first. Messages go out only after the transaction commits.

It works in sets, not per post: per chunk of accounts, one query for their
usage, one for their ranked due posts, then per slice of posts one
conditional UPDATE … RETURNING and one INSERT … SELECT for the attempts,
and one UPDATE per distinct quota change. The messages are built and routed
with the task's options worked out once, and pipelined to the broker.

Each pass reads the platforms' circuit breakers once (`uploads.circuits`):
a platform whose circuit is open or half-open gets no ordinary dispatch,
and a platform whose cool-down is over gets exactly one probe post, from
the one dispatcher that wins the circuit's probe slot.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, F, Max, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from accounts.models import Account
from uploads.circuits import (
    circuit_probe_claim,
    circuit_probe_release,
    circuit_probe_sent,
    circuits_gate,
)
from uploads.messages import publish_messages_send
from uploads.models import (
    DISPATCHABLE,
    PlatformCircuit,
    Post,
    PostAttempt,
    PostStatus,
    RateLimitRule,
)

logger = logging.getLogger(__name__)

# Posts per UPDATE / INSERT statement: keeps each statement's parameters
# within SQLite's smallest variable limit (999).
SLICE = 900


@dataclass(frozen=True)
class Limits:
    per_hour: int
    per_day: int
    min_interval_seconds: int

    @classmethod
    def for_account(cls, account: Account, rule: RateLimitRule) -> Limits:
        def pick(override: int | None, default: int) -> int:
            return default if override is None else override

        return cls(
            per_hour=pick(account.per_hour_override, rule.per_hour),
            per_day=pick(account.per_day_override, rule.per_day),
            min_interval_seconds=pick(account.min_interval_override, rule.min_interval_seconds),
        )


@dataclass(frozen=True)
class Usage:
    last_hour: int = 0
    last_day: int = 0
    last_dispatch: datetime | None = None


def allowance(*, account: Account, limits: Limits, usage: Usage, now: datetime) -> int:
    """How many more posts this account may send right now."""
    today = account.workspace.local_date(now)
    free = min(
        limits.per_hour - usage.last_hour,
        limits.per_day - usage.last_day,
        account.daily_quota - account.quota_used_on(today),
    )
    if limits.min_interval_seconds:
        since = (now - usage.last_dispatch).total_seconds() if usage.last_dispatch else None
        if since is not None and since < limits.min_interval_seconds:
            return 0
        free = min(free, 1)
    return max(free, 0)


def due_posts(now: datetime) -> QuerySet[Post]:
    return Post.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        status__in=DISPATCHABLE,
        scheduled_for__lte=now,
    )


def _usage_by_account(account_ids: Sequence[int], now: datetime) -> dict[int, Usage]:
    rows = (
        PostAttempt.objects.filter(
            account_id__in=account_ids, dispatched_at__gt=now - timedelta(days=1)
        )
        .values("account_id")
        .annotate(
            last_day=Count("id"),
            last_hour=Count("id", filter=Q(dispatched_at__gt=now - timedelta(hours=1))),
            last_dispatch=Max("dispatched_at"),
        )
    )
    return {
        row["account_id"]: Usage(row["last_hour"], row["last_day"], row["last_dispatch"])
        for row in rows
    }


def _ranked_due_posts(account_ids: Sequence[int], now: datetime, most: int) -> dict[int, list[int]]:
    """Each account's due post ids, best first, at most `most` per account."""
    ranked = (
        due_posts(now)
        .filter(account_id__in=account_ids)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("account_id")],
                order_by=[
                    F("priority").desc(),
                    F("scheduled_for").asc(),
                    F("created_at").asc(),
                    F("id").asc(),
                ],
            )
        )
        .filter(rank__lte=most)
        .values_list("account_id", "id", "rank")
    )
    by_account: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for account_id, post_id, rank in ranked:
        by_account[account_id].append((rank, post_id))
    return {a: [pid for _, pid in sorted(rows)] for a, rows in by_account.items()}


def _queue_posts(post_ids: Sequence[int], now: datetime) -> list[tuple[int, int]]:
    """Conditionally move posts to `queued`; return (id, account id) of those that moved.

    One UPDATE … RETURNING per slice of posts, which repeats the conditions
    that made them due: a post cancelled or rescheduled a moment ago no
    longer matches and is simply not returned. Each moved post gets its
    attempt (numbered by its new `dispatch_count`) in the same transaction.
    """
    table = connection.ops.quote_name(Post._meta.db_table)
    state_marks = ", ".join(["%s"] * len(DISPATCHABLE))
    stamp = connection.ops.adapt_datetimefield_value(now)
    moved: list[tuple[int, int]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(post_ids), SLICE):
            ids = post_ids[start : start + SLICE]
            cursor.execute(
                f"UPDATE {table} SET status = %s, queued_at = %s, updated_at = %s, "
                f"dispatch_count = dispatch_count + 1 "
                f"WHERE id IN ({', '.join(['%s'] * len(ids))}) "
                f"AND status IN ({state_marks}) AND scheduled_for <= %s "
                f"AND (next_attempt_at IS NULL OR next_attempt_at <= %s) "
                f"RETURNING id, account_id",
                [PostStatus.QUEUED, stamp, stamp, *ids, *DISPATCHABLE, stamp, stamp],
            )
            rows = cursor.fetchall()
            if rows:
                _attempts_insert(cursor, [row[0] for row in rows], stamp)
            moved.extend((row[0], row[1]) for row in rows)
    return moved


def _attempts_insert(cursor: Any, post_ids: Sequence[int], stamp: Any) -> None:
    """One pending attempt per just-queued post, read from the post rows we hold.

    INSERT … SELECT rather than bulk_create: no model instance per row. The
    columns the dispatcher does not set get the model's defaults.
    """
    quote = connection.ops.quote_name
    rest = [
        field
        for field in PostAttempt._meta.concrete_fields
        if field.name not in {"id", "post", "account", "number", "dispatched_at"}
    ]
    columns: list[str] = []
    for field in rest:
        assert field.column is not None  # concrete fields always have a column
        columns.append(quote(field.column))
    cursor.execute(
        f"INSERT INTO {quote(PostAttempt._meta.db_table)} "
        f"(post_id, account_id, number, dispatched_at, "
        f"{', '.join(columns)}) "
        f"SELECT id, account_id, dispatch_count, %s, {', '.join(['%s'] * len(rest))} "
        f"FROM {quote(Post._meta.db_table)} WHERE id IN ({', '.join(['%s'] * len(post_ids))})",
        [
            stamp,
            *(field.get_db_prep_save(field.get_default(), connection) for field in rest),
            *post_ids,
        ],
    )


def _quotas_add(accounts: Sequence[Account], sent: dict[int, int], now: datetime) -> None:
    """Add what each account just sent to its quota for its workspace's day.

    One UPDATE per distinct (day, count), usually a handful per chunk; the
    accounts are locked, so the CASE sees what allowance() saw.
    """
    by_change: dict[tuple[date, int], list[int]] = defaultdict(list)
    for account in accounts:
        if sent.get(account.pk):
            by_change[(account.workspace.local_date(now), sent[account.pk])].append(account.pk)
    for (today, count), account_ids in by_change.items():
        Account.objects.filter(pk__in=account_ids).update(
            quota_used=Case(
                When(quota_date=today, then=F("quota_used") + count), default=Value(count)
            ),
            quota_date=today,
        )


def _dispatch_chunk(
    account_ids: Sequence[int],
    now: datetime,
    rules: dict[str, RateLimitRule],
    *,
    at_most: int | None = None,
    after_queue: Callable[[list[int]], object] | None = None,
) -> list[int]:
    """Queue the due posts of a chunk of accounts; at most `at_most` in all when given.

    `after_queue` runs inside the transaction with the ids just queued.
    """
    with transaction.atomic():
        accounts = list(
            Account.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("workspace")
            .filter(pk__in=account_ids, state=Account.State.ACTIVE)
        )
        if not accounts:
            return []
        usage = _usage_by_account([a.pk for a in accounts], now)
        budgets = {
            account.pk: allowance(
                account=account,
                limits=Limits.for_account(
                    account,
                    rules.get(account.platform) or RateLimitRule.shipped_default(account.platform),
                ),
                usage=usage.get(account.pk, Usage()),
                now=now,
            )
            for account in accounts
        }
        budgets = {pk: n for pk, n in budgets.items() if n > 0}
        if not budgets:
            return []
        most = max(budgets.values())
        ranked = _ranked_due_posts(
            list(budgets), now, most if at_most is None else min(most, at_most)
        )
        chosen = [
            post_id
            for account_id, post_ids in ranked.items()
            for post_id in post_ids[: budgets[account_id]]
        ]
        if at_most is not None:
            chosen = chosen[:at_most]
        queued = _queue_posts(chosen, now)
        sent_per_account: dict[int, int] = defaultdict(int)
        for _, account_id in queued:
            sent_per_account[account_id] += 1
        _quotas_add(accounts, sent_per_account, now)
        post_ids = [post_id for post_id, _ in queued]
        if post_ids and after_queue is not None:
            after_queue(post_ids)
        transaction.on_commit(lambda: publish_messages_send(post_ids))
    return post_ids


def posts_dispatch(*, now: datetime | None = None, chunk_accounts: int | None = None) -> int:
    """One dispatcher pass; returns how many posts it queued."""
    now = now or timezone.now()
    chunk = chunk_accounts or settings.FARM_DISPATCH_BATCH_ACCOUNTS
    due_accounts = list(
        due_posts(now)
        .filter(account__state=Account.State.ACTIVE)
        .order_by()
        .values_list("account_id", "account__platform")
        .distinct()
    )
    rules = {rule.platform: rule for rule in RateLimitRule.objects.filter(action="post")}
    gate = circuits_gate(now=now)
    queued = 0
    for circuit in gate.probe_ready:
        candidates = [a for a, platform in due_accounts if platform == circuit.platform]
        if candidates:
            queued += _probe_dispatch(circuit, candidates, now, rules, chunk)
    # A platform whose circuit is not closed gets nothing more: its posts wait, untouched.
    account_ids = [a for a, platform in due_accounts if platform not in gate.held]
    for start in range(0, len(account_ids), chunk):
        queued += len(_dispatch_chunk(account_ids[start : start + chunk], now, rules))
    return queued


def _probe_dispatch(
    circuit: PlatformCircuit,
    account_ids: Sequence[int],
    now: datetime,
    rules: dict[str, RateLimitRule],
    chunk: int,
) -> int:
    """Send the one probe post of a circuit whose cool-down is over, if this pass wins the slot."""
    if not circuit_probe_claim(circuit=circuit, now=now):
        return 0  # another dispatcher sends it

    def remember(post_ids: list[int]) -> None:
        circuit_probe_sent(platform=circuit.platform, claimed_at=now, post_id=post_ids[0])

    for start in range(0, len(account_ids), chunk):
        sent = _dispatch_chunk(
            account_ids[start : start + chunk], now, rules, at_most=1, after_queue=remember
        )
        if sent:
            logger.info("%s: probe post %s sent after the cool-down", circuit.platform, sent[0])
            return len(sent)
    # Every candidate was at its limits or locked: let the next pass try.
    circuit_probe_release(platform=circuit.platform, claimed_at=now)
    return 0


def queued_posts_resend(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Send again the message of posts queued for too long (a lost message, a busy profile).

    Harmless when the first message is still on its way: the worker's claim
    is a conditional UPDATE, so only one of the two messages does anything.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.FARM_QUEUED_RESEND_SECONDS)
    stale = list(
        Post.objects.filter(status=PostStatus.QUEUED, queued_at__lt=cutoff)
        .order_by("queued_at")
        .values_list("id", flat=True)[:limit]
    )
    resent = [
        post_id
        for post_id in stale
        if Post.objects.filter(pk=post_id, status=PostStatus.QUEUED, queued_at__lt=cutoff).update(
            queued_at=now
        )
    ]
    publish_messages_send(resent)
    return len(resent)
