"""The bot's message budget shared through PostgreSQL: processes with their own engines and limiters
(as three webhook workers and a scheduler are) together keep one rate, and lose nothing when the
database is away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.limits import BUDGET, SendLimiter
from storage.db import make_engine
from storage.send_budget import take_slot

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
    """The row's arithmetic: 60 slots taken at once (faster than they fall due) move the next free slot
    on by exactly 60 intervals, so no two messages of any process share one."""
    interval = 1.0  # long slots: the next free one stays far ahead of the clock while they are taken
    for engine in engines:  # connected, so no connection set-up falls between the slots
        await take_slot(engine, BUDGET, interval, 0.0)
    first = await _tat(engines[0])
    await asyncio.gather(*(take_slot(engines[n % 3], BUDGET, interval, 0.0) for n in range(60)))
    assert await _tat(engines[1]) - first == pytest.approx(60 * interval, abs=1e-6)


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
