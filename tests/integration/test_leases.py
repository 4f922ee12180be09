"""The scheduler lease on SQLite and PostgreSQL: taken by one, renewed, taken over after expiry, never shared."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from app.leadership import SCHEDULER, Leadership
from domain.clock import FixedClock
from storage import leases
from storage.db import make_engine, make_sessionmaker
from storage.uow import UnitOfWorkFactory

TTL = timedelta(seconds=30)


@pytest.fixture
async def second_factory(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    """Another process's view of the same database: its own engine and connection pool."""
    engine = make_engine(database_url)
    yield UnitOfWorkFactory(make_sessionmaker(engine))
    await engine.dispose()


async def take(factory: UnitOfWorkFactory, holder: str, clock: FixedClock) -> bool:
    async with factory() as uow:
        won = await leases.take(uow.session, SCHEDULER, holder, now=clock.now(), ttl=TTL)
        await uow.commit()
    return won


async def holder(factory: UnitOfWorkFactory) -> str | None:
    async with factory() as uow:
        lease = await leases.current(uow.session, SCHEDULER)
    return None if lease is None else lease.holder


async def test_the_first_process_takes_the_free_lease_and_a_second_is_refused(
    uow_factory: UnitOfWorkFactory, second_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    assert await holder(uow_factory) is None
    assert await take(uow_factory, "a", clock)
    assert not await take(second_factory, "b", clock)
    assert await holder(second_factory) == "a"


async def test_renewing_moves_the_expiry_and_keeps_the_holder_since_it_first_took_it(
    uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    taken_at = clock.now()
    assert await take(uow_factory, "a", clock)
    for _ in range(5):  # 5 × 20 s: far past the first expiry, but renewed in time each time
        clock.advance(timedelta(seconds=20))
        assert await take(uow_factory, "a", clock)
    async with uow_factory() as uow:
        lease = await leases.current(uow.session, SCHEDULER)
    assert lease is not None
    assert (lease.holder, lease.since, lease.expires_at) == ("a", taken_at, clock.now() + TTL)


async def test_an_expired_lease_is_taken_over_and_the_stale_leader_cannot_renew_it(
    uow_factory: UnitOfWorkFactory, second_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    assert await take(uow_factory, "a", clock)
    clock.advance(TTL)  # exactly at the expiry: still a's
    assert not await take(second_factory, "b", clock)
    clock.advance(timedelta(seconds=1))  # a stopped renewing (paused, cut off, killed)
    assert await take(second_factory, "b", clock)
    assert not await take(uow_factory, "a", clock)  # a comes back: it has lost the lease
    assert await holder(uow_factory) == "b"
    async with uow_factory() as uow:
        assert not await leases.resign(uow.session, SCHEDULER, "a", now=clock.now())  # nor can it free it
        await uow.commit()
    assert await holder(uow_factory) == "b"


async def test_a_resigned_lease_is_taken_at_once(
    uow_factory: UnitOfWorkFactory, second_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    assert await take(uow_factory, "a", clock)
    async with uow_factory() as uow:
        assert await leases.resign(uow.session, SCHEDULER, "a", now=clock.now())
        await uow.commit()
    clock.advance(timedelta(milliseconds=1))
    assert await take(second_factory, "b", clock)


async def test_held_by_another_is_true_exactly_when_take_would_be_refused(
    uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    """What a standby reads every second instead of trying to take the lease (app.leadership)."""

    async def held(holder: str) -> bool:
        async with uow_factory() as uow:
            return await leases.held_by_another(uow.session, SCHEDULER, holder, now=clock.now())

    assert not await held("b")  # nobody ever took it
    assert await take(uow_factory, "a", clock)
    assert await held("b") and not await held("a")
    clock.advance(TTL)  # exactly at the expiry: still a's, as for take()
    assert await held("b")
    clock.advance(timedelta(seconds=1))
    assert not await held("b")
    assert await take(uow_factory, "b", clock)
    async with uow_factory() as uow:
        assert await leases.resign(uow.session, SCHEDULER, "b", now=clock.now())
        await uow.commit()
    clock.advance(timedelta(milliseconds=1))
    assert not await held("a")  # a resigned lease is free at once


async def test_processes_racing_for_the_lease_get_exactly_one_leader(
    uow_factory: UnitOfWorkFactory, second_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    factories = [uow_factory, second_factory] * 3
    for round_ in range(3):  # a free table, then an expired lease, twice
        won = await asyncio.gather(*(take(f, f"p{round_}-{i}", clock) for i, f in enumerate(factories)))
        assert sum(won) == 1, won
        assert await holder(uow_factory) == f"p{round_}-{won.index(True)}"
        clock.advance(TTL + timedelta(seconds=1))


async def test_a_leader_that_cannot_renew_steps_down_before_its_lease_runs_out(
    uow_factory: UnitOfWorkFactory,
    second_factory: UnitOfWorkFactory,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    elected: list[str] = []
    a = Leadership(uow_factory, clock, holder="a", lease=TTL, on_elected=lambda: elected.append("a"))
    b = Leadership(second_factory, clock, holder="b", lease=TTL, on_elected=lambda: elected.append("b"))
    with caplog.at_level(logging.INFO, logger="app.leadership"):
        assert await a.campaign() and not await b.campaign()
        assert a.holds() and not b.holds()
        clock.advance(TTL - timedelta(seconds=a.renew_every))  # a missed its renewals (event loop stuck)
        assert not a.holds()  # it stops acting on its own, while the row still names it
        assert not await b.campaign()
        clock.advance(timedelta(seconds=a.renew_every + 1))
        assert await b.campaign() and b.holds()
        assert not await a.campaign() and not a.holds()
    assert elected == ["a", "b"]
    text = caplog.text
    assert "a is now the leader" in text and "b is now the leader" in text
    assert "a stepped down; standing by (lease held by b)" in text


async def test_stopping_the_leader_hands_over_at_the_next_campaign(
    uow_factory: UnitOfWorkFactory, second_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    a = Leadership(uow_factory, clock, holder="a", lease=TTL, renew_every=0.05)
    b = Leadership(second_factory, clock, holder="b", lease=TTL, renew_every=0.05)
    await a.start()
    await b.start()
    try:
        assert a.holds() and not b.holds()
        await a.stop()
        clock.advance(timedelta(milliseconds=1))
        async with asyncio.timeout(10):
            while not b.holds():
                await asyncio.sleep(0.05)
        assert not a.holds() and await holder(uow_factory) == "b"
    finally:
        await a.stop()
        await b.stop()
