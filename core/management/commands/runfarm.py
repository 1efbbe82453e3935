from __future__ import annotations

import os
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from core.processes import FarmProcesses, free_port


class Command(BaseCommand):
    help = "Run the console and API, a Celery worker and beat on this machine until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args: Any, port: int, concurrency: int, **options: Any) -> None:
        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)
        port = free_port(port)
        base_url = f"http://127.0.0.1:{port}"
        farm = FarmProcesses(
            # The sandbox is served by this same web process unless pointed elsewhere.
            env={"SANDBOX_BASE_URL": os.environ.get("SANDBOX_BASE_URL", base_url)},
            log_dir=settings.DATA_DIR / "logs",
        )
        farm.start_web(port, quiet=False)
        farm.start_worker(concurrency, quiet=False)
        farm.start_beat(quiet=False)
        self.stdout.write(f"Console: {base_url}/admin/   API docs: {base_url}/api/docs/")
        if not get_user_model().objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "No console login yet: `make demo` makes one, or run `manage.py createsuperuser`."
            )
        try:
            while not farm.dead():
                time.sleep(1)
            self.stderr.write(f"{', '.join(farm.dead())} stopped; stopping the rest.")
        except KeyboardInterrupt:
            pass
        finally:
            farm.stop()
