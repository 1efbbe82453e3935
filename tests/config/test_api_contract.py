"""The API keeps the contract its schema states, checked by schemathesis against a live farm.

The farm's web server (gunicorn, as deployed) runs on 127.0.0.1 against this
test's database, in which a member has data in every part of their workspace.
Schemathesis reads `/api/schema/` with the member's token and sends what the
schema allows and what it forbids, operation by operation and then in
sequences (its stateful phase), with every check it has: status codes, bodies
and headers as documented, schema-valid requests accepted and invalid ones
refused, no 500, authentication not ignored, deleted or foreign objects not
found.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import Membership, Workspace
from core.processes import FarmProcesses, free_port
from tests.e2e.conftest import farm_env
from tests.factories import Farm, api_token, make_account, make_farm, make_post, make_user
from uploads.models import PostAttempt, PostStatus

pytestmark = [pytest.mark.contract, pytest.mark.django_db(transaction=True)]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# Enough cases per operation to walk every documented answer, few enough for a
# run of about two minutes on two cores; the seed makes a failure repeatable
# (FARM_CONTRACT_SEED explores others).
MAX_EXAMPLES = 100
SEED = os.environ.get("FARM_CONTRACT_SEED", "20260101")
RUN_TIMEOUT_SECONDS = 600


# How schemathesis is set up, beyond the command line (schemathesis.toml):
CONFIG = """
[generation]
# PostgreSQL cannot store NUL in text, and the API refuses it with a 400 naming the
# field; a string schema has no plain way to say so.
allow-x00 = false

# Bodies name objects by id. A made-up id is "No such account in this workspace", a
# 400 no schema can rule out, so the fuzzer is given the ids of the caller's own.
[parameters]
"body.workspace" = {workspace}
"body.account" = {account}
"body.campaign" = {campaign}
"body.posts[*].account" = {account}
"body.posts[*].campaign" = {campaign}

# Creating a post, posts in bulk, a captured session or an export: a body can be
# schema-valid and still refused with a 400 naming the field, for what a schema
# cannot state: an id of another workspace's object (the coverage phase does not
# take the ids above), a rule across fields (a post's kind and its media file, an
# export's dates in order), a media file's own bytes.
[[operations]]
include-path-regex = "^/api/v1/(posts/|posts/bulk/|capture/sessions/|training/exports/)$"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"
]
"""


def _workspace_with_data(workspace: Workspace) -> Farm:
    """One of everything, a dead post with its attempts, and a second account."""
    farm = make_farm(workspace)
    dead = make_post(
        farm.account, PostStatus.DEAD, title="Dead letter", attempts_count=4, last_error="503"
    )
    now = timezone.now()
    for number in (1, 2):
        PostAttempt.objects.create(
            post=dead,
            account=farm.account,
            number=number,
            dispatched_at=now - timedelta(minutes=10 - number),
            finished_at=now - timedelta(minutes=9 - number),
            outcome=PostAttempt.Outcome.ERROR,
            error_kind="transient",
            message="The platform answered 503.",
        )
    make_post(make_account(workspace, handle="bob"), title="Scheduled")
    return farm


def test_the_api_keeps_its_contract(
    workspace: Workspace, media_in_tmp: Path, tmp_path: Path
) -> None:
    farm_data = _workspace_with_data(workspace)
    owner = make_user(workspace, Membership.Role.OWNER)
    token = api_token(owner)
    (tmp_path / "schemathesis.toml").write_text(
        CONFIG.format(
            workspace=workspace.pk, account=farm_data.account.pk, campaign=farm_data.campaign.pk
        )
    )

    port = free_port(8731)
    base_url = f"http://127.0.0.1:{port}"
    farm = FarmProcesses(
        env={
            **farm_env(base_url),
            "FARM_MEDIA_ROOT": str(media_in_tmp),
            # The throttle is tested on its own (tests/core/test_throttling.py); here it
            # would only stop the run short.
            "FARM_API_THROTTLE_CALLER": "1000000/minute",
        },
        log_dir=tmp_path / "farm",
    )
    started = time.monotonic()
    try:
        farm.start_web(port)
        farm.wait_for_http(f"{base_url}/admin/login/")
        run = subprocess.run(
            [
                str(SCHEMATHESIS),
                "run",
                f"{base_url}/api/schema/",
                "--checks",
                "all",
                "--header",
                f"Authorization: Token {token}",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                SEED,
                "--workers",
                "2",
                "--generation-database",
                "none",
                "--request-timeout",
                "20",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
    finally:
        farm.stop(grace=5)
    elapsed = time.monotonic() - started

    report = run.stdout[-20000:] + run.stderr[-3000:]
    assert run.returncode == 0, f"{report}\n{farm.logs()}"
    # Every case generated passed every check; warnings (no failures) may remain.
    counts = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert counts and counts[1] == counts[2], report
    assert not re.search(r"\b(failures?|errors?)\b", run.stdout.splitlines()[-1]), report
    print(f"schemathesis: {counts[1]} cases, no failures, in {elapsed:.0f}s")
