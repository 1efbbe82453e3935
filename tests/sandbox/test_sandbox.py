from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sandbox.models import SandboxAccount, SandboxPost
from sandbox.selectors import sandbox_post_counts_by_token, sandbox_posts_by_token
from sandbox.services import (
    FAULT_DEFAULTS,
    sandbox_account_create,
    sandbox_account_log_out_everyone,
    sandbox_account_set_faults,
)
from sandbox.sessions import COOKIE_NAME, session_token
from tests.sandbox.conftest import PASSWORD

if TYPE_CHECKING:
    # What the test client answers: a response with the request, context and content.
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

UPLOAD = "/sandbox/upload/"
LOGIN = "/sandbox/login/"


def submit(client: Client, *, token: str = "tok-1", **fields: object) -> TestResponse:
    data = {"title": "Hello", "caption": "First post", "publish_token": token, **fields}
    return client.post(UPLOAD, data)


def tag_of(response: TestResponse, name: str) -> str | None:
    """The opening tag of the element with this data-testid, if the page has one."""
    match = re.search(rf'<[^>]*data-testid="{re.escape(name)}"[^>]*>', response.content.decode())
    return match.group(0) if match else None


def attribute(tag: str | None, name: str) -> str:
    assert tag is not None, f"no element to read {name} from"
    match = re.search(rf'{name}="([^"]*)"', tag)
    assert match, f"{name} not in {tag}"
    return match.group(1)


# --- Login ----------------------------------------------------------------


def test_login_page_has_the_form_a_robot_needs(client: Client) -> None:
    response = client.get(LOGIN)

    assert response.status_code == 200
    for name in ("login-handle", "login-password", "login-submit"):
        assert tag_of(response, name), name
    assert 'id="id_handle"' in (tag_of(response, "login-handle") or "")
    assert 'type="password"' in (tag_of(response, "login-password") or "")


def test_login_with_good_credentials_sets_the_session_and_redirects(
    client: Client, account: SandboxAccount
) -> None:
    response = client.post(LOGIN, {"handle": "alice", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == UPLOAD
    assert response.cookies[COOKIE_NAME].value
    page = client.get(UPLOAD)
    assert page.status_code == 200
    assert 'data-testid="signed-in-as">alice<' in page.content.decode()


def test_login_keeps_next_inside_the_sandbox_only(client: Client, account: SandboxAccount) -> None:
    inside = client.post(
        LOGIN, {"handle": "alice", "password": PASSWORD, "next": "/sandbox/@alice/posts/"}
    )
    outside = client.post(
        LOGIN, {"handle": "alice", "password": PASSWORD, "next": "https://evil.example/"}
    )

    assert inside["Location"] == "/sandbox/@alice/posts/"
    assert outside["Location"] == UPLOAD


def test_login_with_bad_password_shows_an_error(client: Client, account: SandboxAccount) -> None:
    response = client.post(LOGIN, {"handle": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert tag_of(response, "login-error")
    assert COOKIE_NAME not in response.cookies


def test_login_with_unknown_handle_shows_an_error(client: Client, db: None) -> None:
    response = client.post(LOGIN, {"handle": "nobody", "password": "whatever"})

    assert response.status_code == 200
    assert tag_of(response, "login-error")


def test_password_is_stored_hashed(account: SandboxAccount) -> None:
    assert PASSWORD not in account.password
    assert account.check_password(PASSWORD)
    assert not account.check_password("wrong")


def test_logout_clears_the_cookie(signed_in: Client) -> None:
    signed_in.get("/sandbox/logout/")

    assert signed_in.get(UPLOAD).status_code == 302


# --- Upload page ----------------------------------------------------------


def test_upload_without_session_redirects_to_login(client: Client, db: None) -> None:
    page = client.get(UPLOAD)
    submission = client.post(UPLOAD, {"title": "x"})

    assert page.status_code == 302
    assert page["Location"] == "/sandbox/login/?next=/sandbox/upload/"
    assert submission.status_code == 302
    assert submission["Location"].startswith(LOGIN)
    assert not SandboxPost.objects.exists()


def test_upload_with_forged_cookie_redirects_to_login(
    client: Client, account: SandboxAccount
) -> None:
    client.cookies[COOKIE_NAME] = "alice:forged"

    assert client.get(UPLOAD).status_code == 302


def test_upload_page_has_the_form_a_robot_needs(signed_in: Client) -> None:
    response = signed_in.get(UPLOAD)

    assert response.status_code == 200
    for name in (
        "signed-in-as",
        "upload-title",
        "upload-caption",
        "upload-media",
        "upload-publish-token",
        "upload-submit",
    ):
        assert tag_of(response, name), name
    assert 'type="hidden"' in (tag_of(response, "upload-publish-token") or "")
    assert 'enctype="multipart/form-data"' in response.content.decode()


def test_upload_form_is_csrf_protected(account: SandboxAccount) -> None:
    client = Client(enforce_csrf_checks=True)
    client.cookies[COOKIE_NAME] = session_token(account=account)
    client.get(UPLOAD)
    csrf = client.cookies["csrftoken"].value

    refused = client.post(UPLOAD, {"title": "Hello"})
    accepted = client.post(UPLOAD, {"title": "Hello", "csrfmiddlewaretoken": csrf})

    assert refused.status_code == 403
    assert accepted.status_code == 303


# --- Upload submission ----------------------------------------------------


def test_happy_path_records_the_post_and_redirects_to_it(
    signed_in: Client, account: SandboxAccount
) -> None:
    content = b"\x00\x01fake video bytes" * 5000
    media = SimpleUploadedFile("clip.mp4", content, content_type="video/mp4")

    response = submit(signed_in, token="tok-happy", media=media)

    post = SandboxPost.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"/sandbox/posts/{post.pk}/"
    assert post.account == account
    assert (post.title, post.caption, post.publish_token) == ("Hello", "First post", "tok-happy")
    assert post.media_sha256 == hashlib.sha256(content).hexdigest()
    assert post.media_size == len(content)
    assert post.media_name == "clip.mp4"
    assert post.media_content_type == "video/mp4"

    page = signed_in.get(response["Location"])
    published = tag_of(page, "post-published")
    assert page.status_code == 200
    assert attribute(published, "data-post-id") == str(post.pk)
    assert attribute(published, "data-publish-token") == "tok-happy"
    assert "First post" in page.content.decode()


def test_text_post_needs_no_media(signed_in: Client) -> None:
    response = submit(signed_in)

    post = SandboxPost.objects.get()
    assert response.status_code == 303
    assert (post.media_sha256, post.media_size) == ("", 0)


def test_caption_line_breaks_from_a_browser_are_normalised(signed_in: Client) -> None:
    submit(signed_in, caption="one\r\ntwo")

    assert SandboxPost.objects.get().caption == "one\ntwo"


def test_same_token_twice_records_two_posts(signed_in: Client) -> None:
    first = submit(signed_in, token="tok-dup")
    second = submit(signed_in, token="tok-dup")

    assert (first.status_code, second.status_code) == (303, 303)
    assert sandbox_posts_by_token(handle="alice", token="tok-dup").count() == 2
    assert sandbox_post_counts_by_token() == {"tok-dup": 2}


# --- Faults ---------------------------------------------------------------


def test_rate_limit_answers_429_naming_the_wait(signed_in: Client, account: SandboxAccount) -> None:
    sandbox_account_set_faults(account=account, rate_limit_seconds=30)

    response = submit(signed_in)

    tag = tag_of(response, "rate-limited")
    assert response.status_code == 429
    assert response["Retry-After"] == "30"
    assert attribute(tag, "data-retry-after") == "30"
    assert "Slow down: try again in 30 seconds" in response.content.decode()
    assert not SandboxPost.objects.exists()


def test_fail_next_fails_that_many_submissions_then_succeeds(
    signed_in: Client, account: SandboxAccount
) -> None:
    sandbox_account_set_faults(account=account, fail_next=2)

    statuses = [submit(signed_in).status_code for _ in range(3)]

    assert statuses == [503, 503, 303]
    assert SandboxPost.objects.count() == 1
    account.refresh_from_db()
    assert account.fail_next == 0


def test_server_error_page_has_its_marker(signed_in: Client, account: SandboxAccount) -> None:
    sandbox_account_set_faults(account=account, fail_next=1)

    assert tag_of(submit(signed_in), "server-error")


def test_flaky_rate_one_always_fails(signed_in: Client, account: SandboxAccount) -> None:
    sandbox_account_set_faults(account=account, flaky_rate=1.0)

    response = submit(signed_in)

    assert response.status_code == 503
    assert tag_of(response, "server-error")
    assert not SandboxPost.objects.exists()


def test_slow_upload_still_works(signed_in: Client, account: SandboxAccount) -> None:
    sandbox_account_set_faults(account=account, slow_ms=50)

    started = time.monotonic()
    response = submit(signed_in)

    assert time.monotonic() - started >= 0.05
    assert response.status_code == 303
    assert SandboxPost.objects.count() == 1


def test_logged_out_account_gets_a_challenge_everywhere(
    signed_in: Client, account: SandboxAccount
) -> None:
    sandbox_account_set_faults(account=account, logged_out=True)

    page = signed_in.get(UPLOAD)
    submission = submit(signed_in)
    login_page = signed_in.get(LOGIN)
    login = Client().post(LOGIN, {"handle": "alice", "password": PASSWORD})

    for response in (page, submission, login_page, login):
        assert response.status_code == 401
        assert "Confirm it's you" in response.content.decode()
        assert tag_of(response, "login-challenge")
        assert "<form" not in response.content.decode()
    assert COOKIE_NAME not in login.cookies
    assert not SandboxPost.objects.exists()


def test_reject_reason_answers_422_with_the_reason(
    signed_in: Client, account: SandboxAccount
) -> None:
    sandbox_account_set_faults(account=account, reject_reason="community_guidelines")

    response = submit(signed_in)

    assert response.status_code == 422
    assert attribute(tag_of(response, "rejected"), "data-reason") == "community_guidelines"
    assert not SandboxPost.objects.exists()


def test_caption_too_long_is_rejected_naming_the_caption(
    signed_in: Client, account: SandboxAccount
) -> None:
    sandbox_account_set_faults(account=account, caption_max_length=10)

    response = submit(signed_in, caption="x" * 11)

    assert response.status_code == 422
    assert attribute(tag_of(response, "rejected"), "data-reason") == "caption_too_long"
    assert not SandboxPost.objects.exists()


def test_missing_title_is_rejected(signed_in: Client) -> None:
    response = submit(signed_in, title="")

    assert response.status_code == 422
    assert attribute(tag_of(response, "rejected"), "data-reason") == "title_required"


def test_garbage_html_answers_200_without_markers(
    signed_in: Client, account: SandboxAccount
) -> None:
    sandbox_account_set_faults(account=account, garbage_html=True)

    response = submit(signed_in)

    assert response.status_code == 200
    assert b"<" in response.content
    assert b"data-testid" not in response.content


def test_bumping_the_session_epoch_logs_every_browser_out(
    signed_in: Client, account: SandboxAccount
) -> None:
    assert signed_in.get(UPLOAD).status_code == 200

    sandbox_account_log_out_everyone(account=account)

    assert signed_in.get(UPLOAD).status_code == 302
    assert submit(signed_in).status_code == 302
    assert not SandboxPost.objects.exists()


# --- Public post lists ----------------------------------------------------


@pytest.fixture
def three_posts(signed_in: Client) -> None:
    for token in ("tok-a", "tok-b", "tok-a"):
        assert submit(signed_in, token=token).status_code == 303


def test_posts_list_filters_by_token(client: Client, three_posts: None) -> None:
    everything = client.get("/sandbox/@alice/posts/")
    only_a = client.get("/sandbox/@alice/posts/", {"token": "tok-a"})

    assert everything.content.decode().count('data-testid="post"') == 3
    assert only_a.content.decode().count('data-testid="post"') == 2
    assert 'data-publish-token="tok-b"' not in only_a.content.decode()


def test_posts_json_filters_by_token_newest_first(client: Client, three_posts: None) -> None:
    body = client.get("/sandbox/@alice/posts.json", {"token": "tok-a"}).json()

    ids = [post["id"] for post in body["posts"]]
    assert body["handle"] == "alice"
    assert body["count"] == 2
    assert ids == sorted(ids, reverse=True)
    assert set(body["posts"][0]) == {"id", "title", "publish_token", "media_sha256", "created_at"}
    assert {post["publish_token"] for post in body["posts"]} == {"tok-a"}


def test_posts_of_unknown_handle_are_404(client: Client, db: None) -> None:
    assert client.get("/sandbox/@nobody/posts/").status_code == 404
    assert client.get("/sandbox/@nobody/posts.json").status_code == 404


def test_counts_by_token_can_be_limited_to_handles(signed_in: Client, three_posts: None) -> None:
    bob = sandbox_account_create(handle="bob", password=PASSWORD)
    SandboxPost.objects.create(account=bob, title="Bob's", publish_token="tok-a")

    assert sandbox_post_counts_by_token(handles=["alice"]) == {"tok-a": 2, "tok-b": 1}
    assert sandbox_post_counts_by_token() == {"tok-a": 3, "tok-b": 1}


# --- Services -------------------------------------------------------------


def test_set_faults_rejects_an_unknown_field(account: SandboxAccount) -> None:
    with pytest.raises(ValueError, match="fail_forever"):
        sandbox_account_set_faults(account=account, fail_forever=1)


@pytest.mark.parametrize(
    ("field", "value"),
    [("flaky_rate", 1.5), ("fail_next", -1), ("logged_out", "yes"), ("slow_ms", True)],
)
def test_set_faults_rejects_an_invalid_value(
    account: SandboxAccount, field: str, value: object
) -> None:
    with pytest.raises(ValueError, match=field):
        sandbox_account_set_faults(account=account, **{field: value})


def test_account_create_is_idempotent_and_resets_the_password(db: None) -> None:
    first = sandbox_account_create(handle="carol", password="one", fail_next=1)
    again = sandbox_account_create(handle="carol", password="two")

    assert first.pk == again.pk
    assert again.fail_next == 1
    assert again.check_password("two")
    assert not again.check_password("one")


# --- Admin ----------------------------------------------------------------


def test_admin_pages_render_without_the_password_hash(
    admin_client: Client, account: SandboxAccount, three_posts: None
) -> None:
    post = SandboxPost.objects.first()
    assert post is not None
    pages = [
        "/admin/sandbox/sandboxaccount/",
        f"/admin/sandbox/sandboxaccount/{account.pk}/change/",
        "/admin/sandbox/sandboxaccount/add/",
        "/admin/sandbox/sandboxpost/?q=tok-a",
        f"/admin/sandbox/sandboxpost/{post.pk}/change/",
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert account.password not in response.content.decode(), url


def test_admin_sets_a_new_password(admin_client: Client, account: SandboxAccount) -> None:
    data = {"handle": "alice", "new_password": "brand new", **FAULT_DEFAULTS}
    data = {key: value for key, value in data.items() if value is not False}

    response = admin_client.post(f"/admin/sandbox/sandboxaccount/{account.pk}/change/", data)

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.check_password("brand new")
