"""PostgreSQL's pool (storage/db.py): every connection is pinged before use (one round trip) and replaced
if the server closed it meanwhile, so nobody sees an error after a restart."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_pooled_connection_the_server_closed_is_replaced_without_an_error(
    engine: AsyncEngine, database_url: str
) -> None:
    first = await _backend_pid(engine)
    assert await _backend_pid(engine) == first  # the pool's connection, used again
    admin = await asyncpg.connect("postgresql://" + database_url.split("://", 1)[1])
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
    finally:
        await admin.close()
    assert await _backend_pid(engine) != first  # no error: pinged, found closed, replaced
