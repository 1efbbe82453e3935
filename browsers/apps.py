from django.apps import AppConfig


class BrowsersConfig(AppConfig):
    name = "browsers"
