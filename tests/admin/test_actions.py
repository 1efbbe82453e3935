"""Console actions move things through the services and say how many moved."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.models import Account, Workspace
from monitoring.models import Alert
from monitoring.services import alert_raise
from uploads.models import Post, PostStatus


def run_action(client: Client, changelist: str, action: str, ids: list[int]) -> list[str]:
    response = client.post(
        reverse(changelist), {"action": action, "_selected_action": [str(i) for i in ids]}
    )
    assert response.status_code == 302
    return [str(message) for message in get_messages(response.wsgi_request)]


def states(*accounts: Account) -> list[str]:
    return [Account.objects.get(pk=account.pk).state for account in accounts]


def statuses(*posts: Post) -> list[str]:
    return [Post.objects.get(pk=post.pk).status for post in posts]


def test_pause_moves_active_and_logged_out_accounts_only(
    superuser_client: Client, workspace: Workspace, make_account: Callable[..., Account]
) -> None:
    active, needs_login, disabled = (make_account(workspace) for _ in range(3))
    Account.objects.filter(pk=needs_login.pk).update(state=Account.State.NEEDS_LOGIN)
    Account.objects.filter(pk=disabled.pk).update(state=Account.State.DISABLED)
    ids = [active.pk, needs_login.pk, disabled.pk]

    shown = run_action(superuser_client, "admin:accounts_account_changelist", "pause_accounts", ids)

    assert states(active, needs_login, disabled) == ["paused", "paused", "disabled"]
    assert shown == [
        "Paused 2 account(s). 1 were not in a state that allows it and were left alone."
    ]


def test_resume_moves_paused_accounts_back(
    superuser_client: Client, workspace: Workspace, make_account: Callable[..., Account]
) -> None:
    paused, disabled = make_account(workspace), make_account(workspace)
    Account.objects.filter(pk=paused.pk).update(state=Account.State.PAUSED)
    Account.objects.filter(pk=disabled.pk).update(state=Account.State.DISABLED)

    shown = run_action(
        superuser_client,
        "admin:accounts_account_changelist",
        "resume_accounts",
        [paused.pk, disabled.pk],
    )

    assert states(paused, disabled) == ["active", "disabled"]
    assert shown[0].startswith("Resumed 1 account(s).")


def test_cancel_stops_waiting_and_queued_posts_only(
    superuser_client: Client, account: Account, make_post: Callable[..., Post]
) -> None:
    waiting = make_post(account)
    queued = make_post(account, PostStatus.QUEUED)
    posted = make_post(account, PostStatus.POSTED)
    publishing = make_post(account, PostStatus.PUBLISHING)

    shown = run_action(
        superuser_client,
        "admin:uploads_post_changelist",
        "cancel_posts",
        [waiting.pk, queued.pk, posted.pk, publishing.pk],
    )

    assert statuses(waiting, queued, posted, publishing) == [
        "cancelled",
        "cancelled",
        "posted",
        "publishing",
    ]
    assert shown[0].startswith("Cancelled 2 post(s). 2 were not waiting or queued")


def test_requeue_gives_dead_failed_and_cancelled_posts_a_fresh_start(
    superuser_client: Client, account: Account, make_post: Callable[..., Post]
) -> None:
    dead = make_post(account, PostStatus.DEAD, attempts_count=4, last_error="timeout")
    failed = make_post(account, PostStatus.FAILED, attempts_count=1)
    cancelled = make_post(account, PostStatus.CANCELLED)
    posted = make_post(account, PostStatus.POSTED)

    shown = run_action(
        superuser_client,
        "admin:uploads_post_changelist",
        "requeue_posts",
        [dead.pk, failed.pk, cancelled.pk, posted.pk],
    )

    assert statuses(dead, failed, cancelled, posted) == [
        "scheduled",
        "scheduled",
        "scheduled",
        "posted",
    ]
    dead.refresh_from_db()
    assert (dead.attempts_count, dead.last_error) == (0, "")
    assert shown[0].startswith("Requeued 3 post(s). 1 were not dead, failed or cancelled")


def test_requeue_dead_leaves_the_other_selected_posts_alone(
    superuser_client: Client, account: Account, make_post: Callable[..., Post]
) -> None:
    dead = [make_post(account, PostStatus.DEAD) for _ in range(2)]
    failed = make_post(account, PostStatus.FAILED)

    shown = run_action(
        superuser_client,
        "admin:uploads_post_changelist",
        "requeue_dead_posts",
        [*(post.pk for post in dead), failed.pk],
    )

    assert statuses(*dead, failed) == ["scheduled", "scheduled", "failed"]
    assert shown == ["Requeued 2 post(s).", "1 selected post(s) were not dead."]


def test_resolve_closes_the_selected_open_alerts(
    superuser_client: Client, workspace: Workspace, account: Account
) -> None:
    first = alert_raise(workspace=workspace, kind=Alert.Kind.POST_DEAD, message="one")
    second = alert_raise(
        workspace=workspace, account=account, kind=Alert.Kind.LOGIN_REQUIRED, message="two"
    )
    untouched = alert_raise(workspace=workspace, kind=Alert.Kind.RATE_LIMITED, message="three")

    shown = run_action(
        superuser_client,
        "admin:monitoring_alert_changelist",
        "resolve_alerts",
        [first.pk, second.pk],
    )

    assert shown == ["Resolved 2 alert(s)."]
    assert set(Alert.objects.filter(resolved_at__isnull=True)) == {untouched}
