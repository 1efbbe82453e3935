from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from browsers.models import BrowserProfile


def profile_create(*, account: Account, **fields: object) -> BrowserProfile:
    profile, _ = BrowserProfile.objects.get_or_create(account=account, defaults=fields)
    return profile


def profile_lease_acquire(*, profile_id: int, holder: str, seconds: int | None = None) -> bool:
    """Take (or renew) a profile's lease; False if another live holder has it.

    One conditional UPDATE: free, expired, or already ours.
    """
    now = timezone.now()
    ttl = seconds or settings.FARM_PROFILE_LEASE_SECONDS
    return (
        BrowserProfile.objects.filter(pk=profile_id)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_holder=holder))
        .update(lease_holder=holder, lease_until=now + timedelta(seconds=ttl))
        == 1
    )


def profile_leases_renew(*, profile_ids: list[int], holder: str) -> int:
    """Push back the expiry of the leases `holder` still has; a lost lease stays lost."""
    if not profile_ids:
        return 0
    until = timezone.now() + timedelta(seconds=settings.FARM_PROFILE_LEASE_SECONDS)
    return BrowserProfile.objects.filter(pk__in=profile_ids, lease_holder=holder).update(
        lease_until=until
    )


def profile_lease_release(*, profile_id: int, holder: str) -> bool:
    return (
        BrowserProfile.objects.filter(pk=profile_id, lease_holder=holder).update(
            lease_holder="", lease_until=None
        )
        == 1
    )


def profile_leases_release_all(*, holder: str) -> int:
    return BrowserProfile.objects.filter(lease_holder=holder).update(
        lease_holder="", lease_until=None
    )
