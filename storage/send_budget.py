"""The bot-wide send budget in the database, for processes that share one bot (PostgreSQL only).

One row per bot holds the theoretical arrival time (GCRA) of its next message, in seconds of the
database's clock, so hosts whose clocks differ still agree. Taking slots is one UPDATE: a second
process's UPDATE waits for the row lock and then moves the time on from the first one's result, so
every message of every process gets its own slot `interval` apart. A process takes a few slots at once
(bot.limits leases them) so that most messages cost no round trip.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_CREATE = text("INSERT INTO send_budget (name, tat) VALUES (:name, 0) ON CONFLICT (name) DO NOTHING")
_TAKE = text(
    "WITH c AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) "
    "UPDATE send_budget SET tat = GREATEST(tat, c.now) + :span FROM c "
    "WHERE name = :name RETURNING tat, c.now"
)


async def take_slots(engine: AsyncEngine, name: str, interval: float, count: int = 1) -> tuple[float, float]:
    """Reserves the next `count` slots, `interval` apart; returns when the first one starts and the
    database's clock at the time, both in seconds of that clock (the first starts now when it is free)."""
    params = {"name": name, "span": interval * count}
    async with engine.connect() as conn:
        row = (await conn.execute(_TAKE, params)).first()
        if row is None:  # the first message of this bot ever
            await conn.execute(_CREATE, {"name": name})
            row = (await conn.execute(_TAKE, params)).one()
        await conn.commit()
    tat, now = float(row[0]), float(row[1])
    return tat - interval * count, now
