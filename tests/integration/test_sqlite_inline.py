"""storage/sqlite_inline.py: SQLite calls run on the event loop's thread, and a call that must wait for the
write lock waits in a worker thread, so the loop (and the task holding the lock) keeps running."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage.db import make_engine


@pytest.fixture
async def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    yield engine
    await engine.dispose()


async def test_calls_run_on_the_loops_thread(engine) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    async with engine.begin() as conn:
        raw = await conn.get_raw_connection()
        raw.driver_connection.raw.create_function("thread", 0, lambda: threading.current_thread().name)
        seen.append((await conn.execute(text("SELECT thread()"))).scalar_one())
    assert seen == [threading.current_thread().name]


async def test_a_writer_of_this_process_waits_for_another_task_holding_the_lock(engine) -> None:  # type: ignore[no-untyped-def]
    holding, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (n) VALUES (1)"))  # takes the write lock
            holding.set()
            await release.wait()  # the lock stays held while the loop runs other tasks

    async def second() -> None:
        await holding.wait()
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (n) VALUES (2)"))  # busy: waits in a worker thread

    writers = asyncio.gather(first(), second())
    await holding.wait()
    await asyncio.sleep(0.2)  # the loop is not blocked by the waiting writer: this sleep ends
    release.set()
    await asyncio.wait_for(writers, 10)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all() == [1, 2]


async def test_a_writer_waits_for_another_process_and_the_loop_keeps_running(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process's writer
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (n) VALUES (3)"))

    ticking = asyncio.create_task(ticker())
    writing = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writing.done() and ticks >= 5  # queued for the lock, not failed, and the loop runs
    other.execute("COMMIT")
    await asyncio.wait_for(writing, 10)
    ticking.cancel()
    other.close()
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT n FROM t"))).scalars().all() == [3]


async def test_other_errors_are_raised_as_they_are(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OperationalError, match="no such table"):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM missing"))
