"""The demo's path: beat dispatches, real Celery workers publish through Chromium."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db.models import Count

from accounts.models import Workspace
from core.processes import FarmProcesses
from sandbox.models import SandboxPost
from tests.e2e.conftest import wait_until
from tests.factories import png_upload
from uploads.models import TERMINAL, Post, PostAttempt, PostStatus
from uploads.services import post_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_beat_and_workers_publish_every_post_exactly_once(
    farm: FarmProcesses, workspace: Workspace, sandbox_account: Callable[..., tuple]
) -> None:
    steady, _ = sandbox_account(workspace, "steady")
    shaky, _ = sandbox_account(workspace, "shaky", fail_next=1)
    posts = []
    for n in range(4):
        posts.append(
            post_create(
                workspace=workspace,
                account=steady,
                kind="image",
                title=f"Photo {n}",
                media=png_upload(f"p{n}.png"),
            )
        )
        posts.append(post_create(workspace=workspace, account=shaky, title=f"Note {n}"))

    fast = {"FARM_DISPATCH_INTERVAL_SECONDS": "1", "FARM_RETRY_BACKOFF_SECONDS": "2,2,2"}
    farm.start_worker(concurrency=2, env=fast)
    farm.start_beat(env=fast)

    def all_done() -> bool:
        return (
            not Post.objects.filter(pk__in=[p.pk for p in posts])
            .exclude(status__in=TERMINAL)
            .exists()
        )

    wait_until(all_done, timeout=150, on_timeout=farm.logs())

    statuses = dict(Post.objects.values_list("status").annotate(n=Count("id")))
    assert statuses == {PostStatus.POSTED: 8}, farm.logs()
    tokens = [str(p.publish_token) for p in posts]
    per_token = dict(
        SandboxPost.objects.filter(publish_token__in=tokens)
        .values_list("publish_token")
        .annotate(n=Count("id"))
    )
    assert per_token == dict.fromkeys(tokens, 1)
    # The shaky account's first upload hit the 503 and was retried.
    assert PostAttempt.objects.filter(account=shaky, error_kind="transient").count() == 1
    assert PostAttempt.objects.filter(outcome="posted", worker__contains=":").count() == 8
