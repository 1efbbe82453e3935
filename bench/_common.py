"""What every benchmark shares: a throwaway database and queue, Django set-up, the JSON line.

A bench runs on the services the environment names (DATABASE_URL,
CELERY_BROKER_URL) but never on their data:

- `throwaway_database()` creates a database of its own on the same server
  (PostgreSQL: `<prefix>_<pid>`, created from the `postgres` maintenance
  database, so the database DATABASE_URL names need not exist) or a temporary
  file under FARM_DATA_DIR (SQLite), points DATABASE_URL at it before Django
  reads its settings, and drops it on the way out;
- `throwaway_data_dir()` (optional, entered first) points FARM_DATA_DIR at a
  temporary folder, so media, browser profiles, a filesystem broker and an
  SQLite database land there, and removes the folder on the way out;
- `throwaway_queue()` names a queue of its own (`<prefix>-<pid>`) as the
  default Celery queue before Django reads its settings, so nothing a bench
  sends can reach a real worker, and deletes it with its messages on the way
  out.

Both must be entered before `django_setup()`::

    with throwaway_database("farm_bench") as db, throwaway_queue("bench-x") as queue:
        django_setup()
        queue.check_routes("uploads.tasks.publish_post")
        ...
        emit({"database": db.vendor, "peak_rss_mb": peak_rss_mb(), ...})

`emit()` prints the bench's one JSON object on stdout; everything else (logs)
goes to stderr, and `stdout_to_stderr()` sends there also what libraries and
child processes print. `machine()` (CPUs, load) and `peak_rss_mb()` describe the run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from kombu import Connection
    from kombu.transport.virtual import Channel as VirtualChannel

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "sqlite:///"  # what config.settings falls back to (a file in FARM_DATA_DIR)
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "psql"}

logger = logging.getLogger("bench")


def log_to_stderr(level: int = logging.INFO) -> None:
    """Log to stderr until Django's LOGGING (also stderr) takes over."""
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )


def data_dir() -> Path:
    """FARM_DATA_DIR as config.settings resolves it."""
    path = Path(os.environ.get("FARM_DATA_DIR", str(BASE_DIR / "var"))).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def virtual_channel(conn: Connection) -> VirtualChannel:
    """The connection's default channel, with the queue calls the bench uses.

    The farm's brokers (Redis, kombu's filesystem transport) are both kombu
    virtual transports, whose channels have queue_declare, queue_purge,
    queue_delete and basic_get; kombu types default_channel only as the
    abstract StdChannel, which has none of them.
    """
    return cast("VirtualChannel", conn.default_channel)


@dataclass(frozen=True)
class ThrowawayDatabase:
    vendor: str  # "postgresql" or "sqlite", as django.db.connection.vendor says
    name: str  # database name, or the SQLite file's path
    url: str


def _settings_loaded() -> bool:
    from django.conf import settings

    return settings.configured


def _close_django_connections() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so `finally` blocks still drop what was created."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def throwaway_database(
    prefix: str = "farm_bench", *, keep: bool = False
) -> Iterator[ThrowawayDatabase]:
    """A fresh, empty database on the configured server, dropped on exit unless `keep`.

    Sets os.environ["DATABASE_URL"] for the duration, so it must be entered
    before Django's settings are loaded. The caller migrates it
    (`django_setup()`).
    """
    if _settings_loaded():
        raise RuntimeError("throwaway_database() must be entered before Django loads settings")
    import environ

    # As config.settings does: a .env file fills in what the environment lacks.
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
    saved = os.environ.get("DATABASE_URL")
    original = saved or DEFAULT_DATABASE_URL
    scheme = urlsplit(original).scheme.split("+")[0]
    with _sigterm_unwinds():
        if scheme in POSTGRES_SCHEMES:
            factory = _postgres_database
        elif scheme == "sqlite":
            factory = _sqlite_database
        else:
            raise RuntimeError(f"benches support PostgreSQL and SQLite, not {scheme!r}")
        with factory(original, prefix, keep) as database:
            os.environ["DATABASE_URL"] = database.url
            added = _bench_environment()
            os.environ.update(added)
            try:
                yield database
            finally:
                _close_django_connections()
                for name in added:
                    os.environ.pop(name, None)
                if saved is None:
                    os.environ.pop("DATABASE_URL", None)
                else:
                    os.environ["DATABASE_URL"] = saved


def _bench_environment() -> dict[str, str]:
    """What a bench's farm needs and the environment does not set.

    Secrets of its own where none are set (its data is thrown away with the
    database; the farm generates none outside the embedded default), and the
    sandbox platform mounted, which the benches publish to.
    """
    from cryptography.fernet import Fernet

    needed = {
        "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
        "FARM_ENCRYPTION_KEYS": lambda: Fernet.generate_key().decode(),
        "FARM_SANDBOX_ENABLED": lambda: "true",
    }
    return {name: make() for name, make in needed.items() if not os.environ.get(name)}


@contextlib.contextmanager
def _postgres_database(url: str, prefix: str, keep: bool) -> Iterator[ThrowawayDatabase]:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = f"{prefix}_{os.getpid()}"
    # libpq knows postgres:// and postgresql:// only; the maintenance database always exists.
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    logger.info("created database %s", name)
    try:
        yield ThrowawayDatabase("postgresql", name, urlunsplit(parts._replace(path=f"/{name}")))
    finally:
        _close_django_connections()
        if keep:
            logger.info("kept database %s", name)
        else:
            with psycopg.connect(maintenance, autocommit=True) as conn:
                force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
                drop = sql.SQL("DROP DATABASE IF EXISTS {}" + force)
                conn.execute(drop.format(sql.Identifier(name)))
            logger.info("dropped database %s", name)


@contextlib.contextmanager
def _sqlite_database(url: str, prefix: str, keep: bool) -> Iterator[ThrowawayDatabase]:
    fd, path = tempfile.mkstemp(
        prefix=f"{prefix}-{os.getpid()}-", suffix=".sqlite3", dir=data_dir()
    )
    os.close(fd)
    logger.info("created database %s", path)
    try:
        yield ThrowawayDatabase("sqlite", path, f"sqlite:///{path}")
    finally:
        _close_django_connections()
        if keep:
            logger.info("kept database %s", path)
        else:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path + suffix)
            logger.info("removed database %s", path)


@contextlib.contextmanager
def throwaway_data_dir(prefix: str, *, keep: bool = False) -> Iterator[Path]:
    """A fresh, empty FARM_DATA_DIR, removed on exit unless `keep`.

    Enter it before `throwaway_database()`, so that an SQLite database is
    created inside it, and before Django loads settings.
    """
    if _settings_loaded():
        raise RuntimeError("throwaway_data_dir() must be entered before Django loads settings")
    saved = os.environ.get("FARM_DATA_DIR")
    with _sigterm_unwinds():
        root = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
        os.environ["FARM_DATA_DIR"] = str(root)
        logger.info("created data folder %s", root)
        try:
            yield root
        finally:
            if saved is None:
                os.environ.pop("FARM_DATA_DIR", None)
            else:
                os.environ["FARM_DATA_DIR"] = saved
            if keep:
                logger.info("kept data folder %s", root)
            else:
                shutil.rmtree(root, ignore_errors=True)
                logger.info("removed data folder %s", root)


class ThrowawayQueue:
    """The bench's own default Celery queue: inspect its depth, then delete it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def check_routes(self, *task_names: str) -> None:
        """Refuse to run unless these tasks would be sent to this queue and nowhere else."""
        from config.celery import app

        for task_name in task_names:
            queue = app.amqp.router.route({}, task_name)["queue"]
            if queue.name != self.name:
                raise RuntimeError(f"{task_name} routes to {queue.name!r}, not {self.name!r}")

    @contextlib.contextmanager
    def _channel(self) -> Iterator[VirtualChannel]:
        from config.celery import app

        with app.connection_for_write() as conn:
            channel = virtual_channel(conn)
            # Declaring binds the queue in this connection's state, which
            # queue_delete needs to find (and remove) its binding.
            app.amqp.queues[self.name](channel).declare()
            yield channel

    def depth(self) -> int:
        """Messages waiting in the queue, as the broker counts them."""
        with self._channel() as channel:
            return int(channel.queue_declare(queue=self.name).message_count)

    def take(self) -> dict[str, Any] | None:
        """Remove one message from the queue and return it decoded, or None if it is empty."""
        from config.celery import app

        with app.connection_for_write() as conn:
            message = virtual_channel(conn).basic_get(self.name, no_ack=True)
            if message is None:
                return None
            return {
                "headers": dict(message.headers),
                "properties": dict(message.properties),
                "body": message.decode(),
            }

    def purge(self) -> int:
        with self._channel() as channel:
            return int(channel.queue_purge(self.name) or 0)

    def delete(self) -> int:
        """Drop the queue, its messages and its binding; returns how many messages it held."""
        from config.celery import app

        with app.connection_for_write() as conn:
            channel = virtual_channel(conn)
            # Declaring binds the queue in this connection's state, which
            # queue_delete needs to find (and remove) its binding.
            app.amqp.queues[self.name](channel).declare()
            dropped = int(channel.queue_purge(self.name) or 0)
            channel.queue_delete(self.name)
            exchange = app.amqp.queues[self.name].exchange.name
            if conn.transport.driver_type == "filesystem" and exchange == self.name:
                # The filesystem transport keeps one routing table file per
                # exchange; this one was the bench's own.
                options = conn.transport_options or {}
                folder = Path(options.get("control_folder", "control"))
                with contextlib.suppress(FileNotFoundError):
                    (folder / f"{exchange}.exchange").unlink()
        return dropped


@contextlib.contextmanager
def throwaway_queue(prefix: str) -> Iterator[ThrowawayQueue]:
    """Make `<prefix>-<pid>` the default Celery queue; delete it (and its messages) on exit."""
    if _settings_loaded():
        raise RuntimeError("throwaway_queue() must be entered before Django loads settings")
    queue = ThrowawayQueue(f"{prefix}-{os.getpid()}")
    original = os.environ.get("CELERY_TASK_DEFAULT_QUEUE")
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = queue.name
    try:
        yield queue
    finally:
        if original is None:
            os.environ.pop("CELERY_TASK_DEFAULT_QUEUE", None)
        else:
            os.environ["CELERY_TASK_DEFAULT_QUEUE"] = original
        if _settings_loaded():
            try:
                dropped = queue.delete()
            except Exception:
                logger.exception("could not delete queue %s", queue.name)
            else:
                logger.info("deleted queue %s (%d messages left in it)", queue.name, dropped)


def django_setup(*, migrate: bool = True) -> None:
    """Load settings and apps, and migrate the (throwaway) database."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)


def machine() -> dict[str, Any]:
    """What else the numbers depend on: CPUs and how busy they are (1-minute load)."""
    return {"cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2)}


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Point fd 1 at stderr meanwhile, so that what libraries and child processes
    print cannot mix with the JSON that `emit()` prints afterwards."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def emit(result: Mapping[str, Any]) -> None:
    """Print the bench's result: one JSON object, one line, on stdout."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
