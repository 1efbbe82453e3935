"""browsers' answers to what lower apps announce."""

from __future__ import annotations

from typing import Any

from accounts.models import Account
from browsers.services import profile_create


def give_new_account_a_profile(*, account: Account, **_: Any) -> None:
    profile_create(account=account)
