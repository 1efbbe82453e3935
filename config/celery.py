import os

from celery import Celery, signals
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("farm")
# A plain dict of the CELERY_* settings, not Django's settings object: Celery
# looks up many keys per message, and a miss on Django's lazy settings costs
# an exception each time.
app.config_from_object(
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
