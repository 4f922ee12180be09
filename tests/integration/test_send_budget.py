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

from bot.limits import SendLimiter
from storage.db import make_engine

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
    # 60 messages at 20 a second take about 3 s together; each process on its own budget would take 1 s.
    assert spent >= (len(times) - 1) / RATE - 0.2, spent
    # and no second of it holds more than the rate (plus the one that opens the window)
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= RATE + 1
    print(
        f"shared budget: {len(times)} messages from 3 limiters in {spent:.2f} s ({len(times) / spent:.1f}/s)"
    )


async def test_each_process_alone_would_have_sent_at_its_own_rate(engines: list[AsyncEngine]) -> None:
    """The control for the test above: without the shared row the same burst goes three times as fast."""
    limiters = [SendLimiter(RATE, 1.0) for _ in engines]
    started = time.monotonic()
    batches = await asyncio.gather(
        *(send_times(limiter, range(n * 100, n * 100 + 20)) for n, limiter in enumerate(limiters))
    )
    assert max(t for batch in batches for t in batch) - started < (60 - 1) / RATE - 0.5


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
