"""Paused platforms in the console: listed on the index, closed by hand from their page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import Workspace
from monitoring.models import Alert
from tests.conftest import run_action
from tests.factories import MakeAccount
from uploads.circuits import circuit_record_failure
from uploads.models import ErrorKind, PlatformCircuit


@pytest.fixture
def trip_reddit(workspace: Workspace, make_account: MakeAccount) -> Callable[[], PlatformCircuit]:
    """A Reddit account in the workspace; the call opens Reddit's circuit with failures in a row."""
    make_account(workspace, platform="reddit")

    def trip() -> PlatformCircuit:
        for _ in range(settings.FARM_CIRCUIT_FAILURE_THRESHOLD):
            circuit_record_failure(platform="reddit", error_kind=ErrorKind.TRANSIENT, message="503")
        return PlatformCircuit.objects.get(platform="reddit")

    return trip


def test_the_index_lists_paused_platforms(
    superuser_client: Client, trip_reddit: Callable[[], PlatformCircuit]
) -> None:
    assert 'id="farm-circuits"' not in superuser_client.get(reverse("admin:index")).content.decode()
    trip_reddit()

    response = superuser_client.get(reverse("admin:index"))
    html = response.content.decode()
    assert [c.platform for c in response.context["farm_circuits"]] == ["reddit"]
    assert 'data-platform="reddit">Open (paused), probe after' in html
    assert reverse("admin:uploads_platformcircuit_changelist") in html


def test_closing_a_circuit_by_hand_resolves_its_alerts(
    superuser_client: Client, trip_reddit: Callable[[], PlatformCircuit]
) -> None:
    circuit = trip_reddit()
    assert Alert.objects.filter(platform="reddit", resolved_at__isnull=True).count() == 1

    shown = run_action(
        superuser_client,
        "admin:uploads_platformcircuit_changelist",
        "close_circuits",
        [circuit.pk],
    )

    assert shown == ["Closed 1 circuit(s); posting resumes on the next dispatcher pass."]
    assert PlatformCircuit.objects.get(pk=circuit.pk).state == PlatformCircuit.State.CLOSED
    assert not Alert.objects.filter(platform="reddit", resolved_at__isnull=True).exists()
    page = superuser_client.get(reverse("admin:uploads_platformcircuit_change", args=[circuit.pk]))
    assert page.status_code == 200
    assert b'name="state"' not in page.content  # read-only
