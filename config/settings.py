"""One settings module: every knob comes from the environment.

With DJANGO_DEBUG on and nothing else set, the farm runs on its embedded
default: SQLite and kombu's filesystem broker under FARM_DATA_DIR, its
secrets generated there, which needs nothing but Python and Chromium (`make
demo` and `make serve` run it so). Point DATABASE_URL at PostgreSQL and
CELERY_BROKER_URL at Redis to run on real services, with the secrets set.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = Path(env.str("FARM_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# --- Secrets ----------------------------------------------------------------
# Only the embedded default on a developer's machine (DJANGO_DEBUG on, no
# DATABASE_URL) generates its secrets into the data folder. Anywhere else a
# missing secret stops the farm at start-up, naming the variable to set.
EMBEDDED_SECRETS = DEBUG and not env.str("DATABASE_URL", default="")


def _persisted_secret(filename: str, make: Callable[[], str]) -> str:
    """A secret kept in the data folder, made by the first process that needs it.

    It is written to a private temporary file (mode 0600) and linked into
    place, which fails if the name exists: a file under that name is always
    whole, and processes starting together all read the first one's secret.
    """
    path = DATA_DIR / filename
    if not path.exists():
        fd, temporary = tempfile.mkstemp(prefix=f".{filename}.", dir=DATA_DIR)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(make())
                out.flush()
                os.fsync(out.fileno())
            # Fails if another process was first: its secret is the one.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def _required_secret(variable: str, filename: str, make: Callable[[], str]) -> str:
    value = env.str(variable, default="")
    if value:
        return value
    if not EMBEDDED_SECRETS:
        raise ImproperlyConfigured(
            f"{variable} is not set. Set it in the environment (or .env): a secret is "
            "generated into the data folder only for the embedded default on one "
            "machine, with DJANGO_DEBUG on and no DATABASE_URL."
        )
    return _persisted_secret(filename, make)


def _new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


SECRET_KEY = _required_secret(
    "DJANGO_SECRET_KEY", "django-secret-key", lambda: secrets.token_urlsafe(50)
)
# Credentials and cookies are encrypted with these Fernet keys. The first one
# encrypts; all of them decrypt, so a new key can be put first and
# `manage.py rotate_keys` re-encrypts everything under it.
FARM_ENCRYPTION_KEYS = env.list("FARM_ENCRYPTION_KEYS", default=[]) or [
    _required_secret("FARM_ENCRYPTION_KEYS", "encryption-key", _new_fernet_key)
]

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "monitoring.apps.FarmAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by the farm itself
    "django_celery_beat",
    "axes",
    "core",
    "accounts",
    "browsers",
    "uploads",
    "sandbox",
    "monitoring",
    "capture",
    "training",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # First among the rest: an oversized API body is refused before anything reads it.
    "config.middleware.ApiRequestSizeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: answers 429 once a sign-in has used up its failures (core/throttling.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'farm.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, workers and beat write at once: WAL lets readers run beside the
    # writer, IMMEDIATE takes the write lock up front (no upgrade deadlocks)
    # and the timeout makes writers queue instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=30),
    }
    # Tests run workers in other processes, so the test database must be a file.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-farm.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The tenant model, named as AUTH_USER_MODEL names the user: core scopes by it
# without importing the app that defines it.
FARM_WORKSPACE_MODEL = "accounts.Workspace"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("FARM_MEDIA_ROOT", default=str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads: media is validated before a post is saved.
FARM_MAX_MEDIA_BYTES = env.int("FARM_MAX_MEDIA_BYTES", default=256 * 1024 * 1024)
# A JSON body, and the fields of a form other than its files, may be this large.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=20 * 1024 * 1024)
# The hard cap on a multipart API request: a media file at its limit and room for the
# other fields. Above it the API answers 413 before reading the body
# (config/middleware.py); a file within it but over the media limit is a 400 on `media`.
FARM_MAX_REQUEST_BYTES = env.int(
    "FARM_MAX_REQUEST_BYTES", default=FARM_MAX_MEDIA_BYTES + 1024 * 1024
)
# Uploaded files larger than this are spooled to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# --- Production defaults: HTTPS ---------------------------------------------
# With DEBUG off the session and CSRF cookies go over HTTPS only, and browsers
# are told to use HTTPS alone for a year (Strict-Transport-Security, sent on
# HTTPS answers only). Behind a proxy that ends TLS, name the header by which it
# says so: DJANGO_SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https.
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
_proxy_ssl_header = env.list("DJANGO_SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header:
    if len(_proxy_ssl_header) != 2:
        raise ImproperlyConfigured(
            "DJANGO_SECURE_PROXY_SSL_HEADER is a header and its value, e.g. "
            "HTTP_X_FORWARDED_PROTO,https."
        )
    SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header[0], _proxy_ssl_header[1])

# --- Production defaults: throttles and failed sign-ins --------------------
# API rates per caller and per address without credentials (DRF's
# "N/second|minute|hour|day"), and failed sign-ins per (address, user name) to
# the console and the sandbox; see core/throttling.py. The API's counts live in
# the cache: files in the data folder, shared by this host's processes, unless
# FARM_CACHE_URL names another (e.g. redis://host:6379/1, a Redis database of its
# own: clearing a cache empties its whole database, the broker's queues too).
FARM_API_THROTTLE_CALLER = env.str("FARM_API_THROTTLE_CALLER", default="1200/minute")
FARM_API_THROTTLE_ANON = env.str("FARM_API_THROTTLE_ANON", default="120/minute")
# How many proxies in front of the farm append to X-Forwarded-For; 0 trusts none of it.
FARM_TRUSTED_PROXIES = env.int("FARM_TRUSTED_PROXIES", default=0)
CACHES = {"default": env.cache_url("FARM_CACHE_URL", default=f"filecache://{DATA_DIR / 'cache'}")}
FARM_LOGIN_FAILURE_LIMIT = env.int("FARM_LOGIN_FAILURE_LIMIT", default=5)
FARM_LOGIN_COOLOFF_MINUTES = env.int("FARM_LOGIN_COOLOFF_MINUTES", default=15)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = FARM_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=FARM_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.throttling.client_ip"
AXES_LOCKOUT_CALLABLE = "core.throttling.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # count failures; do not keep a row per sign-in
AXES_ENABLE_ADMIN = False

# --- REST API -------------------------------------------------------------
FARM_API_MAX_PAGE_SIZE = env.int("FARM_API_MAX_PAGE_SIZE", default=500)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # `Authorization: Token <key>`, the key stored hashed (accounts.ApiToken).
        "accounts.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # django-filter's, refusing a filter given without a value (core/filters.py).
    "DEFAULT_FILTER_BACKENDS": ["core.filters.FarmFilterBackend"],
    # At most FARM_API_MAX_PAGE_SIZE rows a page, whatever `limit` asks (core/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "core.pagination.FarmPagination",
    "PAGE_SIZE": 100,
    # Rates from FARM_API_THROTTLE_CALLER and FARM_API_THROTTLE_ANON.
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.AnonymousRateThrottle",
        "core.throttling.CallerRateThrottle",
    ],
    "NUM_PROXIES": FARM_TRUSTED_PROXIES,
    # drf-spectacular's, with the error answers every endpoint can give (core/schema.py).
    "DEFAULT_SCHEMA_CLASS": "core.schema.FarmAutoSchema",
    # Services raise the project's errors (core.errors); one handler answers them.
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Farm API",
    "DESCRIPTION": "Queue posts, manage accounts and watch the queue of the publishing farm.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get components of their own, so a file is a file (`format: binary`)
    # where it is sent, and read-only fields stay out of what a client sends.
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema and the docs are for signed-in people (a token or the console's
    # session); Swagger UI comes from the farm's static files, never a CDN.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # drf-spectacular's enum names, then form bodies as DRF reads them (core/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.form_bodies_hook",
    ],
    # Several models have a `kind`: each choice set gets a name of its own.
    "ENUM_NAME_OVERRIDES": {
        "PostKindEnum": "uploads.models.Post.Kind",
        "SessionKindEnum": "capture.models.CapturedSession.Kind",
        "InteractionKindEnum": "capture.models.Interaction.Kind",
        "ExportFormatEnum": "training.models.ExportFormat",
    },
}

# --- Celery ---------------------------------------------------------------
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        # Exchange bindings, which default to ./control in whatever folder a process starts in.
        "control_folder": str(BROKER_DIR / "control"),
        "polling_interval": 0.2,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="farm")
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# Timing lives in the database; a message only says "do this now". Late acks
# and a prefetch of one mean a killed worker's message goes back to the queue.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The database scheduler, behind a farm-wide lock: a second beat started by
# mistake waits instead of sending every periodic task twice.
CELERY_BEAT_SCHEDULER = "core.beat:SingleBeatScheduler"
FARM_BEAT_LOCK_SECONDS = env.int("FARM_BEAT_LOCK_SECONDS", default=30)
# On SIGTERM a worker stops taking posts, finishes the one in hand, and gives
# it back if it is not done within this many seconds (a hung browser is
# closed, and the post verified on the platform before it is requeued).
FARM_SHUTDOWN_GRACE_SECONDS = env.int("FARM_SHUTDOWN_GRACE_SECONDS", default=20)
CELERY_TIMEZONE = "UTC"

FARM_DISPATCH_INTERVAL_SECONDS = env.float("FARM_DISPATCH_INTERVAL_SECONDS", default=5.0)
FARM_CAPTURE_RETENTION_INTERVAL_SECONDS = env.float(
    "FARM_CAPTURE_RETENTION_INTERVAL_SECONDS", default=3600.0
)
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-posts": {
        "task": "uploads.tasks.dispatch_due_posts",
        "schedule": FARM_DISPATCH_INTERVAL_SECONDS,
        "options": {"expires": max(FARM_DISPATCH_INTERVAL_SECONDS * 2, 5)},
    },
    # Each workspace's day starts at its own midnight; a minute's tick finds it.
    "reset-daily-quotas": {
        "task": "accounts.tasks.reset_daily_quotas",
        "schedule": 60.0,
        "options": {"expires": 50},
    },
    # Archives sessions past their workspace's retention; an archived session is
    # skipped, so a late or doubled run does nothing twice.
    "archive-expired-captures": {
        "task": "capture.tasks.archive_expired_sessions",
        "schedule": FARM_CAPTURE_RETENTION_INTERVAL_SECONDS,
        "options": {"expires": FARM_CAPTURE_RETENTION_INTERVAL_SECONDS / 2},
    },
}

# --- The farm's own knobs ---------------------------------------------------
FARM_PUBLISH_SOFT_TIME_LIMIT = env.int("FARM_PUBLISH_SOFT_TIME_LIMIT", default=240)
FARM_PUBLISH_TIME_LIMIT = env.int("FARM_PUBLISH_TIME_LIMIT", default=300)
# Leases are short and renewed by a heartbeat while their worker lives, so a
# dead worker's post and browser profile are free again within a minute or so.
FARM_PUBLISH_LEASE_SECONDS = env.int("FARM_PUBLISH_LEASE_SECONDS", default=60)
FARM_PROFILE_LEASE_SECONDS = env.int("FARM_PROFILE_LEASE_SECONDS", default=60)
FARM_LEASE_HEARTBEAT_SECONDS = env.float("FARM_LEASE_HEARTBEAT_SECONDS", default=15.0)
FARM_RETRY_BACKOFF_SECONDS = [
    int(s) for s in env.list("FARM_RETRY_BACKOFF_SECONDS", default=["600", "1200", "2400"])
]
FARM_MAX_ATTEMPTS = env.int("FARM_MAX_ATTEMPTS", default=4)
FARM_BROWSER_RETRY_SECONDS = env.int("FARM_BROWSER_RETRY_SECONDS", default=15)
FARM_LOGIN_RETRY_SECONDS = env.int("FARM_LOGIN_RETRY_SECONDS", default=3600)
FARM_DISPATCH_BATCH_ACCOUNTS = env.int("FARM_DISPATCH_BATCH_ACCOUNTS", default=200)
# A queued post whose message may have been lost is sent again after this long.
FARM_QUEUED_RESEND_SECONDS = env.int("FARM_QUEUED_RESEND_SECONDS", default=120)
# An `unknown` post not found on the platform goes back to the queue only after
# this long, so an upload the platform is still processing is not sent twice.
FARM_UNKNOWN_SETTLE_SECONDS = env.int("FARM_UNKNOWN_SETTLE_SECONDS", default=30)
# A platform's circuit breaker: this many infrastructure failures in a row
# (5xx, timeouts, unrecognised pages) pause the platform for the cool-down,
# then one probe post decides whether it resumes (uploads/circuits.py).
FARM_CIRCUIT_FAILURE_THRESHOLD = env.int("FARM_CIRCUIT_FAILURE_THRESHOLD", default=5)
FARM_CIRCUIT_COOLDOWN_SECONDS = env.int("FARM_CIRCUIT_COOLDOWN_SECONDS", default=300)

FARM_CHROMIUM_BINARY = env.str("FARM_CHROMIUM_BINARY", default="/usr/bin/chromium")
FARM_CHROMEDRIVER_PATH = env.str("FARM_CHROMEDRIVER_PATH", default="/usr/bin/chromedriver")
FARM_BROWSER_HEADLESS = env.bool("FARM_BROWSER_HEADLESS", default=True)
# Chromium's own sandbox stays on unless this is set. It must be set where the
# farm runs Chromium as root, which Chromium refuses with its sandbox on (the
# Makefile and the tests set it when run as root; the Dockerfile's user is not).
FARM_CHROMIUM_NO_SANDBOX = env.bool("FARM_CHROMIUM_NO_SANDBOX", default=False)
FARM_BROWSER_POOL_SIZE = env.int("FARM_BROWSER_POOL_SIZE", default=2)
FARM_BROWSER_IDLE_SECONDS = env.int("FARM_BROWSER_IDLE_SECONDS", default=30)
FARM_BROWSER_MAX_USES = env.int("FARM_BROWSER_MAX_USES", default=100)
FARM_BROWSER_PAGE_TIMEOUT = env.int("FARM_BROWSER_PAGE_TIMEOUT", default=30)
FARM_PROFILES_DIR = DATA_DIR / "profiles"
# Record every publish run as a captured session (recorder.js in the page, screenshots).
CAPTURE_PUBLISH_RUNS = env.bool("CAPTURE_PUBLISH_RUNS", default=True)

# Capture: screenshots larger than these are refused before they are decoded.
CAPTURE_MAX_SCREENSHOT_BYTES = env.int("CAPTURE_MAX_SCREENSHOT_BYTES", default=20 * 1024 * 1024)
CAPTURE_MAX_SCREENSHOT_PIXELS = env.int("CAPTURE_MAX_SCREENSHOT_PIXELS", default=40_000_000)
# Capture: a session keeps at most this many events; a batch that would pass it is a 409.
CAPTURE_MAX_EVENTS_PER_SESSION = env.int("CAPTURE_MAX_EVENTS_PER_SESSION", default=20_000)

# Training-data exports (training/services.py): sessions are read this many at a
# time, progress is written every so many sessions, and a running export whose
# heartbeat is older than the stale limit is taken for crashed and may be restarted.
FARM_EXPORT_CHUNK_SIZE = env.int("FARM_EXPORT_CHUNK_SIZE", default=200)
FARM_EXPORT_PROGRESS_EVERY = env.int("FARM_EXPORT_PROGRESS_EVERY", default=200)
FARM_EXPORT_STALE_SECONDS = env.int("FARM_EXPORT_STALE_SECONDS", default=600)
FARM_EXPORT_SOFT_TIME_LIMIT = env.int("FARM_EXPORT_SOFT_TIME_LIMIT", default=3 * 3600)
FARM_EXPORT_SCHEDULE_EXPIRES_SECONDS = env.int("FARM_EXPORT_SCHEDULE_EXPIRES_SECONDS", default=3600)
# Files are written here while an export is built, then moved into media storage.
FARM_EXPORT_TMP_DIR = Path(env.str("FARM_EXPORT_TMP_DIR", default=str(DATA_DIR / "tmp")))

SANDBOX_BASE_URL = env.str("SANDBOX_BASE_URL", default="http://127.0.0.1:8000")
# The sandbox platform (a practice platform with sign-ins of its own) is served
# under /sandbox/ only when enabled: by the demo and the tests, not in production.
FARM_SANDBOX_ENABLED = env.bool("FARM_SANDBOX_ENABLED", default=False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "selenium": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # failed sign-ins and lockouts, not every start-up
        "urllib3": {"level": "WARNING"},
    },
}
