"""Soak: the whole farm under a mixed load with the sandbox's faults switched on.

    python -m bench.soak --minutes 5

A throwaway farm (see bench/_common.py) runs as deployed: gunicorn serving
the sandbox on 127.0.0.1, a `celery worker` and a `celery beat` process, and
headless Chromium. For `--minutes`, posts keep arriving at a steady rate,
spread over accounts whose sandbox twins misbehave: flaky 503s, slow
uploads, answers delayed after saving, bursts of rate limiting and of
failures. Then the feed stops and the farm gets `--drain-minutes` to finish.

Prints one JSON object: `posts_per_min` (posts published per minute of the
run), `duplicates` (posts the sandbox holds more than once), `lost` (posts
neither in a final state nor waiting for a retry or a limit, or marked
posted yet missing on the sandbox), `p95_latency_s` (from `scheduled_for` to
`posted`), with the counts behind them. Exits 1 if duplicates or lost are
not 0.
"""

from __future__ import annotations

import argparse
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from bench._common import (
    django_setup,
    emit,
    log_to_stderr,
    machine,
    stdout_to_stderr,
    throwaway_data_dir,
    throwaway_database,
    throwaway_queue,
)

logger = logging.getLogger("bench.soak")

# Each account's misbehaviour on the sandbox, cycled over the accounts.
FAULT_MIX: list[dict[str, Any]] = [
    {},
    {"flaky_rate": 0.15},
    {"slow_ms": 800},
    {"answer_delay_ms": 600},
    {"flaky_rate": 0.05, "slow_ms": 300},
    {},
]
# Switched on now and then during the run, one account at a time.
BURSTS: list[dict[str, Any]] = [{"rate_limit_seconds": 5}, {"fail_next": 2}]
FARM_ENV = {
    "FARM_DISPATCH_INTERVAL_SECONDS": "1",
    "FARM_RETRY_BACKOFF_SECONDS": "3,6,12",
    "FARM_BROWSER_RETRY_SECONDS": "3",
    "FARM_MAX_ATTEMPTS": "6",
    "FARM_QUEUED_RESEND_SECONDS": "20",
    "FARM_UNKNOWN_SETTLE_SECONDS": "5",
    "FARM_BROWSER_IDLE_SECONDS": "10",
    "PYTHONUNBUFFERED": "1",
}


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def soak(
    *, minutes: float, drain_minutes: float, accounts: int, per_minute: int, data_dir: Path
) -> dict[str, Any]:
    from django.conf import settings
    from django.db.models import Count

    from accounts.services import account_create, workspace_create
    from core.processes import FarmProcesses, free_port
    from sandbox.models import SandboxPost
    from sandbox.services import sandbox_account_create, sandbox_account_set_faults
    from uploads.models import TERMINAL, Post, PostStatus
    from uploads.services import post_create

    base_url = f"http://127.0.0.1:{free_port(0)}"
    settings.SANDBOX_BASE_URL = base_url
    farm = FarmProcesses(env={**FARM_ENV, "SANDBOX_BASE_URL": base_url}, log_dir=data_dir / "logs")
    workspace = workspace_create(name="Soak", slug="soak", max_accounts=accounts)
    twins = []
    for n in range(accounts):
        handle = f"soak-{n}"
        password = f"pw-{uuid.uuid4().hex[:10]}"
        account_create(
            workspace=workspace,
            platform="sandbox",
            handle=handle,
            credentials={"username": handle, "password": password},
            daily_quota=100_000,
        )
        twins.append(
            sandbox_account_create(
                handle=handle, password=password, **FAULT_MIX[n % len(FAULT_MIX)]
            )
        )
    account_objs = list(workspace.accounts.order_by("id"))

    load_start = machine()["load_1m"]
    post_ids: list[int] = []
    try:
        farm.start_web(int(base_url.rsplit(":", 1)[1]))
        farm.wait_for_http(f"{base_url}/sandbox/login/", timeout=60)
        farm.start_worker(concurrency=2)
        farm.start_beat()
        began = time.monotonic()
        interval = 60.0 / per_minute
        next_post = began
        next_burst = began + 30
        burst = 0
        while time.monotonic() - began < minutes * 60:
            now = time.monotonic()
            if now >= next_post:
                account = account_objs[len(post_ids) % len(account_objs)]
                post = post_create(
                    workspace=workspace,
                    account=account,
                    title=f"Soak {len(post_ids)}",
                    caption="steady load",
                )
                post_ids.append(post.pk)
                next_post += interval
            if now >= next_burst:
                faults = BURSTS[burst % len(BURSTS)]
                twin = twins[burst % len(twins)]
                sandbox_account_set_faults(account=twin, **faults)
                logger.info("burst on %s: %s", twin.handle, faults)
                burst += 1
                next_burst += 30
            if dead := farm.dead():
                raise RuntimeError(f"{', '.join(dead)} exited; see {farm.log_dir}")
            time.sleep(min(0.05, max(next_post - time.monotonic(), 0)))
        fed_for = time.monotonic() - began
        # Calm the bursts so that the drain measures recovery, not new trouble.
        for twin in twins:
            sandbox_account_set_faults(account=twin, rate_limit_seconds=0, fail_next=0)
        logger.info("fed %d posts in %.0fs; draining", len(post_ids), fed_for)
        drain_deadline = time.monotonic() + drain_minutes * 60
        while time.monotonic() < drain_deadline:
            if not Post.objects.filter(pk__in=post_ids).exclude(status__in=TERMINAL).exists():
                break
            time.sleep(1)
        ran_for = time.monotonic() - began
    finally:
        farm.stop()

    rows = list(
        Post.objects.filter(pk__in=post_ids).values_list(
            "status", "publish_token", "scheduled_for", "posted_at"
        )
    )
    copies = dict(
        SandboxPost.objects.filter(publish_token__in=[str(r[1]) for r in rows])
        .values_list("publish_token")
        .annotate(n=Count("id"))
    )
    by_status: dict[str, int] = {}
    for status, *_ in rows:
        by_status[status] = by_status.get(status, 0) + 1
    posted = [r for r in rows if r[0] == PostStatus.POSTED]
    duplicates = sum(1 for n in copies.values() if n > 1)
    # Waiting for a retry or a limit is not lost; stuck anywhere else, or
    # "posted" without being on the platform, is.
    waiting = {PostStatus.RETRY_WAIT, PostStatus.RATE_LIMITED, PostStatus.SCHEDULED}
    lost = sum(1 for r in rows if r[0] not in TERMINAL and r[0] not in waiting) + sum(
        1 for r in posted if copies.get(str(r[1]), 0) == 0
    )
    latencies: list[float] = []
    for _, _, scheduled_for, posted_at in posted:
        assert posted_at is not None  # a posted post has its time
        latencies.append((posted_at - scheduled_for).total_seconds())
    return {
        "posts_per_min": round(len(posted) / (ran_for / 60), 1),
        "duplicates": duplicates,
        "lost": lost,
        "p95_latency_s": round(_percentile(latencies, 0.95), 2),
        "p50_latency_s": round(_percentile(latencies, 0.50), 2),
        "posts": len(rows),
        "posted": len(posted),
        "by_status": by_status,
        "fed_seconds": round(fed_for, 1),
        "run_seconds": round(ran_for, 1),
        "accounts": accounts,
        "fault_mix": FAULT_MIX,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "broker": settings.CELERY_BROKER_URL.split(":", 1)[0],
        "load_avg_1m": {"start": load_start, "end": machine()["load_1m"]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long posts keep coming")
    parser.add_argument("--drain-minutes", type=float, default=3.0, help="time to finish after")
    parser.add_argument("--accounts", type=int, default=12)
    parser.add_argument("--per-minute", type=int, default=60, help="posts arriving per minute")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway farm")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.accounts < 1 or args.per_minute < 1:
        parser.error("--minutes, --accounts and --per-minute must be positive")

    log_to_stderr()
    with (
        stdout_to_stderr(),
        throwaway_data_dir("farm-bench-soak", keep=args.keep) as data_dir,
        throwaway_database("farm_bench_soak", keep=args.keep),
        throwaway_queue("bench-soak"),
    ):
        django_setup()
        result = soak(
            minutes=args.minutes,
            drain_minutes=args.drain_minutes,
            accounts=args.accounts,
            per_minute=args.per_minute,
            data_dir=data_dir,
        )
    emit(result)
    return 0 if result["duplicates"] == 0 and result["lost"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
