from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, QuerySet

from sandbox.models import SandboxAccount, SandboxPost


def sandbox_account_get(*, handle: str) -> SandboxAccount | None:
    return SandboxAccount.objects.filter(handle=handle).first()


def sandbox_account_posts(
    *, account: SandboxAccount, token: str | None = None
) -> QuerySet[SandboxPost]:
    """The account's posts, newest first, optionally only those with this exact token."""
    posts = SandboxPost.objects.filter(account=account)
    if token is not None:
        posts = posts.filter(publish_token=token)
    return posts.order_by("-created_at", "-id")


def sandbox_posts_by_token(*, handle: str, token: str) -> QuerySet[SandboxPost]:
    """Every post that arrived for the handle with this publish token, duplicates included."""
    return SandboxPost.objects.filter(account__handle=handle, publish_token=token).order_by(
        "-created_at", "-id"
    )


def sandbox_post_counts_by_token(*, handles: Iterable[str] | None = None) -> dict[str, int]:
    """How many times each publish token arrived, over the given handles (default: all).

    Posts without a token were not sent by the farm and are left out.
    """
    posts = SandboxPost.objects.exclude(publish_token="")
    if handles is not None:
        posts = posts.filter(account__handle__in=list(handles))
    rows = posts.values("publish_token").annotate(n=Count("id")).order_by()
    return {row["publish_token"]: row["n"] for row in rows}
