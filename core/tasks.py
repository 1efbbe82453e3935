"""Finding a Celery task by its registered name.

Services send messages to tasks that live above them (a task imports its
service, so the service may not import the task). They look the task up by
name in Celery's registry; outside a worker, where the task modules are not
imported yet, Celery's own discovery imports them first, as a worker does
when it starts.
"""

from __future__ import annotations

from celery import Task, current_app


def registered_task(name: str) -> Task:
    app = current_app
    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name]
