"""Store contract: named leases (`acquire_lease`, `release_lease`) on every backend."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from bot.core.errors import StoreError
from bot.store import SqlStore
from tests.conftest import StoreTarget
from tests.store_samples import T0, hours

LEASE = "telegram-poll"
SECONDS = 30.0


def seconds(n: float) -> datetime:
    """T0 plus `n` seconds."""
    return T0 + hours(n / 3600)


async def test_a_free_lease_goes_to_the_first_owner_only(store: SqlStore) -> None:
    assert await store.acquire_lease(LEASE, "a", T0, SECONDS)
    assert not await store.acquire_lease(LEASE, "b", seconds(1), SECONDS)
    assert not await store.acquire_lease(LEASE, "b", seconds(29.9), SECONDS)


async def test_leases_of_other_names_are_independent(store: SqlStore) -> None:
    assert await store.acquire_lease(LEASE, "a", T0, SECONDS)
    assert await store.acquire_lease("slack-socket", "b", T0, SECONDS)
    assert not await store.acquire_lease("slack-socket", "a", T0, SECONDS)


async def test_an_expired_lease_goes_to_the_next_owner(store: SqlStore) -> None:
    assert await store.acquire_lease(LEASE, "a", T0, SECONDS)
    assert await store.acquire_lease(LEASE, "b", seconds(30), SECONDS)
    assert not await store.acquire_lease(LEASE, "a", seconds(31), SECONDS)  # "a" lost it


async def test_the_holder_renews_and_the_renewal_extends_it(store: SqlStore) -> None:
    assert await store.acquire_lease(LEASE, "a", T0, SECONDS)
    assert await store.acquire_lease(LEASE, "a", seconds(20), SECONDS)
    assert not await store.acquire_lease(LEASE, "b", seconds(45), SECONDS)  # till 50 now
    assert await store.acquire_lease(LEASE, "a", seconds(45), SECONDS)
    assert await store.acquire_lease(LEASE, "b", seconds(75), SECONDS)


async def test_a_released_lease_is_free_at_once(store: SqlStore) -> None:
    assert await store.acquire_lease(LEASE, "a", T0, SECONDS)
    assert not await store.release_lease(LEASE, "b")  # not b's: nothing changes
    assert not await store.acquire_lease(LEASE, "b", seconds(1), SECONDS)
    assert await store.release_lease(LEASE, "a")
    assert not await store.release_lease(LEASE, "a")
    assert await store.acquire_lease(LEASE, "b", seconds(1), SECONDS)


async def test_a_lease_lasts_a_positive_time(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="positive"):
        await store.acquire_lease(LEASE, "a", T0, 0)


async def test_of_many_concurrent_owners_exactly_one_wins(store_target: StoreTarget) -> None:
    """Separate store instances (separate pools) race for a free lease, then for the
    expired one: each time exactly one owner gets it."""
    stores = [await store_target.open()]
    stores += [await store_target.open(migrate=False) for _ in range(3)]
    owners = [f"instance-{n}" for n in range(24)]

    async def race(at: datetime) -> list[str]:
        tries = [
            stores[n % len(stores)].acquire_lease(LEASE, owner, at, SECONDS)
            for n, owner in enumerate(owners)
        ]
        taken = await asyncio.gather(*tries)
        return [owner for owner, won in zip(owners, taken, strict=True) if won]

    try:
        [first] = await race(T0)
        [second] = await race(seconds(SECONDS))
        assert await race(seconds(SECONDS + 1)) == [second]  # the holder renews, no one else
    finally:
        for opened in stores:
            await opened.close()
    assert first in owners and second in owners
