"""PostgreSQL's pool (storage/db.py): every connection is pinged before use (its transaction's BEGIN) and
replaced if the server closed it meanwhile, so nobody sees an error after a restart."""

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


async def test_each_checkout_is_a_transaction_of_its_own(engine: AsyncEngine) -> None:
    """The ping is the transaction's BEGIN: the statements after it run in that transaction, a commit ends
    it, and the next checkout of the same connection begins another."""
    seen = []
    for _ in range(2):
        async with engine.connect() as conn:
            ids = [(await conn.execute(text("SELECT txid_current()"))).scalar_one() for _ in range(2)]
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await conn.commit()
        assert ids[0] == ids[1]
        seen.append((pid, ids[0]))
    assert seen[0][0] == seen[1][0] and seen[0][1] != seen[1][1]


async def test_an_isolation_level_chosen_after_checkout_still_applies(engine: AsyncEngine) -> None:
    """storage/backup_db.py dumps in a REPEATABLE READ snapshot, chosen after the BEGIN of the checkout."""
    async with engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            level = (await conn.execute(text("SHOW transaction_isolation"))).scalar_one()
    assert level == "repeatable read"
    async with engine.connect() as conn:  # back in the pool at the default level
        assert (await conn.execute(text("SHOW transaction_isolation"))).scalar_one() == "read committed"
    async with engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
        first = (await conn.execute(text("SELECT txid_current()"))).scalar_one()
        assert (await conn.execute(text("SELECT txid_current()"))).scalar_one() != first  # no transaction
