"""The bot-wide send budget in the database, for processes that share one bot (PostgreSQL only).

One row per bot holds the theoretical arrival time (GCRA) of its next message, in seconds of the
database's clock, so hosts whose clocks differ still agree. Taking a slot is one UPDATE: a second
process's UPDATE waits for the row lock and then moves the time on from the first one's result, so
every message of every process gets its own slot `interval` apart.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_CREATE = text("INSERT INTO send_budget (name, tat) VALUES (:name, 0) ON CONFLICT (name) DO NOTHING")
_TAKE = text(
    "WITH c AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) "
    "UPDATE send_budget SET tat = GREATEST(tat, c.now) + :interval FROM c "
    "WHERE name = :name RETURNING tat, c.now"
)


async def take_slot(engine: AsyncEngine, name: str, interval: float, tolerance: float) -> float:
    """Reserves the next slot; returns how many seconds from now it starts (0 when it is free now).
    `tolerance` lets that many seconds' worth of messages go early (a burst)."""
    async with engine.connect() as conn:
        row = (await conn.execute(_TAKE, {"name": name, "interval": interval})).first()
        if row is None:  # the first message of this bot ever
            await conn.execute(_CREATE, {"name": name})
            row = (await conn.execute(_TAKE, {"name": name, "interval": interval})).one()
        await conn.commit()
    tat, now = float(row[0]), float(row[1])
    return max(0.0, tat - interval - tolerance - now)
