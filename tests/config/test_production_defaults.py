"""What the farm does by default with DEBUG off, as deployed: each setting is read
from config/settings.py in a fresh process with only the given environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

ROOT = Path(settings.BASE_DIR)
DEPLOYED = {"DJANGO_SECRET_KEY": "set-by-the-deployment", "FARM_ENCRYPTION_KEYS": "a-key"}
READ = """
import json, config.settings as s
print(json.dumps({name: getattr(s, name, None) for name in %r}))
"""


def settings_with(names: list[str], tmp_path: Path, **variables: str) -> dict[str, Any]:
    """The named settings as config/settings.py reads them from this environment."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "FARM_")) and name != "DATABASE_URL"
    }
    done = subprocess.run(
        [sys.executable, "-c", READ % names],
        cwd=ROOT,
        env={**env, "FARM_DATA_DIR": str(tmp_path), **DEPLOYED, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


HTTPS = [
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
]


def test_with_debug_off_cookies_go_over_https_only_and_hsts_is_on(tmp_path: Path) -> None:
    values = settings_with(HTTPS, tmp_path)
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31_536_000
    assert values["SECURE_PROXY_SSL_HEADER"] is None  # no proxy is trusted unless named


def test_hsts_and_the_proxys_https_header_come_from_the_environment(tmp_path: Path) -> None:
    values = settings_with(
        HTTPS,
        tmp_path,
        DJANGO_SECURE_HSTS_SECONDS="3600",
        DJANGO_SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
    )
    assert values["SECURE_HSTS_SECONDS"] == 3600
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_on_a_developers_machine_with_debug_on_plain_http_works(tmp_path: Path) -> None:
    values = settings_with(HTTPS, tmp_path, DJANGO_DEBUG="true")
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0


@pytest.mark.django_db
def test_https_answers_carry_hsts(client: Client) -> None:
    response = client.get("/admin/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000"
    assert response.cookies["csrftoken"]["secure"] is True
