"""The bot's message budget shared through PostgreSQL: processes with their own engines and limiters
(as three webhook workers and a scheduler are) together keep one rate, and lose nothing when the
database is away."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.limits import BUDGET, SendLimiter
from storage.db import make_engine
from storage.send_budget import take_slots

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])
RATE = 20.0


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[list[AsyncEngine]]:
    """Three processes' views of the database: their own engines and connection pools."""
    made = [make_engine(database_url) for _ in range(3)]
    yield made
    for engine in made:
        await engine.dispose()


async def send_times(limiter: SendLimiter, chats: range) -> list[float]:
    """When each message would go out, one chat each (so only the bot-wide budget paces them)."""
    stamps: list[float] = []

    async def one(chat: int) -> None:
        await limiter.wait(chat, paced=False)
        stamps.append(time.monotonic())

    await asyncio.gather(*(one(chat) for chat in chats))
    return stamps


async def test_three_processes_share_one_rate(engines: list[AsyncEngine]) -> None:
    limiters = [SendLimiter(RATE, 1.0, shared=engine) for engine in engines]
    started = time.monotonic()
    times = sorted(
        t
        for batch in await asyncio.gather(
            *(send_times(limiter, range(n * 100, n * 100 + 20)) for n, limiter in enumerate(limiters))
        )
        for t in batch
    )
    spent = times[-1] - started
    # 60 messages at 20 a second take about 3 s together (a sleep never ends early, so this bound holds
    # on any machine); each process on its own budget would have taken 1 s.
    assert spent >= (len(times) - 1) / RATE - 0.2, spent
    print(
        f"shared budget: {len(times)} messages from 3 limiters in {spent:.2f} s ({len(times) / spent:.1f}/s)"
    )


async def test_every_slot_taken_at_once_by_three_processes_is_its_own(engines: list[AsyncEngine]) -> None:
    """The row's arithmetic: 60 leases of 1 to 3 slots taken at once (faster than they fall due) move the
    next free slot on by exactly the slots taken, and the leases follow one another without overlap, so
    no two messages of any process share one."""
    interval = 1.0  # long slots: the next free one stays far ahead of the clock while they are taken
    for engine in engines:  # connected, so no connection set-up falls between the slots
        await take_slots(engine, BUDGET, interval)
    first = await _tat(engines[0])
    counts = [n % 3 + 1 for n in range(60)]
    leases = await asyncio.gather(
        *(take_slots(engines[n % 3], BUDGET, interval, count) for n, count in enumerate(counts))
    )
    assert await _tat(engines[1]) - first == pytest.approx(sum(counts) * interval, abs=1e-6)
    spans = sorted(
        (start, start + count * interval) for (start, _), count in zip(leases, counts, strict=True)
    )
    assert spans[0][0] == pytest.approx(first, abs=1e-6)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start == pytest.approx(end, abs=1e-6)


def count_leases(engine: AsyncEngine) -> list[str]:
    """The UPDATEs of the budget row this engine sends from now on (one per round trip of a lease)."""
    seen: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("WITH c AS") and "UPDATE send_budget" in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    return seen


async def test_a_process_leases_several_slots_per_round_trip(engines: list[AsyncEngine]) -> None:
    rate = 4.0  # slots 0.25 s apart: a lease's next slot is still ahead when the next message asks
    limiter = SendLimiter(rate, 1.0, shared=engines[0], lease=4)
    await send_times(limiter, range(1))  # the row exists, the engine is connected
    await asyncio.sleep(4 / rate)  # the rest of that lease has passed
    before = await _tat(engines[1])
    leases = count_leases(engines[0])
    started = time.monotonic()
    times = await send_times(limiter, range(8))
    assert len(leases) == 2  # 8 messages, 4 slots a round trip
    assert await _tat(engines[1]) - before >= 8 / rate - 1e-6  # and every message had a slot of its own
    assert max(times) - started >= 7 / rate - 0.05  # so they went at the rate


async def test_slots_of_a_lease_that_passed_unused_are_not_sent_late(engines: list[AsyncEngine]) -> None:
    """A quiet process's leftover slots lie behind the other processes' by then: sending on them would
    put its messages on top of theirs, over the rate."""
    limiter = SendLimiter(RATE, 1.0, shared=engines[0], lease=4)
    await send_times(limiter, range(1))  # leases 4 slots, uses one
    await asyncio.sleep(4 / RATE + 0.1)  # the 3 others pass unused
    leases = count_leases(engines[0])
    started = time.monotonic()
    times = await send_times(limiter, range(100, 103))
    assert len(leases) == 1  # a new lease, not the leftovers
    assert max(times) - started >= 2 / RATE - 0.01  # three messages at the rate, not all at once


async def _tat(engine: AsyncEngine) -> float:
    async with engine.connect() as conn:
        return float(await conn.scalar(text("SELECT tat FROM send_budget WHERE name = :n"), {"n": BUDGET}))


async def test_without_the_database_a_process_falls_back_to_its_own_budget(
    engines: list[AsyncEngine], database_url: str
) -> None:
    broken = make_engine(make_url(database_url).set(port=9).render_as_string(hide_password=False))
    try:
        limiter = SendLimiter(RATE, 1.0, shared=broken)
        started = time.monotonic()
        times = await send_times(limiter, range(10))
        assert max(times) - started >= 9 / RATE - 0.1  # still paced, by the process alone
    finally:
        await broken.dispose()


async def test_the_slot_comes_from_one_row_on_the_database_clock(engines: list[AsyncEngine]) -> None:
    limiter = SendLimiter(RATE, 1.0, shared=engines[0])
    await send_times(limiter, range(3))
    async with engines[1].connect() as conn:
        tat, now = (
            await conn.execute(
                text(
                    "SELECT tat, extract(epoch FROM clock_timestamp())::float8 FROM send_budget WHERE name = 'telegram'"
                )
            )
        ).one()
    assert 0 < tat - now < 1.0  # the next free slot: a moment after the three just taken
