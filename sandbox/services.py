from __future__ import annotations

import hashlib
import random
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import validate_slug
from django.db import transaction
from django.db.models import F

from sandbox.models import SandboxAccount, SandboxPost

# Every fault switch with its "off" value.
FAULT_DEFAULTS: dict[str, Any] = {
    "rate_limit_seconds": 0,
    "fail_next": 0,
    "flaky_rate": 0.0,
    "slow_ms": 0,
    "answer_delay_ms": 0,
    "logged_out": False,
    "reject_reason": "",
    "garbage_html": False,
    "caption_max_length": 2200,
}

_COUNT_FAULTS = {
    "rate_limit_seconds",
    "fail_next",
    "slow_ms",
    "answer_delay_ms",
    "caption_max_length",
}
_FLAG_FAULTS = {"logged_out", "garbage_html"}


def _validated_faults(faults: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(faults) - set(FAULT_DEFAULTS))
    if unknown:
        raise ValueError(
            f"Unknown sandbox fault {', '.join(unknown)}; "
            f"known faults are {', '.join(FAULT_DEFAULTS)}."
        )
    for name, value in faults.items():
        if name in _COUNT_FAULTS:
            # bool is an int subclass; True as a count is almost surely a mistake.
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number of 0 or more, not {value!r}.")
        elif name in _FLAG_FAULTS:
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, not {value!r}.")
        elif name == "flaky_rate":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"flaky_rate must be a number from 0 to 1, not {value!r}.")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"flaky_rate must be from 0 to 1, not {value!r}.")
        elif name == "reject_reason":
            max_length = SandboxAccount._meta.get_field("reject_reason").max_length
            assert max_length is not None  # a CharField always has one
            if not isinstance(value, str) or len(value) > max_length:
                raise ValueError(
                    f"reject_reason must be text of at most {max_length} characters, not {value!r}."
                )
    return faults


def sandbox_account_create(*, handle: str, password: str, **faults: Any) -> SandboxAccount:
    """Create the account, or reset the password and faults of an existing one.

    Faults not given keep their current value (their default for a new account).
    """
    try:
        validate_slug(handle)
    except ValidationError:
        raise ValueError(f"handle must be letters, digits, - or _, not {handle!r}.") from None
    _validated_faults(faults)
    with transaction.atomic():
        account, _ = SandboxAccount.objects.update_or_create(handle=handle, defaults=faults)
        account.set_password(password)
        account.save(update_fields=["password"])
    return account


def sandbox_account_set_faults(*, account: SandboxAccount, **faults: Any) -> SandboxAccount:
    _validated_faults(faults)
    for name, value in faults.items():
        setattr(account, name, value)
    if faults:
        account.save(update_fields=list(faults))
    return account


def sandbox_account_clear_faults(*, account: SandboxAccount) -> SandboxAccount:
    return sandbox_account_set_faults(account=account, **FAULT_DEFAULTS)


def sandbox_account_log_out_everyone(*, account: SandboxAccount) -> SandboxAccount:
    SandboxAccount.objects.filter(pk=account.pk).update(session_epoch=F("session_epoch") + 1)
    account.refresh_from_db(fields=["session_epoch"])
    return account


def sandbox_account_take_failure(*, account: SandboxAccount) -> bool:
    """Whether this upload should fail with a server error.

    fail_next is decremented with a conditional UPDATE so concurrent uploads
    never consume more failures than were set.
    """
    consumed = SandboxAccount.objects.filter(pk=account.pk, fail_next__gt=0).update(
        fail_next=F("fail_next") - 1
    )
    if consumed:
        return True
    return random.random() < account.flaky_rate


def sandbox_post_create(
    *,
    account: SandboxAccount,
    title: str,
    caption: str = "",
    publish_token: str = "",
    media: File | None = None,
) -> SandboxPost:
    """Record a post. The media is hashed while streamed and then dropped."""
    media_fields: dict[str, Any] = {}
    if media is not None:
        digest = hashlib.sha256()
        size = 0
        for chunk in media.chunks():
            digest.update(chunk)
            size += len(chunk)
        media_fields = {
            "media_name": (media.name or "")[:255],
            "media_size": size,
            "media_sha256": digest.hexdigest(),
            "media_content_type": (getattr(media, "content_type", None) or "")[:100],
        }
    return SandboxPost.objects.create(
        account=account,
        title=title,
        caption=caption,
        publish_token=publish_token,
        **media_fields,
    )
