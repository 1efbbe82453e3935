"""The demo: the farm publishes real posts through real headless Chromium to the sandbox.

Everything runs as it would in production, on the embedded default: a web
server (console, API and the sandbox platform), a Celery worker and Celery
beat as separate processes. Exits non-zero if any post ends in a state it
should not, or reaches the sandbox other than exactly once.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections import Counter
from typing import Any

from celery import current_app as celery_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Max, Min, Sum
from PIL import Image, ImageDraw

from accounts.models import Account, Workspace
from accounts.services import account_create, membership_add, workspace_create
from capture.models import CapturedSession, Screenshot
from core.processes import FarmProcesses, free_port
from sandbox.models import SandboxAccount, SandboxPost
from sandbox.services import sandbox_account_create
from uploads.models import TERMINAL, Post, PostAttempt, PostStatus
from uploads.services import post_create

DEMO_LOGIN = ("demo", "demo-farm-console")
# handle: (sandbox faults, the state every post of it must end in)
DEMO_ACCOUNTS: dict[str, tuple[dict[str, Any], str]] = {
    "demo-ana": ({}, PostStatus.POSTED),
    "demo-ben": ({}, PostStatus.POSTED),
    "demo-cleo": ({"fail_next": 2}, PostStatus.POSTED),  # flaky: retried, then posted
    "demo-dan": ({"reject_reason": "Demo: this audience rejects every post"}, PostStatus.FAILED),
}
COLOURS = ["#1f6f8b", "#99a8b2", "#e6a400", "#d35d6e", "#5aa469", "#6a4c93"]


def demo_image(n: int) -> SimpleUploadedFile:
    image = Image.new("RGB", (640, 360), COLOURS[n % len(COLOURS)])
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 600, 320), outline="white", width=6)
    draw.text((80, 160), f"Farm demo post #{n}", fill="white")
    buffer = io.BytesIO()
    kind = "JPEG" if n % 2 else "PNG"
    image.save(buffer, format=kind)
    return SimpleUploadedFile(f"demo-{n}.{kind.lower()}", buffer.getvalue())


class Command(BaseCommand):
    help = "Publish real posts through headless Chromium to the sandbox and report what happened."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--posts", type=int, default=24)
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--timeout", type=int, default=160, help="seconds to wait for the posts"
        )
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes")

    def handle(
        self, *args: Any, posts: int, port: int, timeout: int, concurrency: int, **options: Any
    ) -> None:
        if not settings.FARM_SANDBOX_ENABLED:
            # Checked before anything is written: the demo makes a console login
            # with a published password, which belongs on a practice farm only.
            raise CommandError(
                "The demo publishes to the sandbox platform, which is off: run it with "
                "FARM_SANDBOX_ENABLED=true on a farm of your own (`make demo` does)."
            )
        self.stdout.write("Preparing the database...")
        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)
        workspace, accounts = self._reset_demo_data()
        created = self._queue_posts(workspace, accounts, posts)

        port = free_port(port)
        base_url = f"http://127.0.0.1:{port}"
        farm = FarmProcesses(
            env={
                "SANDBOX_BASE_URL": base_url,
                "FARM_DISPATCH_INTERVAL_SECONDS": "1",
                "FARM_RETRY_BACKOFF_SECONDS": "3,3,3",
                "FARM_BROWSER_IDLE_SECONDS": "10",
            },
            log_dir=settings.DATA_DIR / "logs",
        )
        self.stdout.write(
            f"Starting web (127.0.0.1:{port}), a Celery worker ({concurrency} processes) and beat; "
            f"logs in {farm.log_dir}"
        )
        started = time.monotonic()
        try:
            farm.start_web(port)
            farm.wait_for_http(f"{base_url}/sandbox/")
            farm.start_worker(concurrency)
            farm.start_beat()
            finished = self._watch(created, farm, timeout)
        finally:
            farm.stop()
        elapsed = time.monotonic() - started
        problems = self._report(workspace, created, elapsed)
        if not finished:
            problems.append(f"not every post finished within {timeout}s")
        self.stdout.write(
            f"\nOpen the console: `make serve`, then {base_url.replace(str(port), '8000')}/admin/ "
            f"and log in as {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]}  (API docs at /api/docs/)"
        )
        if problems:
            raise CommandError("The demo went wrong:\n  - " + "\n  - ".join(problems))
        self.stdout.write(
            self.style.SUCCESS(
                "Every post ended where it should, each exactly once on the platform."
            )
        )

    def _reset_demo_data(self) -> tuple[Workspace, list[Account]]:
        Workspace.objects.filter(slug="demo").delete()
        SandboxPost.objects.filter(account__handle__in=DEMO_ACCOUNTS).delete()
        SandboxAccount.objects.filter(handle__in=DEMO_ACCOUNTS).delete()
        with celery_app.connection_for_write() as conn:
            channel = conn.default_channel
            # Every kombu channel has queue_purge; the stubs' StdChannel lacks it.
            channel.queue_purge(celery_app.conf.task_default_queue)  # type: ignore[attr-defined]

        username, password = DEMO_LOGIN
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        user.set_password(password)
        user.save()

        workspace = workspace_create(name="Demo", slug="demo", timezone_name="Europe/Berlin")
        membership_add(workspace=workspace, user=user, role="owner")
        accounts = []
        for handle, (faults, _) in DEMO_ACCOUNTS.items():
            secret = f"{handle}-{os.urandom(4).hex()}"
            sandbox_account_create(handle=handle, password=secret, **faults)
            accounts.append(
                account_create(
                    workspace=workspace,
                    platform="sandbox",
                    handle=handle,
                    credentials={"username": handle, "password": secret},
                    daily_quota=100,
                )
            )
        return workspace, accounts

    def _queue_posts(self, workspace: Workspace, accounts: list[Account], count: int) -> list[Post]:
        created = []
        for n in range(count):
            account = accounts[n % len(accounts)]
            image = n % 3 != 2
            created.append(
                post_create(
                    workspace=workspace,
                    account=account,
                    kind="image" if image else "text",
                    title=f"Demo post #{n}",
                    caption=f"Published by the farm through headless Chromium 🌱 #{n}",
                    media=demo_image(n) if image else None,
                    priority=1 + n % 10,
                )
            )
        self.stdout.write(
            f"Queued {count} posts ({sum(1 for p in created if p.media)} with images) "
            f"on {len(accounts)} sandbox accounts."
        )
        return created

    def _watch(self, created: list[Post], farm: FarmProcesses, timeout: int) -> bool:
        ids = [p.pk for p in created]
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            counts = Counter(
                dict(Post.objects.filter(pk__in=ids).values_list("status").annotate(n=Count("id")))
            )
            done = sum(counts[s] for s in TERMINAL)
            width = 30
            bar = "#" * (width * done // len(ids)) + "-" * (width - width * done // len(ids))
            line = f"[{bar}] {done}/{len(ids)} finished  " + "  ".join(
                f"{s}: {n}" for s, n in sorted(counts.items())
            )
            if line != last:
                self.stdout.write(line)
                last = line
            if done == len(ids):
                return True
            if farm.dead():
                self.stderr.write(
                    f"{', '.join(farm.dead())} stopped unexpectedly; see {farm.log_dir}"
                )
                return False
            time.sleep(1)
        return False

    def _report(self, workspace: Workspace, created: list[Post], elapsed: float) -> list[str]:
        problems: list[str] = []
        expected = {handle: state for handle, (_, state) in DEMO_ACCOUNTS.items()}
        rows = Post.objects.filter(pk__in=[p.pk for p in created]).values_list(
            "account__handle", "status"
        )
        table: dict[str, Counter[str]] = {}
        for handle, status in rows:
            table.setdefault(handle, Counter())[status] += 1
        states = sorted({s for c in table.values() for s in c})
        header = f"{'account':<12}" + "".join(f"{s:>12}" for s in states) + f"{'expected':>12}"
        self.stdout.write("\n" + header + "\n" + "-" * len(header))
        for handle in sorted(table):
            counts = table[handle]
            self.stdout.write(
                f"{handle:<12}"
                + "".join(f"{counts[s]:>12}" for s in states)
                + f"{expected[handle]:>12}"
            )
            wrong = sum(n for s, n in counts.items() if s != expected[handle])
            if wrong:
                problems.append(f"{wrong} posts of {handle} did not end {expected[handle]}")
        posted = Post.objects.filter(pk__in=[p.pk for p in created], status=PostStatus.POSTED)
        tokens = [str(t) for t in posted.values_list("publish_token", flat=True)]
        copies = Counter(
            SandboxPost.objects.filter(publish_token__in=tokens).values_list(
                "publish_token", flat=True
            )
        )
        missing = [t for t in tokens if copies[t] == 0]
        twice = [t for t, n in copies.items() if n > 1]
        if missing:
            problems.append(f"{len(missing)} posts marked posted are missing on the sandbox")
        if twice:
            problems.append(f"{len(twice)} posts reached the sandbox more than once")
        span = PostAttempt.objects.filter(post__in=created).aggregate(
            first=Min("started_at"), last=Max("finished_at")
        )
        publishing_s = (
            (span["last"] - span["first"]).total_seconds() if span["first"] and span["last"] else 0
        )
        self.stdout.write(
            f"\n{len(created)} posts finished ({len(tokens)} posted) in {elapsed:.1f}s "
            f"from start-up ({len(created) / elapsed * 60:.1f} posts/min); "
            f"{publishing_s:.1f}s from the first upload to the last "
            f"({len(created) / max(publishing_s, 0.001) * 60:.1f} posts/min through the browsers)."
        )
        self.stdout.write(
            f"Sandbox copies per posted post: {sorted(set(copies.values())) or 'none'} "
            "(1 means exactly once)."
        )
        self._capture_summary(created)
        sys.stdout.flush()
        return problems

    def _capture_summary(self, created: list[Post]) -> None:
        if not settings.CAPTURE_PUBLISH_RUNS:
            self.stdout.write("Recording of publish runs is off (CAPTURE_PUBLISH_RUNS=false).")
            return
        sessions = CapturedSession.objects.filter(attempt__post__in=created)
        states = Counter(sessions.values_list("state", flat=True))
        events = sessions.aggregate(n=Sum("events_count"))["n"] or 0
        shots = Screenshot.objects.filter(session__in=sessions).count()
        self.stdout.write(
            f"Recorded: {sum(states.values())} sessions "
            f"({', '.join(f'{n} {state}' for state, n in sorted(states.items())) or 'none'}), "
            f"{events} events, {shots} screenshots; see Capture in the console, "
            "and `manage.py export_training` for training data."
        )
