from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class MonitoringConfig(AppConfig):
    name = "monitoring"
    default = True


class FarmAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the farm's console as its site."""

    default = False
    default_site = "monitoring.sites.FarmAdminSite"
