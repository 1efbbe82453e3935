from django.apps import AppConfig


class BrowsersConfig(AppConfig):
    name = "browsers"

    def ready(self) -> None:
        from accounts.signals import account_created
        from browsers.receivers import give_new_account_a_profile

        # Importing models at module level would run before the app registry is ready.
        account_created.connect(give_new_account_a_profile, dispatch_uid="browsers.new_profile")
