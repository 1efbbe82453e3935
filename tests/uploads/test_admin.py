"""Posts in the console: actions move them through the services and say how many moved;
a post's page is read-only and shows its attempts; dead letters; rate-limit rules."""

from __future__ import annotations

from django.test import Client

from accounts.models import Account
from tests.conftest import admin_url, run_action
from tests.factories import Farm, MakePost
from uploads.models import Post, PostStatus, RateLimitRule


def act_on(client: Client, action: str, *posts: Post) -> list[str]:
    """Apply a console action to the posts selected in the list; the messages it shows."""
    return run_action(client, "admin:uploads_post_changelist", action, [post.pk for post in posts])


def statuses(*posts: Post) -> list[str]:
    return [Post.objects.get(pk=post.pk).status for post in posts]


def test_cancel_stops_waiting_and_queued_posts_only(
    superuser_client: Client, account: Account, make_post: MakePost
) -> None:
    waiting = make_post(account)
    queued = make_post(account, PostStatus.QUEUED)
    posted = make_post(account, PostStatus.POSTED)
    publishing = make_post(account, PostStatus.PUBLISHING)

    shown = act_on(superuser_client, "cancel_posts", waiting, queued, posted, publishing)

    assert statuses(waiting, queued, posted, publishing) == [
        "cancelled",
        "cancelled",
        "posted",
        "publishing",
    ]
    assert shown[0].startswith("Cancelled 2 post(s). 2 were not waiting or queued")


def test_requeue_gives_dead_failed_and_cancelled_posts_a_fresh_start(
    superuser_client: Client, account: Account, make_post: MakePost
) -> None:
    dead = make_post(account, PostStatus.DEAD, attempts_count=4, last_error="timeout")
    failed = make_post(account, PostStatus.FAILED, attempts_count=1)
    cancelled = make_post(account, PostStatus.CANCELLED)
    posted = make_post(account, PostStatus.POSTED)

    shown = act_on(superuser_client, "requeue_posts", dead, failed, cancelled, posted)

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
    superuser_client: Client, account: Account, make_post: MakePost
) -> None:
    dead = [make_post(account, PostStatus.DEAD) for _ in range(2)]
    failed = make_post(account, PostStatus.FAILED)

    shown = act_on(superuser_client, "requeue_dead_posts", *dead, failed)

    assert statuses(*dead, failed) == ["scheduled", "scheduled", "failed"]
    assert shown == ["Requeued 2 post(s).", "1 selected post(s) were not dead."]


def test_post_page_is_read_only_and_shows_attempts_with_screenshot(
    superuser_client: Client, farm: Farm
) -> None:
    response = superuser_client.get(admin_url(type(farm.post), "change", farm.post.pk))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="title"' not in html  # nothing to edit
    assert farm.attempt.screenshot.url in html
    assert "<img" in html
    assert "The platform rejected the post." in html


def test_dead_letters_filter_lists_only_dead_posts(
    superuser_client: Client, farm: Farm, make_post
) -> None:
    dead = make_post(farm.account, "dead", title="Gave up")
    make_post(farm.account, "posted", title="Went out")
    response = superuser_client.get(
        admin_url(type(farm.post), "changelist") + "?status__exact=dead"
    )
    assert [post.pk for post in response.context["cl"].result_list] == [dead.pk]


def test_dead_letters_show_their_attempts_and_last_error(
    superuser_client: Client, farm: Farm, make_post
) -> None:
    make_post(
        farm.account,
        "dead",
        title="Gave up",
        attempts_count=4,
        last_error="x" * 70 + " timed out again",
    )
    response = superuser_client.get(
        admin_url(type(farm.post), "changelist") + "?status__exact=dead"
    )
    html = response.content.decode()
    assert '<td class="field-attempts">4 / 4</td>' in html
    # Cut short in the list; the post's own page has all of it.
    assert "x" * 70 + " timed" in html
    assert "timed out again" not in html
    assert 'value="requeue_dead_posts"' in html


def test_rate_limit_rules_are_edited_in_the_list(superuser_client: Client, farm: Farm) -> None:
    url = admin_url(RateLimitRule, "changelist")
    formset = superuser_client.get(url).context["cl"].formset
    data = {
        "form-TOTAL_FORMS": str(formset.total_form_count()),
        "form-INITIAL_FORMS": str(formset.initial_form_count()),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    target = None
    for form in formset.forms:
        rule = form.instance
        values = {
            "id": rule.pk,
            "per_hour": rule.per_hour,
            "per_day": rule.per_day,
            "min_interval_seconds": rule.min_interval_seconds,
        }
        if target is None:
            target, values["per_hour"] = rule, 1
        data.update({f"{form.prefix}-{key}": str(value) for key, value in values.items()})
    assert target is not None
    response = superuser_client.post(url, data)
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.per_hour == 1
