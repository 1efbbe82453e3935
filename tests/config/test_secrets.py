"""Secrets come from the environment; only the embedded default generates its own.

Each case loads config/settings.py in fresh processes, as the farm's processes
do when they start.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SECRETS = ("DJANGO_SECRET_KEY", "FARM_ENCRYPTION_KEYS")
# Wait for the moment given, so the processes reach the settings together.
LOAD_SETTINGS = """
import os, time
time.sleep(max(0.0, float(os.environ["START_AT"]) - time.time()))
import config.settings as s
print(s.SECRET_KEY)
print(",".join(s.FARM_ENCRYPTION_KEYS))
"""


def _environment(data_dir: Path, **variables: str) -> dict[str, str]:
    unset = {
        *SECRETS,
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "REDIS_URL",
        "DJANGO_DEBUG",
        "DJANGO_SETTINGS_MODULE",
    }
    env = {name: value for name, value in os.environ.items() if name not in unset}
    return {**env, "FARM_DATA_DIR": str(data_dir), "START_AT": "0", **variables}


def _load_settings(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", LOAD_SETTINGS],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_processes_starting_together_share_the_secrets_they_generate(tmp_path: Path) -> None:
    for attempt in range(3):
        data_dir = tmp_path / f"data-{attempt}"
        env = _environment(data_dir, DJANGO_DEBUG="true", START_AT=str(time.time() + 2))
        processes = [_load_settings(env) for _ in range(8)]
        outputs = [process.communicate(timeout=60) for process in processes]
        assert all(process.returncode == 0 for process in processes), outputs
        assert len({stdout for stdout, _ in outputs}) == 1, "processes got different secrets"

        secret_key, encryption_keys = outputs[0][0].splitlines()
        assert (data_dir / "django-secret-key").read_text() == secret_key
        assert (data_dir / "encryption-key").read_text() == encryption_keys
        for name in ("django-secret-key", "encryption-key"):
            assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
        # Nothing half-written is left behind.
        assert not [p.name for p in data_dir.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("variables", "missing"),
    [
        ({}, "DJANGO_SECRET_KEY"),  # DEBUG is off by default
        ({"DJANGO_DEBUG": "false"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_DEBUG": "true", "DATABASE_URL": "sqlite:////tmp/x.sqlite3"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "set-by-the-deployment"}, "FARM_ENCRYPTION_KEYS"),
    ],
)
def test_outside_the_embedded_default_a_missing_secret_stops_the_farm(
    tmp_path: Path, variables: dict[str, str], missing: str
) -> None:
    process = _load_settings(_environment(tmp_path / "data", **variables))
    _, stderr = process.communicate(timeout=60)

    assert process.returncode != 0
    assert f"ImproperlyConfigured: {missing} is not set" in stderr
    assert not (tmp_path / "data" / "django-secret-key").exists()
    assert not (tmp_path / "data" / "encryption-key").exists()


def test_secrets_from_the_environment_are_used_as_given(tmp_path: Path) -> None:
    process = _load_settings(
        _environment(
            tmp_path / "data",
            DATABASE_URL="sqlite:////tmp/x.sqlite3",
            DJANGO_SECRET_KEY="set-by-the-deployment",
            FARM_ENCRYPTION_KEYS="key-one,key-two",
        )
    )
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    assert stdout.splitlines() == ["set-by-the-deployment", "key-one,key-two"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["broker", "static"]
