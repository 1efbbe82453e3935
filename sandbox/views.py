from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from core.throttling import lockout_response, login_allowed, login_failed, login_succeeded
from sandbox.forms import LoginForm, UploadForm
from sandbox.models import SandboxAccount, SandboxPost
from sandbox.selectors import sandbox_account_get, sandbox_account_posts
from sandbox.services import sandbox_account_take_failure, sandbox_post_create
from sandbox.sessions import session_end, session_from_request, session_start

SessionView = Callable[..., HttpResponse]


def session_required(view: SessionView) -> SessionView:
    """Pass the signed-in account to the view, or send the browser to the login page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        account = session_from_request(request)
        if account is None:
            query = urlencode({"next": request.get_full_path()}, safe="/")
            return redirect(f"{reverse('sandbox:login')}?{query}")
        return view(request, account, *args, **kwargs)

    return wrapped


def _safe_next(url: str | None) -> str:
    # Only relative paths inside the sandbox: never an open redirect.
    if (
        url
        and url.startswith("/sandbox/")
        and "\\" not in url
        and url_has_allowed_host_and_scheme(url, allowed_hosts=set())
    ):
        return url
    return reverse("sandbox:upload")


def _challenge(request: HttpRequest) -> HttpResponse:
    return render(request, "sandbox/challenge.html", status=401)


def _problem(request: HttpRequest, template: str, status: int, **context: Any) -> HttpResponse:
    return render(request, f"sandbox/{template}", context, status=status)


def _garbage_html() -> str:
    tags = ["div", "span", "p", "section", "b", "i", "em", "aside"]
    parts = [
        f'<{tag} class="{secrets.token_hex(3)}">{secrets.token_urlsafe(random.randint(3, 12))}'
        f"</{tag}>"
        for tag in random.choices(tags, k=random.randint(20, 60))
    ]
    return "<!doctype html><html><body>" + "".join(parts) + "</body></html>"


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "sandbox/index.html", {"account": session_from_request(request)})


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.method == "GET":
        current = session_from_request(request)
        if current is not None and current.logged_out:
            return _challenge(request)

    form = LoginForm(request.POST or None)
    error = False
    if request.method == "POST":
        # Failed sign-ins are counted per address and handle, apart from the console's.
        username = f"sandbox:{str(request.POST.get('handle', ''))[:100]}"
        if not login_allowed(request, username=username):
            return lockout_response(request)
        account = None
        if form.is_valid():
            candidate = sandbox_account_get(handle=form.cleaned_data["handle"])
            if candidate is not None and candidate.check_password(form.cleaned_data["password"]):
                account = candidate
        if account is None:
            error = True
            if login_failed(request, username=username, sender=login):
                return lockout_response(request)
        elif account.logged_out:
            login_succeeded(request, username=username)
            return _challenge(request)
        else:
            login_succeeded(request, username=username)
            response = redirect(_safe_next(next_url))
            session_start(response, request=request, account=account)
            return response

    return render(
        request,
        "sandbox/login.html",
        {"form": form, "error": error, "next": next_url},
    )


@require_GET
def logout(request: HttpRequest) -> HttpResponse:
    response = redirect("sandbox:login")
    session_end(response)
    return response


def _wait_while_slow(account: SandboxAccount) -> None:
    """Hold an upload for the account's `slow_ms`, re-read as it waits.

    Switching the fault off (or changing it) applies to uploads already waiting,
    as a platform's backlog clearing would, so a test can choose the moment the
    upload goes through instead of racing a timer.
    """
    started = time.monotonic()
    while (remaining := account.slow_ms / 1000 - (time.monotonic() - started)) > 0:
        time.sleep(min(remaining, 0.2))
        account.refresh_from_db(fields=["slow_ms"])


@require_http_methods(["GET", "POST"])
@session_required
def upload(request: HttpRequest, account: SandboxAccount) -> HttpResponse:
    if request.method == "GET":
        if account.logged_out:
            return _challenge(request)
        return render(request, "sandbox/upload.html", {"account": account})

    # The faults apply in a fixed order so a test can tell which one fired.
    _wait_while_slow(account)
    if account.logged_out:
        return _challenge(request)
    if account.rate_limit_seconds:
        response = _problem(
            request, "rate_limited.html", 429, retry_after=account.rate_limit_seconds
        )
        response["Retry-After"] = str(account.rate_limit_seconds)
        return response
    if sandbox_account_take_failure(account=account):
        return _problem(request, "server_error.html", 503)
    if account.garbage_html:
        return HttpResponse(_garbage_html())

    form = UploadForm(request.POST, request.FILES, caption_max_length=account.caption_max_length)
    if not form.is_valid():
        reason, message = form.rejection()
        return _problem(request, "rejected.html", 422, reason=reason, message=message)
    if account.reject_reason:
        return _problem(
            request,
            "rejected.html",
            422,
            reason=account.reject_reason,
            message=account.reject_reason,
        )

    post = sandbox_post_create(
        account=account,
        title=form.cleaned_data["title"],
        caption=form.cleaned_data["caption"],
        publish_token=form.cleaned_data["publish_token"],
        media=form.cleaned_data["media"],
    )
    if account.answer_delay_ms:
        time.sleep(account.answer_delay_ms / 1000)
    # 303: the browser follows with a GET, so a reload cannot resubmit the form.
    response = HttpResponseRedirect(reverse("sandbox:post_detail", args=[post.pk]))
    response.status_code = 303
    return response


@require_GET
def post_detail(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_object_or_404(SandboxPost.objects.select_related("account"), pk=post_id)
    return render(request, "sandbox/post_detail.html", {"post": post})


@require_GET
def account_posts(request: HttpRequest, handle: str) -> HttpResponse:
    account = get_object_or_404(SandboxAccount, handle=handle)
    token = request.GET.get("token")
    posts = sandbox_account_posts(account=account, token=token)
    return render(
        request,
        "sandbox/account_posts.html",
        {"account": account, "posts": posts, "token": token},
    )


@require_GET
def account_posts_json(request: HttpRequest, handle: str) -> JsonResponse:
    account = sandbox_account_get(handle=handle)
    if account is None:
        return JsonResponse({"detail": f"No sandbox account @{handle}."}, status=404)
    posts = sandbox_account_posts(account=account, token=request.GET.get("token"))
    items = [
        {
            "id": post.pk,
            "title": post.title,
            "publish_token": post.publish_token,
            "media_sha256": post.media_sha256,
            "created_at": post.created_at.isoformat(),
        }
        for post in posts
    ]
    return JsonResponse({"handle": account.handle, "count": len(items), "posts": items})
