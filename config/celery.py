import os

from celery import Celery, signals
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("farm")


@app.on_configure.connect
def _read_django_settings(sender: Celery, **_: object) -> None:
    """A plain dict of the CELERY_* settings, not Django's settings object: Celery
    looks up many keys per message, and a miss on Django's lazy settings costs
    an exception each time.

    Read when Celery first needs its configuration rather than when this module
    is imported: it is imported (by config/__init__.py) while Django is still
    importing a settings module that builds on config.settings, such as the
    tests' own.
    """
    sender.config_from_object(
        {name: getattr(settings, name) for name in dir(settings) if name.startswith("CELERY_")},
        namespace="CELERY",
    )


app.autodiscover_tasks()


@signals.import_modules.connect
def _connect_worker_signals(**_: object) -> None:
    """A worker's lease and shutdown handling (uploads/worker.py).

    Sent when a worker imports its task modules: after Django's setup (Celery's
    Django fixup runs first) and before `worker_init`. The import waits for it
    because this module loads with the settings, before any app's models can.
    """
    from uploads.worker import worker_signals_connect

    worker_signals_connect()
