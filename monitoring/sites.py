"""The console: Django's admin site with the queue summary on its index.

Every page registered here is either scoped to the caller's workspaces (a
`core.admin.WorkspaceScopedAdmin`, or an admin that says it scopes itself with
`scoped_to_caller`) or for superusers only: `register` makes it so for any
other admin, Django's and other packages' included (users and groups, API
tokens, django-celery-beat's periodic tasks), so a page added later is never
shown to tenants by accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.console import farm_wide
from core.tenancy import member_workspace_ids
from monitoring.selectors import dashboard_summary
from uploads.models import PostStatus
from uploads.selectors import circuits_not_closed


class FarmAdminSite(admin.AdminSite):
    site_header = "Farm console"
    site_title = "Farm console"
    index_title = "Queue, accounts and alerts"

    def register(
        self,
        model_or_iterable: type[Model] | Iterable[type[Model]],
        admin_class: type[admin.ModelAdmin] | None = None,
        **options: Any,
    ) -> None:
        admin_class = admin_class or admin.ModelAdmin
        if not getattr(admin_class, "scoped_to_caller", False):
            admin_class = farm_wide(admin_class)
        super().register(model_or_iterable, admin_class, **options)

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        summary = dashboard_summary(workspace_ids=member_workspace_ids(user=request.user))
        context = {
            "farm_summary": summary,
            "farm_queue": [
                (status, label, summary["by_status"][status])
                for status, label in PostStatus.choices
            ],
            "farm_circuits": circuits_not_closed(),
        }
        return super().index(request, extra_context={**context, **(extra_context or {})})
