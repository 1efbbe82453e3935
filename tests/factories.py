"""Builders of what the tests need, made through the services as the farm makes them.

Plain functions: call them from a test or fixture that has the database.
tests/conftest.py hands the common ones out as fixtures (`make_workspace`,
`make_account`, `make_user`, `make_post`, `api_client_for`, `farm`, ...).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Account, Membership, Workspace
from accounts.services import account_create, account_set_cookies, membership_add, workspace_create
from browsers.models import BrowserProfile
from capture.models import CapturedSession, CaptureSettings
from capture.services import (
    capture_settings_get,
    ingest_token_create,
    session_close,
    session_events_append,
    session_open,
    session_screenshot_add,
)
from core.beat import BEAT_LOCK, scheduler_lock_hold
from monitoring.models import Alert
from monitoring.services import alert_raise
from training.models import Export, ExportSchedule
from training.services import export_schedule_save
from uploads.models import Campaign, PlatformCircuit, Post, PostAttempt, PostStatus, RateLimitRule
from uploads.services import post_create

# What the builder fixtures hand out, for the tests' annotations.
MakeWorkspace = Callable[..., Workspace]
MakeAccount = Callable[..., Account]
MakeUser = Callable[..., User]
MakePost = Callable[..., Post]
MakeClient = Callable[..., APIClient]
MemberOfTwo = tuple[APIClient, Workspace]  # a client and the second of its workspaces

_numbers = itertools.count(1)


# --- Workspaces, accounts, people ---------------------------------------------


def make_workspace(**fields: Any) -> Workspace:
    n = next(_numbers)
    return workspace_create(
        name=str(fields.pop("name", f"Workspace {n}")),
        slug=str(fields.pop("slug", f"workspace-{n}")),
        **fields,
    )


def make_account(workspace: Workspace, **fields: Any) -> Account:
    """A sandbox account (with its browser profile) whose stored password is `pw-secret-1`."""
    n = next(_numbers)
    fields.setdefault("platform", "sandbox")
    fields.setdefault("handle", f"user{n}")
    fields.setdefault("credentials", {"username": fields["handle"], "password": "pw-secret-1"})
    return account_create(workspace=workspace, **fields)


def make_user(
    workspace: Workspace | None = None,
    role: str = Membership.Role.OPERATOR,
    *,
    permissions: Sequence[str] = (),
    **fields: Any,
) -> User:
    """A person with the given role in the workspace (none without one) and console permissions.

    No password: tests sign people in with `force_login` or an API token.
    """
    user = get_user_model().objects.create_user(username=f"user{next(_numbers)}", **fields)
    if workspace is not None:
        membership_add(workspace=workspace, user=user, role=role)
    if permissions:
        user.user_permissions.set(Permission.objects.filter(codename__in=permissions))
    return user


def join_new_workspace(client: APIClient, role: str = Membership.Role.OPERATOR) -> Workspace:
    """A new workspace in which the API client's person (`token_client`) has the role."""
    workspace = make_workspace()
    membership_add(workspace=workspace, user=client.user, role=role)  # type: ignore[attr-defined]
    return workspace


def make_superuser() -> User:
    return get_user_model().objects.create_superuser("root", "root@example.com", None)


def api_token(user: User) -> str:
    """The user's API token, as sent in `Authorization: Token <token>`."""
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def token_client(user: User) -> APIClient:
    """An API client authenticated by the user's token; `client.user` is the user."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    client.user = user  # type: ignore[attr-defined]
    return client


def console_client(user: User) -> Client:
    """The console (the admin) signed in as the user."""
    client = Client()
    client.force_login(user)
    return client


# --- Posts --------------------------------------------------------------------


def make_post(account: Account, status: str | None = None, **fields: Any) -> Post:
    """A text post made through the service, then put in whatever state the test needs.

    The flow that gets a post to a state is tested elsewhere; `fields` are
    written straight to the row (attempts_count, posted_at, last_error, ...).
    """
    post = post_create(
        workspace=account.workspace,
        account=account,
        title=str(fields.pop("title", "Hello")),
        caption=str(fields.pop("caption", "")),
    )
    if status is not None:
        fields["status"] = status
    if fields:
        Post.objects.filter(pk=post.pk).update(**fields)
        post.refresh_from_db()
    return post


def make_posts(accounts: Account | Sequence[Account], n: int) -> list[Post]:
    """`n` text posts due now, "Post 0" to "Post n-1", spread round-robin over the accounts."""
    spread = [accounts] if isinstance(accounts, Account) else list(accounts)
    return [
        post_create(
            workspace=spread[i % len(spread)].workspace,
            account=spread[i % len(spread)],
            title=f"Post {i}",
            caption=f"caption {i}",
        )
        for i in range(n)
    ]


def png_bytes(width: int = 32, height: int = 24, color: str = "red", fmt: str = "PNG") -> bytes:
    """A real image of that size and colour, PNG unless another Pillow format is named."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format=fmt)
    return out.getvalue()


def png_upload(name: str = "photo.png", color: str = "teal") -> SimpleUploadedFile:
    """A 320x240 PNG as a browser uploads it."""
    return SimpleUploadedFile(name, png_bytes(320, 240, color), content_type="image/png")


# --- Captured sessions --------------------------------------------------------


def make_event(sequence: int, **fields: Any) -> dict[str, Any]:
    """A well-formed click event, as the recorder sends it."""
    event: dict[str, Any] = {
        "sequence": sequence,
        "timestamp_ms": 1_732_400_000_000 + sequence * 1500,
        "kind": "click",
        "url": "http://127.0.0.1:8000/sandbox/upload/",
        "title": "Upload",
        "value": None,
        "masked": False,
        "masked_kinds": [],
        "target": {
            "tag": "button",
            "text": f"Step {sequence}",
            "role": "button",
            "name": f"Step {sequence}",
            "attributes": {"data-testid": f"step-{sequence}", "type": "button"},
            "bbox": {"x": 10, "y": 200, "width": 80, "height": 32},
            "selectors": [
                {
                    "kind": "testid",
                    "value": f'[data-testid="step-{sequence}"]',
                    "score": 1.0,
                    "unique": True,
                },
                {"kind": "css", "value": "form > button", "score": 0.4, "unique": False},
            ],
            "nearby": [{"tag": "input", "text": "", "role": "textbox", "name": "Title"}],
            "dom_snippet": f'<form><button data-testid="step-{sequence}">Step</button></form>',
        },
        "scroll": None,
        "found_in_dom": True,
        "dom_changed": True,
    }
    event.update(fields)
    return event


BASE = "http://127.0.0.1:8000/sandbox"


def element(
    tag: str,
    name: str,
    testid: str | None = None,
    *,
    role: str | None = None,
    text: str = "",
    attributes: dict[str, Any] | None = None,
    nearby: list[dict[str, Any]] | None = None,
    snippet: str = "",
) -> dict[str, Any]:
    """An event's target as the recorder describes it, its test id the first selector."""
    selectors = []
    if testid:
        selectors.append(
            {"kind": "testid", "value": f'[data-testid="{testid}"]', "score": 1.0, "unique": True}
        )
    selectors.append({"kind": "css", "value": f"form {tag}", "score": 0.4, "unique": False})
    return {
        "tag": tag,
        "text": text,
        "role": role or {"button": "button", "input": "textbox", "select": "combobox"}.get(tag),
        "name": name,
        "attributes": {**({"data-testid": testid} if testid else {}), **(attributes or {})},
        "bbox": {"x": 10, "y": 20, "width": 80, "height": 30},
        "selectors": selectors,
        "nearby": nearby or [],
        "dom_snippet": snippet or f"<form><{tag}>{text}</{tag}></form>",
    }


TITLE = element("input", "Title", "title-input", attributes={"name": "title"})
VISIBILITY = element("select", "Visibility", "visibility")
PUBLISH = element(
    "button",
    "Publish",
    "upload-submit",
    text="Publish",
    attributes={"type": "submit"},
    nearby=[
        {"tag": "input", "text": "", "role": "textbox", "name": "Title"},
        {
            "tag": "a",
            "text": "Cancel",
            "role": "link",
            "name": "Cancel",
            "selectors": [{"kind": "text", "value": "text=Cancel", "score": 0.7, "unique": True}],
        },
    ],
    snippet='<form><button data-testid="upload-submit">Publish</button></form>',
)
FORM = element("form", "Upload", None, role="form")


def upload_events(title: str = "Holiday clip") -> list[dict[str, Any]]:
    """A person uploads a video on the sandbox: 6 actions after landing on the page."""
    base = {"masked": False, "masked_kinds": [], "scroll": None, "found_in_dom": True}
    rows: list[dict[str, Any]] = [
        {"kind": "navigate", "url": f"{BASE}/upload/", "title": "Upload", "target": None},
        {"kind": "click", "target": TITLE},
        {"kind": "input", "target": TITLE, "value": title[:3]},
        {"kind": "input", "target": TITLE, "value": title},
        {"kind": "click", "target": VISIBILITY},
        {"kind": "input", "target": VISIBILITY, "value": "public"},
        {"kind": "scroll", "target": None, "scroll": {"x": 0, "y": 400}},
        {"kind": "click", "target": PUBLISH},
        {"kind": "submit", "target": FORM},
        {"kind": "navigate", "url": f"{BASE}/posts/", "title": "Posts", "target": None},
    ]
    events = []
    for n, row in enumerate(rows, start=1):
        event = {
            **base,
            "sequence": n,
            "timestamp_ms": 1_732_400_000_000 + n * 1500,
            "url": f"{BASE}/upload/",
            "title": "Upload",
            "value": None,
            "dom_changed": True,
        }
        event.update(row)
        events.append(event)
    return events


# Actions an upload session yields: click title, type, select, scroll, click publish, submit.
MESSAGES_PER_UPLOAD = 6
# Mind2Web drops the scroll and the submit that follows the click.
MIND2WEB_PER_UPLOAD = 4


def record_session(
    *,
    workspace: Workspace,
    task: str = "Upload the holiday clip as a public video",
    kind: str = CapturedSession.Kind.HUMAN,
    events: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> CapturedSession:
    """A session recorded through the capture services and closed, accepted whatever its score.

    `events` default to a person's upload on the sandbox; `fields` are written
    to the row afterwards.
    """
    CaptureSettings.objects.update_or_create(workspace=workspace, defaults={"min_quality": 0.0})
    session = session_open(workspace=workspace, kind=kind, task=task, start_url=f"{BASE}/upload/")
    session_events_append(session=session, events=events or upload_events())
    session = session_close(session=session)
    if fields:
        CapturedSession.objects.filter(pk=session.pk).update(**fields)
        session.refresh_from_db()
    return session


def export_add_form(workspace: Workspace, **fields: object) -> dict[str, object]:
    """What the console's add-export form posts: human sessions, no other filter."""
    blank_dates = {f"started_{end}_{part}": "" for end in ("from", "until") for part in (0, 1)}
    return {
        "workspace": workspace.pk,
        "format": "messages",
        "kinds": ["human"],
        "min_quality": "",
        "validation_share": "0",
        **blank_dates,
        **fields,
    }


# --- A farm with one of everything --------------------------------------------

COOKIE_SECRET = "cookie-secret-1"
PROXY_SECRET = "proxy-secret-1"
SECRETS = ("pw-secret-1", COOKIE_SECRET, PROXY_SECRET)


@dataclass
class Farm:
    workspace: Workspace
    account: Account
    profile: BrowserProfile
    campaign: Campaign
    post: Post
    attempt: PostAttempt
    alert: Alert


def make_farm(workspace: Workspace) -> Farm:
    """One of every model of the farm, secrets stored, as a running farm would hold them.

    Its files (a screenshot, an export's) go to MEDIA_ROOT: point that at a
    temporary folder first (the `media_in_tmp` fixture).
    """
    account = make_account(workspace, handle="alice")
    account_set_cookies(account=account, cookies=[{"name": "sid", "value": COOKIE_SECRET}])
    BrowserProfile.objects.filter(account=account).update(
        proxy={"url": f"http://proxyuser:{PROXY_SECRET}@proxy.example:3128"}
    )
    # Migrations ship the rules, but a transactional test elsewhere may have flushed them.
    RateLimitRule.objects.get_or_create(
        platform="sandbox", action="post", defaults={"per_hour": 100, "per_day": 1000}
    )
    # Circuits appear with a platform's first infrastructure failure.
    PlatformCircuit.objects.get_or_create(platform="sandbox", defaults={"consecutive_failures": 1})
    campaign = Campaign.objects.create(workspace=workspace, name="Spring")
    post = make_post(
        account, PostStatus.FAILED, title="First post", last_error="Rejected", campaign=campaign
    )
    now = timezone.now()
    attempt = PostAttempt.objects.create(
        post=post,
        account=account,
        number=1,
        dispatched_at=now - timedelta(minutes=2),
        started_at=now - timedelta(minutes=1),
        finished_at=now,
        outcome=PostAttempt.Outcome.ERROR,
        error_kind="rejected",
        message="The platform rejected the post.",
    )
    attempt.screenshot.save("shot.webp", ContentFile(png_bytes(8, 8, fmt="WEBP")))
    alert = alert_raise(
        workspace=workspace, account=account, kind=Alert.Kind.POST_REJECTED, message="Rejected"
    )
    _capture_objects(workspace=workspace, account=account, attempt=attempt)
    # A beat holds its lock, as in a running farm.
    scheduler_lock_hold(name=BEAT_LOCK, holder="beat-host:1", seconds=30)
    _training_objects(workspace)
    return Farm(
        workspace=workspace,
        account=account,
        profile=BrowserProfile.objects.get(account=account),
        campaign=campaign,
        post=post,
        attempt=attempt,
        alert=alert,
    )


def _capture_objects(*, workspace: Workspace, account: Account, attempt: PostAttempt) -> None:
    """One of each capture model: a closed session with an event, a screenshot and a token."""
    capture_settings_get(workspace=workspace)
    token, _ = ingest_token_create(workspace=workspace, name="alice's browser")
    session = session_open(
        workspace=workspace, kind="automated", account=account, attempt=attempt, token=token
    )
    session_events_append(session=session, events=[make_event(1)])
    session_screenshot_add(session=session, image_bytes=png_bytes(), sequence=1)
    session_close(session=session)


def _training_objects(workspace: Workspace) -> None:
    """A finished export with its files and warnings, and a schedule with its beat entry."""
    schedule = export_schedule_save(
        schedule=ExportSchedule(workspace=workspace, name="Nightly", kinds=["human"])
    )
    export = Export.objects.create(
        workspace=workspace,
        schedule=schedule,
        state=Export.State.READY,
        sessions_total=12,
        sessions_done=12,
        sessions_count=12,
        examples_count=72,
        train_count=66,
        validation_count=6,
        warnings=[{"code": "no_target", "message": "1 action(s) had no target element"}],
    )
    export.train_file.save("train.jsonl", ContentFile(b"{}\n"), save=False)
    export.validation_file.save("validation.jsonl", ContentFile(b"{}\n"))


def target_of(event: Any) -> dict[str, Any]:
    """The element an event acted on, which the test expects it to have."""
    assert event.target is not None, event.kind
    return event.target
