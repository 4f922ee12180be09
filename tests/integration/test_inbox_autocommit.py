"""The polling bot's inbox INSERT on PostgreSQL: a statement of its own on the autocommit pool
(storage.db.make_autocommit_engine), one round trip; kept at once, each update once, and stored even
when the server had closed the pool's connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.clock import FixedClock
from storage.db import make_autocommit_engine
from storage.inbox import keep_alone
from storage.uow import UnitOfWorkFactory

ON_POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"])
BOT = 100001


@pytest.fixture
async def alone(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_autocommit_engine(database_url)
    assert engine is not None
    yield engine
    await engine.dispose()


async def _waiting(uow_factory: UnitOfWorkFactory) -> list[dict[str, object]]:
    async with uow_factory() as uow:
        return list(await uow.inbox.waiting(channel="telegram", bot_id=BOT))


@ON_POSTGRESQL
async def test_a_batch_is_kept_at_once_and_each_update_only_once(
    alone: AsyncEngine, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    batch = {12: {"update_id": 12}, 10: {"update_id": 10}}
    assert await keep_alone(alone, batch, clock.now(), channel="telegram", bot_id=BOT) == {10, 12}
    # no commit anywhere: another connection sees the rows already
    assert await _waiting(uow_factory) == [{"update_id": 10}, {"update_id": 12}]
    again: dict[int, dict[str, Any]] = {12: {"update_id": 12}, 13: {"update_id": 13, "x": "消息"}}
    assert await keep_alone(alone, again, clock.now(), channel="telegram", bot_id=BOT) == {13}
    assert await keep_alone(alone, {}, clock.now(), channel="telegram", bot_id=BOT) == set()
    assert await _waiting(uow_factory) == [
        {"update_id": 10},
        {"update_id": 12},
        {"update_id": 13, "x": "消息"},
    ]


@ON_POSTGRESQL
async def test_the_pool_runs_no_transaction_around_the_statement(alone: AsyncEngine) -> None:
    async with alone.connect() as conn:
        first = (await conn.execute(text("SELECT txid_current()"))).scalar_one()
        assert (await conn.execute(text("SELECT txid_current()"))).scalar_one() != first


@ON_POSTGRESQL
async def test_a_connection_the_server_closed_costs_a_second_try_not_the_batch(
    alone: AsyncEngine, uow_factory: UnitOfWorkFactory, clock: FixedClock, database_url: str
) -> None:
    async with alone.connect() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    admin = await asyncpg.connect("postgresql://" + database_url.split("://", 1)[1])
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    assert await keep_alone(alone, {7: {"update_id": 7}}, clock.now(), channel="telegram", bot_id=BOT) == {7}
    assert await _waiting(uow_factory) == [{"update_id": 7}]


def test_sqlite_has_no_autocommit_pool() -> None:
    assert make_autocommit_engine("sqlite+aiosqlite:///./data/x.db") is None
