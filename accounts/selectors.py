"""Reads on workspaces, memberships and accounts, always scoped to a caller's workspaces."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema_field

from accounts.models import Account, ApiToken, Platform, Workspace
from accounts.services import api_key_hash

# An account with this many failures in a row needs an operator's eye.
ATTENTION_FAILURES = 3


def api_token_get(*, key: str) -> ApiToken | None:
    """The token a key belongs to, with its person."""
    return ApiToken.objects.select_related("user").filter(key_hash=api_key_hash(key)).first()


def workspace_get(*, workspace_id: int) -> Workspace | None:
    return Workspace.objects.filter(pk=workspace_id).first()


def account_list(*, workspace_ids: list[int]) -> QuerySet[Account]:
    """The accounts of these workspaces; secrets are never loaded."""
    return Account.objects.filter(workspace_id__in=workspace_ids).defer("credentials", "cookies")


def account_get(*, account_id: int, workspace_ids: list[int]) -> Account | None:
    return account_list(workspace_ids=workspace_ids).filter(pk=account_id).first()


def accounts_needing_attention(*, workspace_ids: list[int]) -> QuerySet[Account]:
    """Accounts an operator should look at: logged out, paused, or failing again and again."""
    return account_list(workspace_ids=workspace_ids).filter(
        Q(state__in=[Account.State.NEEDS_LOGIN, Account.State.PAUSED])
        | Q(consecutive_failures__gte=ATTENTION_FAILURES)
    )


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 2**63 - 1})
class IdFilter(django_filters.Filter):
    """Matches one primary key; unlike NumberFilter it takes whole numbers only.

    An id of no object the caller may see simply matches nothing.
    """

    field_class = forms.IntegerField

    def __init__(self, *args: object, **kwargs: object) -> None:
        # A number past a 64-bit key is a 400, not an overflow in the database driver.
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class AccountFilter(django_filters.FilterSet):
    workspace = IdFilter(field_name="workspace_id")
    platform = django_filters.ChoiceFilter(choices=Platform.choices)
    state = django_filters.MultipleChoiceFilter(choices=Account.State.choices)

    class Meta:
        model = Account
        fields = ["workspace", "platform", "state"]
