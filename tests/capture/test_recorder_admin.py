"""The operator's way from a post attempt to the session that recorded it."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from accounts.models import Account, Workspace
from capture.models import CapturedSession
from capture.services import session_open
from uploads.models import PostAttempt
from uploads.services import post_create


def test_an_attempts_page_links_to_its_recorded_session(
    superuser_client: Client, workspace: Workspace, account: Account
) -> None:
    client = superuser_client
    post = post_create(workspace=workspace, account=account, title="Recorded")
    recorded = PostAttempt.objects.create(post=post, account=account, number=1)
    unrecorded = PostAttempt.objects.create(post=post, account=account, number=2)
    session = session_open(
        workspace=workspace,
        kind=CapturedSession.Kind.AUTOMATED,
        account=account,
        attempt=recorded,
    )

    page = client.get(reverse("admin:uploads_postattempt_change", args=[recorded.pk]))
    assert page.status_code == 200
    link = reverse("admin:capture_capturedsession_change", args=[session.pk])
    assert f'href="{link}"' in page.content.decode()
    assert "0 events, Recording" in page.content.decode()

    page = client.get(reverse("admin:uploads_postattempt_change", args=[unrecorded.pk]))
    assert page.status_code == 200
    assert "/admin/capture/capturedsession/" + str(session.pk) not in page.content.decode()
    assert "events, Recording" not in page.content.decode()
