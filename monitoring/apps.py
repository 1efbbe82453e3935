from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class MonitoringConfig(AppConfig):
    name = "monitoring"
    default = True

    def ready(self) -> None:
        # Imported here, not at module level: models load only once the registry is ready.
        from accounts.signals import account_login_required
        from monitoring import receivers
        from uploads import signals

        connections = (
            (account_login_required, receivers.alert_login_required),
            (signals.post_rejected, receivers.alert_post_rejected),
            (signals.post_dead, receivers.alert_post_dead),
            (signals.circuit_opened, receivers.alert_circuit_opened),
            (signals.circuit_closed, receivers.resolve_circuit_alerts),
        )
        for signal, receiver in connections:
            signal.connect(receiver, dispatch_uid=f"monitoring.{receiver.__name__}")


class FarmAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the farm's console as its site."""

    default = False
    default_site = "monitoring.sites.FarmAdminSite"
