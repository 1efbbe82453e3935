"""Dispatch throughput: due posts moved to `queued`, limits checked, one message each, per second.

    python -m bench.dispatch --posts 10000 --accounts 500

Runs on the database and broker the environment names (DATABASE_URL,
CELERY_BROKER_URL), in a throwaway database and a throwaway queue
(`bench-dispatch-<pid>`) that nothing consumes; both are deleted at the end.

Set-up (not timed): one workspace, `--accounts` sandbox accounts with a daily
quota that does not bind, `--posts` due posts spread evenly over them with
mixed priorities, all written with bulk_create.

Two ways of moving them to `queued` are timed in the same run:

- the dispatcher: `uploads.dispatcher.posts_dispatch()`, called until a pass
  queues nothing more (locks accounts, counts their trailing hour and day,
  checks the daily quota, queues the best posts, writes the attempts, sends
  one publish message per post after commit);
- the baseline, the naive way, on `--baseline-posts` fresh due posts: for each
  post, one transaction that loads the post with its account (locked), counts
  the account's attempts with a query of its own, moves the post with a
  conditional UPDATE, writes its attempt and the account's quota, and sends
  `publish_post.delay(post.pk)` on commit.

Both send real messages to the real broker. The messages sent are counted as
they leave (Celery's after_task_publish) and as the broker holds them (the
queue's depth); both must equal the posts queued, the posts must be in
`queued` with one attempt each, and a message of each run, ids aside, must
be the same (the dispatcher builds its own; `.delay()` is Celery's), or the
bench exits 1 (`ok`, `problems`).

`cpus` and the 1-minute load before and after are reported: both rates are
CPU-bound, so a busy machine lowers them.

Prints one JSON object on stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bench._common import (
    ThrowawayDatabase,
    ThrowawayQueue,
    django_setup,
    emit,
    log_to_stderr,
    machine,
    peak_rss_mb,
    throwaway_database,
    throwaway_queue,
)

logger = logging.getLogger("bench.dispatch")

PUBLISH_TASK = "uploads.tasks.publish_post"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__)
    parser.add_argument("--posts", type=int, default=10_000, help="due posts for the dispatcher")
    parser.add_argument("--accounts", type=int, default=500, help="sandbox accounts")
    parser.add_argument(
        "--baseline-posts",
        type=int,
        default=1_000,
        help="due posts for the naive baseline (0 skips it)",
    )
    parser.add_argument(
        "--chunk-accounts",
        type=int,
        default=None,
        help="accounts per dispatcher transaction (default: FARM_DISPATCH_BATCH_ACCOUNTS)",
    )
    args = parser.parse_args(argv)
    if args.posts < 1 or args.accounts < 1 or args.baseline_posts < 0:
        parser.error("--posts and --accounts must be positive, --baseline-posts not negative")
    return args


class MessageCounter:
    """Counts publish messages as Celery hands them to the broker."""

    def __init__(self, task_name: str) -> None:
        self.task_name = task_name
        self.count = 0

    def __call__(self, sender: str | None = None, **_: Any) -> None:
        if sender == self.task_name:
            self.count += 1

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def create_accounts(*, accounts: int, posts_per_account: int) -> list[Any]:
    from accounts.models import Account, Platform
    from accounts.services import workspace_create
    from uploads.models import RateLimitRule

    rule = RateLimitRule.objects.get(platform=Platform.SANDBOX, action="post")
    if posts_per_account > min(rule.per_hour, rule.per_day):
        raise SystemExit(
            f"{posts_per_account} posts per account exceed the sandbox rule "
            f"({rule.per_hour}/h, {rule.per_day}/day): use more --accounts"
        )
    workspace = workspace_create(
        name="Dispatch bench", slug=f"dispatch-bench-{os.getpid()}", max_accounts=accounts
    )
    Account.objects.bulk_create(
        [
            Account(
                workspace=workspace,
                platform=Platform.SANDBOX,
                handle=f"bench{i:06d}",
                daily_quota=posts_per_account,
            )
            for i in range(accounts)
        ],
        batch_size=1000,
    )
    return list(Account.objects.filter(workspace=workspace).select_related("workspace"))


def create_due_posts(*, accounts: Sequence[Any], count: int, label: str) -> None:
    """`count` due posts, spread evenly over the accounts, priorities 1 to 10."""
    from django.utils import timezone

    from uploads.models import Post

    now = timezone.now()
    Post.objects.bulk_create(
        [
            Post(
                workspace=accounts[i % len(accounts)].workspace,
                account=accounts[i % len(accounts)],
                title=f"{label} {i}",
                priority=1 + i % 10,
                scheduled_for=now - timedelta(seconds=1 + i % 600),
            )
            for i in range(count)
        ],
        batch_size=2000,
    )


def run_dispatcher(chunk_accounts: int | None) -> tuple[int, int, float]:
    """posts_dispatch() until a pass queues nothing: (posts queued, passes, seconds)."""
    from uploads.dispatcher import posts_dispatch

    queued = passes = 0
    started = time.perf_counter()
    while True:
        passes += 1
        moved = posts_dispatch(chunk_accounts=chunk_accounts)
        if not moved:
            break
        queued += moved
    return queued, passes, time.perf_counter() - started


def run_baseline() -> tuple[int, float]:
    """The naive way, one post at a time: (posts queued, seconds)."""
    from django.db import transaction
    from django.db.models import Count, F, Max, Q
    from django.utils import timezone

    from accounts.models import Account
    from uploads.dispatcher import Limits, Usage, allowance, due_posts
    from uploads.models import DISPATCHABLE, Post, PostAttempt, PostStatus, RateLimitRule
    from uploads.services import post_transition
    from uploads.tasks import publish_post

    queued = 0
    started = time.perf_counter()
    rules = {rule.platform: rule for rule in RateLimitRule.objects.filter(action="post")}
    due = list(
        due_posts(timezone.now())
        .order_by("-priority", "scheduled_for", "created_at", "id")
        .values_list("id", flat=True)
    )
    for post_id in due:
        with transaction.atomic():
            now = timezone.now()
            post = (
                Post.objects.select_for_update(of=("self", "account"))
                .select_related("account", "account__workspace")
                .get(pk=post_id)
            )
            account = post.account
            if post.status not in DISPATCHABLE or account.state != Account.State.ACTIVE:
                continue
            counts = PostAttempt.objects.filter(
                account=account, dispatched_at__gt=now - timedelta(days=1)
            ).aggregate(
                last_day=Count("id"),
                last_hour=Count("id", filter=Q(dispatched_at__gt=now - timedelta(hours=1))),
                last_dispatch=Max("dispatched_at"),
            )
            limits = Limits.for_account(
                account,
                rules.get(account.platform) or RateLimitRule.shipped_default(account.platform),
            )
            usage = Usage(counts["last_hour"], counts["last_day"], counts["last_dispatch"])
            if allowance(account=account, limits=limits, usage=usage, now=now) < 1:
                continue
            if not post_transition(
                post_id=post.pk,
                from_=DISPATCHABLE,
                to=PostStatus.QUEUED,
                queued_at=now,
                dispatch_count=F("dispatch_count") + 1,
            ):
                continue
            PostAttempt.objects.create(
                post=post, account=account, number=post.dispatch_count + 1, dispatched_at=now
            )
            today = account.workspace.local_date(now)
            Account.objects.filter(pk=account.pk).update(
                quota_used=account.quota_used_on(today) + 1, quota_date=today
            )
            transaction.on_commit(functools.partial(publish_post.delay, post.pk))
            queued += 1
    return queued, time.perf_counter() - started


def message_shape(message: dict[str, Any] | None) -> dict[str, Any] | None:
    """A publish message with what differs from post to post (ids, the argument) taken out."""
    if message is None:
        return None
    args, kwargs, embed = message["body"]
    return {
        "headers": {
            k: v for k, v in message["headers"].items() if k not in {"id", "root_id", "argsrepr"}
        },
        "properties": {
            k: v
            for k, v in message["properties"].items()
            if k not in {"correlation_id", "delivery_tag"}
        },
        "arg_types": [type(arg).__name__ for arg in args],
        "argsrepr_matches": message["headers"].get("argsrepr") == repr(tuple(args)),
        "kwargs": kwargs,
        "embed": embed,
    }


def queued_count(label: str) -> tuple[int, int]:
    """(posts in `queued`, attempts written) among the posts titled `label …`."""
    from uploads.models import Post, PostAttempt, PostStatus

    return (
        Post.objects.filter(title__startswith=f"{label} ", status=PostStatus.QUEUED).count(),
        PostAttempt.objects.filter(post__title__startswith=f"{label} ").count(),
    )


def measure(args: argparse.Namespace, db: ThrowawayDatabase, queue: ThrowawayQueue) -> dict:
    from celery.signals import after_task_publish
    from django.conf import settings
    from django.db import connection

    from config.celery import app

    load_before = machine()
    counter = MessageCounter(PUBLISH_TASK)
    after_task_publish.connect(counter, weak=False)

    per_account = math.ceil((args.posts + args.baseline_posts) / args.accounts)
    accounts = create_accounts(accounts=args.accounts, posts_per_account=per_account)
    problems: list[str] = []

    def check(name: str, got: int, want: int) -> None:
        if got != want:
            problems.append(f"{name}: {got}, expected {want}")

    create_due_posts(accounts=accounts, count=args.posts, label="dispatch")
    logger.info("dispatching %d posts over %d accounts", args.posts, args.accounts)
    queued, passes, seconds = run_dispatcher(args.chunk_accounts)
    sent, in_queue = counter.take(), queue.depth()
    in_db, attempts = queued_count("dispatch")
    for name, got in [
        ("dispatcher posts queued", queued),
        ("dispatcher posts in queued state", in_db),
        ("dispatcher attempts", attempts),
        ("dispatcher messages sent", sent),
        ("dispatcher messages in queue", in_queue),
    ]:
        check(name, got, args.posts)
    dispatcher_message = message_shape(queue.take())
    queue.purge()
    logger.info("dispatcher: %d posts in %.3fs over %d passes", queued, seconds, passes)

    result: dict[str, Any] = {
        "database": db.vendor,
        "broker": app.connection_for_write().transport.driver_type,
        "posts": args.posts,
        "accounts": args.accounts,
        "posts_per_s": round(queued / seconds, 1),
        "seconds": round(seconds, 3),
        "passes": passes,
        "chunk_accounts": args.chunk_accounts or settings.FARM_DISPATCH_BATCH_ACCOUNTS,
        "posts_queued": queued,
        "messages_sent": sent,
        "messages_in_queue": in_queue,
    }

    if args.baseline_posts:
        create_due_posts(accounts=accounts, count=args.baseline_posts, label="baseline")
        logger.info("baseline: %d posts one at a time", args.baseline_posts)
        base_queued, base_seconds = run_baseline()
        base_sent, base_in_queue = counter.take(), queue.depth()
        base_in_db, base_attempts = queued_count("baseline")
        for name, got in [
            ("baseline posts queued", base_queued),
            ("baseline posts in queued state", base_in_db),
            ("baseline attempts", base_attempts),
            ("baseline messages sent", base_sent),
            ("baseline messages in queue", base_in_queue),
        ]:
            check(name, got, args.baseline_posts)
        # The dispatcher's messages must be the ones apply_async sends.
        same = message_shape(queue.take()) == dispatcher_message
        if not same:
            problems.append("dispatcher and apply_async messages differ")
        queue.purge()
        logger.info("baseline: %d posts in %.3fs", base_queued, base_seconds)
        base_rate = base_queued / base_seconds
        result.update(
            baseline_posts=args.baseline_posts,
            baseline_posts_per_s=round(base_rate, 1),
            baseline_seconds=round(base_seconds, 3),
            baseline_messages_sent=base_sent,
            baseline_messages_in_queue=base_in_queue,
            messages_match_apply_async=same,
            speedup=round(result["posts_per_s"] / base_rate, 1),
        )
    else:
        result.update(baseline_posts=0, baseline_posts_per_s=None)

    after_task_publish.disconnect(counter)
    connection.close()
    for problem in problems:
        logger.error("check failed: %s", problem)
    result.update(
        peak_rss_mb=peak_rss_mb(),
        cpus=load_before["cpus"],
        load_1m_before=load_before["load_1m"],
        load_1m_after=machine()["load_1m"],
        ok=not problems,
        problems=problems,
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    log_to_stderr()
    args = parse_args(argv)
    with throwaway_database("farm_bench") as db, throwaway_queue("bench-dispatch") as queue:
        django_setup()
        queue.check_routes(PUBLISH_TASK)
        result = measure(args, db, queue)
    emit(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
