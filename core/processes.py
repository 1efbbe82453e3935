"""Starting the farm's processes (web, worker, beat) from one command.

Used by `manage.py runfarm`, `manage.py demo`, the benches, and the
end-to-end and reliability tests. In production each runs under its own
supervisor (see compose.yaml); this is for one machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

PROJECT_ROOT = Path(settings.BASE_DIR)
CELERY_WORKER_FLAGS = ("--without-mingle", "--without-gossip", "--without-heartbeat")


def free_port(preferred: int) -> int:
    """The preferred port on 127.0.0.1 if it is free, else any free one."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port on 127.0.0.1")


@dataclass
class FarmProcesses:
    """The farm's processes on this machine, each in its own process group.

    `env` is added to this process's environment for every process; `start_*`
    take more for one process (`env=`). A second process of a kind gets a
    numbered name (worker-2), its output in `log_dir/<name>.log` when quiet.
    """

    env: Mapping[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        quiet: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        name = self._free_name(name)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        output = (self.log_dir / f"{name}.log").open("wb") if quiet else None
        self.procs[name] = subprocess.Popen(  # our own interpreter and arguments
            argv,
            cwd=PROJECT_ROOT,
            env={**os.environ, **self.env, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT if quiet else None,
            start_new_session=True,
        )
        return self.procs[name]

    def _free_name(self, name: str) -> str:
        n, free = 1, name
        while free in self.procs:
            n += 1
            free = f"{name}-{n}"
        return free

    def start_web(
        self, port: int, *, quiet: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        return self.start(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
            ],
            quiet=quiet,
            env=env,
        )

    def start_worker(
        self, concurrency: int = 2, *, quiet: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        return self.start(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-l",
                "INFO",
                "-c",
                str(concurrency),
                *CELERY_WORKER_FLAGS,
            ],
            quiet=quiet,
            env=env,
        )

    def start_beat(
        self, *, quiet: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        return self.start(
            "beat",
            [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "INFO"],
            quiet=quiet,
            env=env,
        )

    def wait_for_http(self, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with suppress(OSError), urllib.request.urlopen(url, timeout=2):
                return
            # A process that has exited will not start answering: say so now.
            if dead := self.dead():
                raise RuntimeError(
                    f"{', '.join(dead)} exited before {url} answered; see {self.log_dir}"
                )
            time.sleep(0.3)
        raise RuntimeError(f"{url} did not answer within {timeout:.0f}s; see {self.log_dir}")

    def logs(self, tail: int = 4000) -> str:
        """The last characters each quiet process wrote, for a report of what went wrong."""
        parts = []
        for name in self.procs:
            log = self.log_dir / f"{name}.log"
            if log.exists():
                parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def stop(self, grace: float = 20) -> None:
        # SIGTERM first: workers finish or give back their post and close their browsers.
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
