import os

from celery import Celery
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
