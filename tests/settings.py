"""The settings the tests run with: the farm's own (config/settings.py), with what a
test run needs put into the environment first.

Going through the environment rather than overriding settings here means the
farm's processes that the tests start (gunicorn, Celery workers and beat, the
benches) inherit the same values and read them as a deployment would.
"""

from __future__ import annotations

import os

# Tests run as deployed, with DEBUG off, so the secrets are not generated: these
# belong to the tests alone.
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key-0f6b1c5e9a2d4e7f8b3c")
os.environ.setdefault("FARM_ENCRYPTION_KEYS", "euj3uHa0QyH7CMWCA0SVmm6Bb76DDiNI52FKA8VY9p8=")
# The end-to-end tests publish to the sandbox platform, mounted only when enabled.
os.environ.setdefault("FARM_SANDBOX_ENABLED", "true")
# Chromium refuses to start its sandbox as root, and this machine's tests and CI
# run as root: only then do the farm's browsers run without it.
if os.geteuid() == 0:
    os.environ.setdefault("FARM_CHROMIUM_NO_SANDBOX", "true")

from config.settings import *  # noqa: F403

# Each test process keeps its cache (the API's throttles) to itself;
# tests/conftest.py empties it between tests.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
