"""Uploads through real headless Chromium: a warm browser per account against a cold one per post.

    python -m bench.uploads --posts 60 --browsers 3

Everything runs against a throwaway farm (see bench/_common.py): a temporary
data folder (media, browser profiles, a filesystem broker, the SQLite
database) or, when DATABASE_URL points at PostgreSQL, a throwaway database
`farm_bench_uploads_<pid>` beside it, and a queue of its own
(`bench-uploads-<pid>`) on the configured broker that no worker listens to.
All are removed at the end, also on an error or SIGTERM. The sandbox is
served over real HTTP on 127.0.0.1 by gunicorn (core.processes), a separate
process sharing the same database.

Two runs with the same flow, one after the other:

- reuse (the farm's way): `--browsers` threads, each with its own DriverPool
  and its own sandbox account; the dispatcher queues the posts (spread evenly
  over the accounts) and each thread calls `post_publish`, which keeps one
  warm, logged-in browser for the account's whole queue;
- baseline: the same, but every post gets a browser of its own: `post_publish`
  stops after one post and the browser is closed, so each upload starts
  Chromium anew.

Latencies are per upload of the reuse run, from the worker's claim (the
attempt's start) to `posted`. Memory is sampled every 0.2 s: for each browser,
the sum over chromedriver's child processes (Chromium's browser, renderers,
GPU and utility processes) of their PSS (proportional set size, so pages
shared between processes are not counted twice), falling back to RSS where
PSS cannot be read; `rss_kind` says which. The reported peak is taken while
all of the run's browsers are alive; `peak_any_time_mb_per_browser` also
counts the moments when a browser runs alone and is charged every shared page.

One JSON object goes to stdout; logs go to stderr. The exit status is non-zero
unless every post ended `posted` and each publish token is on the sandbox
exactly once.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

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

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from accounts.models import Account, Workspace
    from browsers.models import BrowserProfile
    from browsers.pool import DriverPool
    from core.processes import FarmProcesses

PUBLISH_TASK = "uploads.tasks.publish_post"
SAMPLE_INTERVAL_SECONDS = 0.2
SERVER_START_SECONDS = 60.0
# On top of core.processes' gunicorn command line, which these do not override.
GUNICORN_EXTRA_ARGS = "--timeout 120 --log-level warning"
MB = 1024 * 1024

logger = logging.getLogger("bench.uploads")


# --- Memory of each browser's process tree --------------------------------------


@dataclass
class TreeMemory:
    """One browser's process tree at one moment, in bytes."""

    total: float = 0.0  # PSS (or RSS when PSS cannot be read)
    uss: float = 0.0
    rss: float = 0.0
    by_type: dict[str, float] = field(default_factory=dict)


@dataclass
class Peaks:
    """Per browser, the peak of each measure, in MB."""

    total: dict[str, float] = field(default_factory=dict)
    uss: dict[str, float] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    by_type: dict[str, dict[str, float]] = field(default_factory=dict)
    # The same, counting also moments when fewer browsers were alive: a browser
    # left alone is charged every page it shares with no one, so this is higher.
    total_any: dict[str, float] = field(default_factory=dict)


def _process_type(cmdline: list[str]) -> str:
    kind = next((a[len("--type=") :] for a in cmdline if a.startswith("--type=")), "browser")
    sub = next(
        (a[len("--utility-sub-type=") :] for a in cmdline if a.startswith("--utility-sub-type=")),
        "",
    )
    return f"{kind}:{sub.split('.')[0]}" if sub else kind


class TreeSampler:
    """Samples, every 0.2 s, the memory of each watched chromedriver's child processes.

    PSS splits the pages that browsers share (Chromium's code, fonts) among
    the processes mapping them, so one browser's PSS depends on how many run
    beside it. The reported peak counts the moments when all of the run's
    browsers were alive, which is the farm's steady state; `total_any` also
    counts the moments at the start and end of a run when fewer were.
    """

    def __init__(self, interval: float = SAMPLE_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self.kind = "pss"
        self.expected = 1
        self.samples = 0
        self._roots: dict[str, int] = {}
        self._peaks = Peaks()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def watch(self, label: str, driver: WebDriver) -> None:
        process = getattr(getattr(driver, "service", None), "process", None)
        if process is not None:
            with self._lock:
                self._roots[label] = process.pid

    def reset(self, *, expected: int) -> None:
        with self._lock:
            self.expected = expected
            self._roots.clear()
            self._peaks = Peaks()

    def peaks(self) -> Peaks:
        with self._lock:
            return self._peaks

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:
                logger.exception("memory sample failed")

    def sample(self) -> None:
        with self._lock:
            roots = dict(self._roots)
        trees = {label: self._tree_memory(pid) for label, pid in roots.items()}
        trees = {label: tree for label, tree in trees.items() if tree.rss > 0}
        full = len(trees) >= self.expected
        with self._lock:
            peaks = self._peaks
            for label, tree in trees.items():
                self.samples += 1
                peaks.total_any[label] = max(peaks.total_any.get(label, 0.0), tree.total / MB)
                if not full:
                    continue
                if tree.total / MB > peaks.total.get(label, 0.0):
                    peaks.total[label] = tree.total / MB
                    peaks.by_type[label] = {k: round(v / MB, 1) for k, v in tree.by_type.items()}
                peaks.uss[label] = max(peaks.uss.get(label, 0.0), tree.uss / MB)
                peaks.rss[label] = max(peaks.rss.get(label, 0.0), tree.rss / MB)

    def _tree_memory(self, pid: int) -> TreeMemory:
        tree = TreeMemory()
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            return tree
        for child in children:
            try:
                cmdline = child.cmdline()
                if self.kind == "pss":
                    full = child.memory_full_info()
                    pss = getattr(full, "pss", None)
                    if pss is None:
                        self.kind = "rss"
                    rss = full.rss
                    amount = rss if pss is None else pss
                    tree.uss += getattr(full, "uss", 0)
                else:
                    rss = child.memory_info().rss
                    amount = rss
            except psutil.AccessDenied:
                # PSS needs /proc/<pid>/smaps; without it, say so and count RSS.
                self.kind = "rss"
                continue
            except psutil.Error:
                continue  # the process ended between listing and reading
            tree.total += amount
            tree.rss += rss
            kind = _process_type(cmdline)
            tree.by_type[kind] = tree.by_type.get(kind, 0.0) + amount
        return tree


# --- The farm side ------------------------------------------------------------------


def png_bytes(index: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    color = ((index * 47) % 256, (index * 89) % 256, (index * 131) % 256)
    Image.new("RGB", (320, 240), color).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class BenchAccount:
    """A farm account, its browser profile and its twin on the sandbox."""

    account: Account
    profile: BrowserProfile


def accounts_create(
    workspace: Workspace, prefix: str, count: int, quota: int
) -> list[BenchAccount]:
    from accounts.services import account_create
    from sandbox.services import sandbox_account_create

    made = []
    for n in range(count):
        handle = f"{prefix}-{n}"
        password = f"pw-{handle}-{uuid.uuid4().hex[:8]}"
        account = account_create(
            workspace=workspace,
            platform="sandbox",
            handle=handle,
            credentials={"username": handle, "password": password},
            daily_quota=quota,
        )
        sandbox_account_create(handle=handle, password=password)
        made.append(BenchAccount(account=account, profile=account.browser_profile))
    return made


def posts_create(
    workspace: Workspace, accounts: list[BenchAccount], count: int, run: str
) -> list[int]:
    """`count` posts spread evenly over the accounts; every other one an image post."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from uploads.services import post_create

    ids = []
    for n in range(count):
        account = accounts[n % len(accounts)].account
        common: dict[str, Any] = {
            "workspace": workspace,
            "account": account,
            "title": f"{run} post {n}",
        }
        if n % 2 == 0:
            image = SimpleUploadedFile(f"{run}-{n}.png", png_bytes(n), content_type="image/png")
            post = post_create(
                **common, kind="image", caption=f"Picture {n} of the {run} run", media=image
            )
        else:
            post = post_create(**common, caption=f"Text post {n} of the {run} run. " * 4)
        ids.append(post.pk)
    return ids


@dataclass
class RunResult:
    name: str
    post_ids: list[int]
    seconds: float
    browsers_opened: int
    browser_starts: list[float]
    peaks: Peaks
    errors: list[str] = field(default_factory=list)


def _first_queued(account_id: int) -> int | None:
    from uploads.models import Post, PostStatus

    return (
        Post.objects.filter(account_id=account_id, status=PostStatus.QUEUED)
        .order_by("-priority", "scheduled_for", "id")
        .values_list("id", flat=True)
        .first()
    )


def _account_worker(
    *,
    label: str,
    entry: BenchAccount,
    cold: bool,
    sampler: TreeSampler,
    pools: list[DriverPool],
    starts: list[float],
    errors: list[str],
    lock: threading.Lock,
    stop: threading.Event,
) -> None:
    """One worker thread: its own pool, publishing its account's queue until it is empty."""
    from django.db import connection

    from browsers.pool import DriverPool
    from browsers.providers import driver_open
    from uploads.publishing import post_publish

    def opener(profile: BrowserProfile) -> WebDriver:
        began = time.monotonic()
        driver = driver_open(profile)
        with lock:
            starts.append(time.monotonic() - began)
        sampler.watch(label, driver)
        return driver

    pool = DriverPool(size=1, idle_seconds=3600, opener=opener)
    with lock:
        pools.append(pool)
    stalls = 0
    try:
        while not stop.is_set() and (post_id := _first_queued(entry.account.pk)) is not None:
            outcomes = post_publish(
                post_id=post_id, pool=pool, continue_for_seconds=0.0 if cold else None
            )
            if cold:
                pool.discard(entry.profile.pk)
            if outcomes:
                stalls = 0
                continue
            stalls += 1
            if stalls >= 3:
                errors.append(f"{label}: post {post_id} stayed queued; giving up on its account")
                return
            time.sleep(0.5)
    except Exception as exc:
        logger.exception("%s: worker failed", label)
        errors.append(f"{label}: {exc.__class__.__name__}: {exc}")
    finally:
        pool.close_all()
        connection.close()


def run_publish(
    name: str,
    *,
    workspace: Workspace,
    accounts: list[BenchAccount],
    posts: int,
    cold: bool,
    sampler: TreeSampler,
) -> RunResult:
    from uploads.dispatcher import posts_dispatch

    post_ids = posts_create(workspace, accounts, posts, name)
    queued = posts_dispatch()
    if queued != len(post_ids):
        raise RuntimeError(f"{name}: the dispatcher queued {queued} of {len(post_ids)} posts")
    sampler.reset(expected=len(accounts))
    pools: list[DriverPool] = []
    starts: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_account_worker,
            name=f"{name}-{n}",
            kwargs={
                "label": f"{name}-{n}",
                "entry": entry,
                "cold": cold,
                "sampler": sampler,
                "pools": pools,
                "starts": starts,
                "errors": errors,
                "lock": lock,
                "stop": stop,
            },
        )
        for n, entry in enumerate(accounts)
    ]
    logger.info("%s: %d posts over %d browsers", name, len(post_ids), len(accounts))
    began = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except BaseException:
        # Interrupted (SIGTERM, Ctrl-C): close the browsers under the workers so
        # they stop before the database they write to is dropped.
        stop.set()
        with lock:
            open_pools = list(pools)
        for pool in open_pools:
            pool.close_all()
        for thread in threads:
            if thread.is_alive():
                thread.join(timeout=30)
        raise
    seconds = time.monotonic() - began
    result = RunResult(
        name=name,
        post_ids=post_ids,
        seconds=seconds,
        browsers_opened=sum(pool.opened for pool in pools),
        browser_starts=starts,
        peaks=sampler.peaks(),
        errors=errors,
    )
    logger.info(
        "%s: %d posts in %.1fs, %d browsers opened",
        name,
        len(post_ids),
        seconds,
        result.browsers_opened,
    )
    return result


def latencies(post_ids: list[int]) -> list[float]:
    """Seconds from the worker's claim (the attempt's start) to `posted`, per posted post."""
    from uploads.models import Post, PostAttempt, PostStatus

    posted_at = dict(
        Post.objects.filter(pk__in=post_ids, status=PostStatus.POSTED).values_list(
            "id", "posted_at"
        )
    )
    out = []
    for post_id, started in PostAttempt.objects.filter(
        post_id__in=post_ids, outcome=PostAttempt.Outcome.POSTED
    ).values_list("post_id", "started_at"):
        if post_id in posted_at and started is not None:
            finished = posted_at[post_id]
            assert finished is not None  # a posted post has its time
            out.append((finished - started).total_seconds())
    return out


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Check:
    all_posted: bool
    not_posted: dict[str, int]
    duplicates: int
    missing: int
    sandbox_posts: int
    problems: list[dict[str, Any]]


def check_published(post_ids: list[int]) -> Check:
    """Every post `posted`, and each publish token on the sandbox exactly once."""
    from django.db.models import Count

    from sandbox.models import SandboxPost
    from uploads.models import Post, PostStatus

    statuses = dict(
        Post.objects.filter(pk__in=post_ids)
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    not_posted = {s: n for s, n in statuses.items() if s != PostStatus.POSTED}
    tokens = [
        str(t) for t in Post.objects.filter(pk__in=post_ids).values_list("publish_token", flat=True)
    ]
    copies = dict(
        SandboxPost.objects.filter(publish_token__in=tokens)
        .values("publish_token")
        .annotate(n=Count("id"))
        .values_list("publish_token", "n")
    )
    duplicates = sum(max(n - 1, 0) for n in copies.values())
    missing = sum(1 for token in tokens if copies.get(token, 0) == 0)
    problems = [
        {
            "post": post.pk,
            "title": post.title,
            "status": post.status,
            "on_sandbox": copies.get(str(post.publish_token), 0),
            "last_error": post.last_error,
            "attempts": list(
                post.attempts.order_by("number").values_list("outcome", "error_kind", "message")
            ),
        }
        for post in Post.objects.filter(pk__in=post_ids).exclude(status=PostStatus.POSTED)
    ]
    for problem in problems:
        logger.warning("not posted: %s", problem)
    return Check(
        all_posted=statuses.get(PostStatus.POSTED, 0) == len(post_ids) and missing == 0,
        not_posted=not_posted,
        duplicates=duplicates,
        missing=missing,
        sandbox_posts=SandboxPost.objects.count(),
        problems=problems,
    )


def warm_up(workspace: Workspace, base_url: str) -> None:
    """Open and close one browser and serve one page, so both runs start with warm caches."""
    from browsers.pool import driver_quit
    from browsers.providers import driver_open

    (entry,) = accounts_create(workspace, "bench-warmup", 1, 1)
    driver = driver_open(entry.profile)
    try:
        driver.get(f"{base_url}/sandbox/login/")
    finally:
        driver_quit(driver)


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _peak(per_browser: dict[str, float]) -> float | None:
    return _rounded(max(per_browser.values(), default=None), 1)


def _worst_breakdown(peaks: Peaks) -> dict[str, float]:
    """The worst browser's tree at its peak, by process type."""
    if not peaks.total:
        return {}
    worst = max(peaks.total, key=peaks.total.__getitem__)
    return dict(sorted(peaks.by_type.get(worst, {}).items()))


def sandbox_start(farm: FarmProcesses, base_url: str) -> None:
    """Start the web process and wait for the sandbox's login page; on failure, show its log."""
    farm.start_web(int(base_url.rsplit(":", 1)[1]))
    try:
        farm.wait_for_http(f"{base_url}/sandbox/login/", timeout=SERVER_START_SECONDS)
    except RuntimeError as exc:
        log = farm.log_dir / "web.log"
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
        raise RuntimeError(f"the sandbox server did not start: {exc}\n{tail}") from exc
    logger.info("sandbox served at %s", base_url)


def bench(
    posts: int, browsers: int, baseline_posts: int, *, database: str, data_dir: Path
) -> dict[str, Any]:
    from django.conf import settings

    from accounts.services import workspace_create
    from core.processes import FarmProcesses, free_port

    load_start = machine()["load_1m"]
    base_url = f"http://127.0.0.1:{free_port(0)}"  # 0: any free port
    farm = FarmProcesses(
        env={
            "SANDBOX_BASE_URL": base_url,
            "PYTHONUNBUFFERED": "1",
            "GUNICORN_CMD_ARGS": GUNICORN_EXTRA_ARGS,
        },
        log_dir=data_dir / "logs",
    )
    sampler = TreeSampler()
    try:
        sandbox_start(farm, base_url)
        settings.SANDBOX_BASE_URL = base_url
        os.environ["SANDBOX_BASE_URL"] = base_url

        workspace = workspace_create(
            name="Bench", slug="bench-uploads", max_accounts=2 * browsers + 1
        )
        per_account = -(-max(posts, baseline_posts) // browsers) + 1
        warm_up(workspace, base_url)
        reuse_accounts = accounts_create(workspace, "bench-reuse", browsers, per_account)
        cold_accounts = accounts_create(workspace, "bench-cold", browsers, per_account)

        sampler.start()
        reuse = run_publish(
            "reuse",
            workspace=workspace,
            accounts=reuse_accounts,
            posts=posts,
            cold=False,
            sampler=sampler,
        )
        cold = run_publish(
            "cold",
            workspace=workspace,
            accounts=cold_accounts,
            posts=baseline_posts,
            cold=True,
            sampler=sampler,
        )
    finally:
        sampler.stop()
        farm.stop()

    check = check_published(reuse.post_ids + cold.post_ids)
    reuse_latency = latencies(reuse.post_ids)
    cold_latency = latencies(cold.post_ids)
    rate = len(reuse.post_ids) / reuse.seconds * 60
    baseline_rate = len(cold.post_ids) / cold.seconds * 60 if cold.post_ids else None
    return {
        "uploads_per_min": round(rate, 2),
        "baseline_uploads_per_min": _rounded(baseline_rate, 2),
        "speedup": _rounded(rate / baseline_rate, 2) if baseline_rate else None,
        "p50_s": _rounded(percentile(reuse_latency, 50)),
        "p95_s": _rounded(percentile(reuse_latency, 95)),
        "peak_rss_mb_per_browser": _peak(reuse.peaks.total),
        "rss_kind": sampler.kind,
        "peak_uss_mb_per_browser": _peak(reuse.peaks.uss),
        "peak_plain_rss_mb_per_browser": _peak(reuse.peaks.rss),
        "peak_any_time_mb_per_browser": _peak(reuse.peaks.total_any),
        "peak_mb_by_browser": {k: round(v, 1) for k, v in sorted(reuse.peaks.total.items())},
        "peak_breakdown_mb": _worst_breakdown(reuse.peaks),
        "baseline_peak_rss_mb_per_browser": _peak(cold.peaks.total),
        "posts": len(reuse.post_ids),
        "browsers": browsers,
        "baseline_posts": len(cold.post_ids),
        "browsers_opened": reuse.browsers_opened,
        "baseline_browsers_opened": cold.browsers_opened,
        "seconds": round(reuse.seconds, 2),
        "baseline_seconds": round(cold.seconds, 2),
        "baseline_p50_s": _rounded(percentile(cold_latency, 50)),
        "baseline_p95_s": _rounded(percentile(cold_latency, 95)),
        "browser_start_p50_s": _rounded(percentile(reuse.browser_starts + cold.browser_starts, 50)),
        "memory_samples": sampler.samples,
        "image_posts": (len(reuse.post_ids) + 1) // 2 + (len(cold.post_ids) + 1) // 2,
        "all_posted": check.all_posted,
        "not_posted": check.not_posted,
        "duplicates": check.duplicates,
        "missing": check.missing,
        "not_posted_details": check.problems,
        "sandbox_posts": check.sandbox_posts,
        "errors": reuse.errors + cold.errors,
        "database": database,
        "server": "gunicorn",
        "cpus": os.cpu_count(),
        # Other work on the host skews throughput; this says how busy it was.
        "load_avg_1m": {"start": load_start, "end": machine()["load_1m"]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=60, help="posts in the reuse run")
    parser.add_argument("--browsers", type=int, default=3, help="worker threads, one browser each")
    parser.add_argument(
        "--baseline-posts",
        type=int,
        default=None,
        help="posts in the cold-browser run (default: as many as --posts)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the throwaway data folder and database"
    )
    args = parser.parse_args(argv)
    if args.posts < 1 or args.browsers < 1:
        parser.error("--posts and --browsers must be at least 1")
    baseline_posts = args.posts if args.baseline_posts is None else args.baseline_posts
    if baseline_posts < 1:
        parser.error("--baseline-posts must be at least 1")

    log_to_stderr()
    # Data folder first, so the SQLite database and filesystem broker land in it;
    # all three are removed in reverse order, also on an error or SIGTERM.
    with (
        stdout_to_stderr(),
        throwaway_data_dir("farm-bench-uploads", keep=args.keep) as data_dir,
        throwaway_database("farm_bench_uploads", keep=args.keep) as db,
        throwaway_queue("bench-uploads") as queue,
    ):
        django_setup()
        queue.check_routes(PUBLISH_TASK)
        result = bench(
            args.posts, args.browsers, baseline_posts, database=db.vendor, data_dir=data_dir
        )
    emit(result)
    ok = result["all_posted"] and result["duplicates"] == 0 and not result["errors"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
