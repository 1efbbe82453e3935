"""Who may see and change which workspace: roles, and the workspaces of a caller.

A workspace is the farm's tenant. Its model is named by the setting
`FARM_WORKSPACE_MODEL` (as Django names its user model), and a user's
memberships are reached through `user.memberships`, so everything here
works for every app without core importing any of them.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    OPERATOR = "operator", "Operator"
    VIEWER = "viewer", "Viewer"


# Every role may read its workspace; owners and operators may change things in
# it; only owners manage its members and settings.
READ_ROLES = (Role.OWNER, Role.OPERATOR, Role.VIEWER)
WRITE_ROLES = (Role.OWNER, Role.OPERATOR)
OWNER_ROLES = (Role.OWNER,)


def workspace_model() -> type[models.Model]:
    return apps.get_model(settings.FARM_WORKSPACE_MODEL)


def workspace_roles(*, user: Any) -> dict[int, str]:
    """The user's role in each workspace they belong to, by workspace id."""
    if not user.is_authenticated:
        return {}
    return dict(user.memberships.values_list("workspace_id", "role"))


def member_workspace_ids(*, user: Any) -> list[int] | None:
    """The workspaces a console user may see; None means all of them (superusers)."""
    if getattr(user, "is_superuser", False):
        return None
    return list(workspace_roles(user=user))


def all_workspace_ids_or(workspace_ids: list[int] | None) -> list[int]:
    """`workspace_ids`, or every workspace's id for None (a superuser)."""
    if workspace_ids is not None:
        return workspace_ids
    return list(workspace_model()._default_manager.values_list("pk", flat=True))
