"""One live browser per profile across the farm, reused while warm, replaced when it dies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psutil
import pytest
from django.utils import timezone
from selenium.webdriver.chromium.webdriver import ChromiumDriver

from accounts.models import Account
from browsers.models import BrowserProfile
from browsers.pool import DriverPool, ProfileBusy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


@pytest.fixture
def pools() -> Iterator[tuple[DriverPool, DriverPool]]:
    released: list[int] = []
    first = DriverPool(size=2, idle_seconds=60, holder="host-a:1", on_release=released.append)
    second = DriverPool(size=2, idle_seconds=60, holder="host-b:2")
    first.released = released  # type: ignore[attr-defined]
    yield first, second
    first.close_all()
    second.close_all()


def browser_pids(pool: DriverPool) -> set[int]:
    pids = set()
    for entry in pool._entries.values():
        assert isinstance(entry.driver, ChromiumDriver)
        process = entry.driver.service.process
        assert process is not None
        service = psutil.Process(process.pid)
        pids |= {p.pid for p in service.children(recursive=True)}
    return pids


def test_a_profile_runs_in_one_browser_at_a_time(
    account: Account, pools: tuple[DriverPool, DriverPool]
) -> None:
    first, second = pools
    profile = account.browser_profile
    with first.driver_for(profile) as driver:
        driver.get("about:blank")
        with pytest.raises(ProfileBusy), second.driver_for(profile):
            pass
    # Idle but alive, the browser still holds the lease.
    with pytest.raises(ProfileBusy), second.driver_for(profile):
        pass
    profile.refresh_from_db()
    assert profile.lease_holder == "host-a:1"

    first.idle_seconds = 0
    assert first.close_idle() == 1
    assert first.released == [profile.pk]  # type: ignore[attr-defined]
    with second.driver_for(profile) as driver:
        assert driver.execute_script("return 1 + 1") == 2


def test_a_dead_workers_lease_runs_out(
    account: Account, pools: tuple[DriverPool, DriverPool]
) -> None:
    _, second = pools
    BrowserProfile.objects.filter(pk=account.browser_profile.pk).update(
        lease_holder="vanished:9", lease_until=timezone.now() - timedelta(seconds=1)
    )
    with second.driver_for(account.browser_profile) as driver:
        assert driver.execute_script("return 3") == 3


def test_reuses_a_warm_browser_and_replaces_a_crashed_one(
    account: Account, pools: tuple[DriverPool, DriverPool]
) -> None:
    first, _ = pools
    profile = account.browser_profile
    for _ in range(3):
        with first.driver_for(profile) as driver:
            driver.get("about:blank")
    assert first.opened == 1
    assert first.last_checkout_reused

    for pid in browser_pids(first):
        psutil.Process(pid).kill()
    with first.driver_for(profile) as driver:
        assert driver.execute_script("return 'fresh'") == "fresh"
    assert first.opened == 2
    assert not first.last_checkout_reused


def test_pool_closes_the_least_recently_used_browser_when_full(
    make_account, workspace, pools: tuple[DriverPool, DriverPool]
) -> None:
    first, _ = pools
    first.size = 1
    a, b = make_account(workspace), make_account(workspace)
    with first.driver_for(a.browser_profile):
        pass
    with first.driver_for(b.browser_profile):
        pass
    assert len(first) == 1
    a.browser_profile.refresh_from_db()
    assert a.browser_profile.lease_holder == ""
