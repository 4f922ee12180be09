"""Claiming outbox rows on SQLite and PostgreSQL: never twice at once, again after a lost lease, fairly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.clock import FixedClock
from domain.policy import Policy
from domain.reminders.digest import build_digests
from storage import outbox
from storage.db import make_engine, make_sessionmaker
from storage.scope import Scope
from storage.uow import UnitOfWorkFactory
from tests.factories import World, build_world

LEASE = timedelta(minutes=2)
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> World:
    return await build_world(uow_factory)


@pytest.fixture
async def second_factory(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    """Another process's view of the same database: its own engine and connection pool."""
    engine = make_engine(database_url)
    yield UnitOfWorkFactory(make_sessionmaker(engine))
    await engine.dispose()


async def add_rows(
    uow_factory: UnitOfWorkFactory, recipients: list[int], per_recipient: int, clock: FixedClock
) -> list[int]:
    async with uow_factory() as uow:
        for n in range(per_recipient):
            for staff_id in recipients:
                await outbox.insert_once(
                    uow.session,
                    kind="visit_due",
                    case_id=None,
                    recipient_id=staff_id,
                    due_at=clock.now() - timedelta(minutes=n),
                    send_after=clock.now(),
                    dedupe_key=f"test:{staff_id}:{n}",
                    channel="direct",
                    created_at=clock.now(),
                )
        await uow.commit()
    async with uow_factory() as uow:
        return sorted(r.id for r in await outbox.by_ids(uow.session, range(1, 10_000)))


async def claim(
    uow_factory: UnitOfWorkFactory, worker: str, clock: FixedClock, limit: int = 7, per_recipient: int = 5
) -> list[int]:
    async with uow_factory() as uow:
        rows = await outbox.claim_due(
            uow.session, worker=worker, now=clock.now(), lease=LEASE, limit=limit, per_recipient=per_recipient
        )
        await uow.commit()
    return [r.id for r in rows]


async def test_two_workers_never_claim_the_same_row(
    uow_factory: UnitOfWorkFactory, second_factory: UnitOfWorkFactory, world: World, clock: FixedClock
) -> None:
    ids = await add_rows(uow_factory, [s.id for s in world.staff.values()], 10, clock)

    async def worker(factory: UnitOfWorkFactory, name: str) -> list[int]:
        got: list[int] = []
        while batch := await claim(factory, name, clock):
            assert len(batch) <= 7  # a claim never takes more than asked, even beside another worker
            got += batch
            await asyncio.sleep(0)
        return got

    results = await asyncio.gather(
        *(
            worker(f, f"w{i}")
            for i, f in enumerate([uow_factory, second_factory, uow_factory, second_factory])
        )
    )
    claimed = [i for r in results for i in r]
    assert sorted(claimed) == ids  # every row exactly once
    assert sum(1 for r in results if r) >= 2  # the work really was shared


async def test_a_claim_never_marked_is_taken_again_after_the_lease(
    uow_factory: UnitOfWorkFactory, second_factory: UnitOfWorkFactory, world: World, clock: FixedClock
) -> None:
    [row_id] = await add_rows(uow_factory, [world.staff["teacher_a"].id], 1, clock)
    assert await claim(uow_factory, "killed", clock) == [row_id]  # the process dies right here
    assert await claim(second_factory, "survivor", clock) == []
    clock.advance(LEASE - timedelta(seconds=1))
    assert await claim(second_factory, "survivor", clock) == []
    clock.advance(timedelta(seconds=2))
    assert await claim(second_factory, "survivor", clock) == [row_id]
    async with uow_factory() as uow:
        # The dead worker cannot mark a row it no longer holds; the survivor can.
        assert not await outbox.change(
            uow.session, row_id, when_state="claimed", worker="killed", state="sent"
        )
        assert await outbox.change(uow.session, row_id, when_state="claimed", worker="survivor", state="sent")
        await uow.commit()
        [row] = await outbox.by_ids(uow.session, [row_id])
        assert (row.state, row.claimed_by, row.attempts) == ("sent", "survivor", 2)
    clock.advance(LEASE * 2)
    assert await claim(second_factory, "later", clock) == []  # sent rows are never claimed again


async def test_rows_not_yet_due_and_digest_items_are_not_claimed(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock
) -> None:
    async with uow_factory() as uow:
        common = {
            "kind": "visit_due",
            "case_id": None,
            "recipient_id": world.staff["principal"].id,
            "due_at": clock.now(),
            "created_at": clock.now(),
        }
        await outbox.insert_once(
            uow.session,
            **common,
            send_after=clock.now() + timedelta(hours=1),
            dedupe_key="later",
            channel="direct",
        )
        await outbox.insert_once(
            uow.session, **common, send_after=clock.now(), dedupe_key="digest-item", channel="digest"
        )
        assert not await outbox.insert_once(
            uow.session, **common, send_after=clock.now(), dedupe_key="later", channel="direct"
        )  # the same key twice inserts nothing
        await uow.commit()
    assert await claim(uow_factory, "w", clock) == []
    clock.advance(timedelta(hours=1))
    assert len(await claim(uow_factory, "w", clock)) == 1


async def test_one_busy_chat_does_not_fill_a_batch(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock
) -> None:
    busy, quiet = world.staff["teacher_a"].id, world.staff["teacher_b"].id
    await add_rows(uow_factory, [busy], 20, clock)
    await add_rows(uow_factory, [quiet], 3, clock)
    async with uow_factory() as uow:
        rows = await outbox.claim_due(
            uow.session, worker="w", now=clock.now(), lease=LEASE, limit=10, per_recipient=5
        )
        await uow.commit()
    assert sorted(r.recipient_id for r in rows) == [busy] * 5 + [quiet] * 3


async def test_two_schedulers_building_digests_at_once_make_one_per_coordinator(
    uow_factory: UnitOfWorkFactory,
    second_factory: UnitOfWorkFactory,
    world: World,
    clock: FixedClock,
    policy: Policy,
) -> None:
    coordinators = [world.staff[k].id for k in ("principal", "township", "county")]
    async with uow_factory() as uow:
        for staff_id in coordinators:
            for n in range(5):
                await outbox.insert_once(
                    uow.session,
                    kind="visit_overdue",
                    case_id=None,
                    recipient_id=staff_id,
                    due_at=clock.now() - timedelta(hours=n),
                    send_after=clock.now(),
                    dedupe_key=f"item:{staff_id}:{n}",
                    channel="digest",
                    created_at=clock.now(),
                )
        await uow.commit()
    made = await asyncio.gather(
        *(
            build_digests(f, now=clock.now(), policy=policy, tz=TZ)
            for f in (uow_factory, second_factory, uow_factory, second_factory)
        )
    )
    assert sum(made) == 3
    async with uow_factory() as uow:
        found = [
            r for r, _, _ in await outbox.log(uow.session, Scope(staff_id=None, everything=True), limit=100)
        ]
    digests = [r for r in found if r.kind == "digest"]
    assert sorted(d.recipient_id for d in digests) == sorted(coordinators)
    assert {r.state for r in found if r.kind != "digest"} == {"batched"}
    assert sorted(i for d in digests for i in d.payload["items"]) == sorted(
        r.id for r in found if r.kind != "digest"
    )
