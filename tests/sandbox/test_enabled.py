"""The sandbox platform is served only where enabled (the demo, the tests), and the demo,
which makes a console login with a published password, runs only there."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import clear_url_caches
from pytest_django.fixtures import Settings

import config.urls
from sandbox.management.commands import demo
from tests.config.test_production_defaults import settings_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox_off(settings: Settings) -> Iterator[None]:
    settings.FARM_SANDBOX_ENABLED = False
    importlib.reload(config.urls)
    clear_url_caches()
    yield
    settings.FARM_SANDBOX_ENABLED = True
    importlib.reload(config.urls)
    clear_url_caches()


def test_the_sandbox_is_off_unless_enabled(tmp_path: Path) -> None:
    assert settings_with(["FARM_SANDBOX_ENABLED"], tmp_path) == {"FARM_SANDBOX_ENABLED": False}
    compose = yaml.safe_load((Path(settings.BASE_DIR) / "compose.yaml").read_text())
    assert compose["x-farm"]["environment"]["FARM_SANDBOX_ENABLED"] == "false"


def test_switched_off_nothing_answers_under_sandbox(sandbox_off: None, client: Client) -> None:
    for path in ("/sandbox/", "/sandbox/login/", "/sandbox/@alice/posts.json"):
        assert client.get(path).status_code == 404, path
    assert client.post("/sandbox/login/", {"handle": "a", "password": "b"}).status_code == 404


def test_switched_on_the_sandbox_answers(client: Client) -> None:
    assert client.get("/sandbox/login/").status_code == 200


def test_the_demo_refuses_to_run_without_the_sandbox(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.FARM_SANDBOX_ENABLED = False

    def no_processes(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demo started the farm")

    monkeypatch.setattr(demo, "FarmProcesses", no_processes)

    with pytest.raises(CommandError, match="FARM_SANDBOX_ENABLED"):
        call_command("demo", "--posts", "1")

    assert not get_user_model().objects.filter(username=demo.DEMO_LOGIN[0]).exists()


def test_no_console_login_exists_on_a_new_farm() -> None:
    # Migrations make none; the demo's is made by the demo alone.
    assert not get_user_model().objects.exists()
