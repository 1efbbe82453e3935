"""The deployment files say what the README promises."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.conf import settings
from pytest_django.fixtures import Settings

from tests.config.test_production_defaults import settings_with

ROOT = Path(settings.BASE_DIR)


def test_compose_runs_every_part_of_the_farm() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"].startswith("redis://")
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    # One beat only: scaling it would double every schedule.
    assert "deploy" not in services["beat"]


def test_celery_is_configured_for_never_twice_never_lost() -> None:
    from config.celery import app
    from uploads.tasks import publish_post as publish

    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_reject_on_worker_lost is True
    assert publish.soft_time_limit is not None and publish.time_limit is not None
    assert publish.soft_time_limit < publish.time_limit
    # Leases outlive a live worker only through its heartbeat, which must beat
    # several times within each lease.
    for lease in (settings.FARM_PUBLISH_LEASE_SECONDS, settings.FARM_PROFILE_LEASE_SECONDS):
        assert lease >= settings.FARM_LEASE_HEARTBEAT_SECONDS * 3
    # Beat goes through the farm-wide lock.
    assert app.conf.beat_scheduler == "core.beat:SingleBeatScheduler"
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["options"]["expires"] > 0


def test_chromium_keeps_its_sandbox_unless_configured(settings: Settings) -> None:
    from browsers.models import BrowserProfile
    from browsers.providers import chromium_options

    settings.FARM_CHROMIUM_NO_SANDBOX = False
    assert "--no-sandbox" not in chromium_options(BrowserProfile(pk=1, account_id=1)).arguments
    settings.FARM_CHROMIUM_NO_SANDBOX = True
    assert "--no-sandbox" in chromium_options(BrowserProfile(pk=1, account_id=1)).arguments


def test_the_image_runs_as_a_user_and_chromium_without_its_sandbox_only_when_set(
    tmp_path: Path,
) -> None:
    assert "\nUSER farm\n" in (ROOT / "Dockerfile").read_text()
    assert settings_with(["FARM_CHROMIUM_NO_SANDBOX"], tmp_path) == {
        "FARM_CHROMIUM_NO_SANDBOX": False
    }


def test_selenium_uses_the_system_chromedriver() -> None:
    from browsers.models import BrowserProfile
    from browsers.providers import chromium_options

    options = chromium_options(BrowserProfile(pk=1, account_id=1))
    assert options.binary_location == settings.FARM_CHROMIUM_BINARY
    for flag in ("--disable-background-networking", "--disable-component-update", "--disable-sync"):
        assert flag in options.arguments
    assert any(a.startswith("--headless") for a in options.arguments)
