"""The console's capture pages: scores and the rejection reason, thumbnails, tokens."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.messages import get_messages
from django.urls import reverse

from capture.models import CapturedSession, IngestToken
from capture.services import (
    capture_settings_get,
    ingest_token_hash,
    session_close,
    session_events_append,
    session_screenshot_add,
)
from tests.factories import make_event, png_bytes


def test_a_rejected_session_page_shows_scores_reason_and_thumbnails(
    admin_client, workspace, make_session: Callable
) -> None:
    settings = capture_settings_get(workspace=workspace)
    settings.min_quality = 0.99
    settings.save()
    session = make_session()
    session_events_append(session=session, events=[make_event(1), make_event(2)])
    shot = session_screenshot_add(session=session, image_bytes=png_bytes(), sequence=1)
    session = session_close(session=session)
    assert session.state == CapturedSession.State.REJECTED

    page = admin_client.get(reverse("admin:capture_capturedsession_change", args=[session.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert session.rejection_reason in html
    assert f"{session.quality:.2f}" in html
    assert shot.image.url in html and "<img" in html
    assert 'name="task"' not in html  # read-only

    listing = admin_client.get(reverse("admin:capture_capturedsession_changelist"))
    assert "below the workspace minimum" in listing.content.decode()

    interactions = admin_client.get(
        reverse("admin:capture_interaction_changelist") + f"?session__id__exact={session.pk}"
    )
    assert interactions.status_code == 200
    assert shot.image.url in interactions.content.decode()


def test_adding_a_token_in_the_console_shows_it_once(admin_client, workspace) -> None:
    response = admin_client.post(
        reverse("admin:capture_ingesttoken_add"),
        {"workspace": workspace.pk, "name": "Jane"},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in get_messages(response.wsgi_request)] or [response.content.decode()]
    token = IngestToken.objects.get()
    text = " ".join(shown)
    plain = next(word for word in text.split() if word.startswith("cap_"))
    assert ingest_token_hash(plain) == token.token_hash
