"""The console: Django's admin site with the queue summary on its index."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.tenancy import member_workspace_ids
from monitoring.selectors import dashboard_summary
from uploads.models import PostStatus
from uploads.selectors import circuits_not_closed


class FarmAdminSite(admin.AdminSite):
    site_header = "Farm console"
    site_title = "Farm console"
    index_title = "Queue, accounts and alerts"

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
