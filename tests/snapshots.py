"""What a database and a photo store hold, in a form two of them can be compared by: every row of every
table ordered by primary key, and every photo's bytes by name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import make_engine

Rows = dict[str, list[tuple[Any, ...]]]


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[AsyncConnection]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


async def _tables(conn: AsyncConnection) -> MetaData:
    meta = MetaData()
    await conn.run_sync(meta.reflect)
    return meta


async def all_rows(url: str) -> Rows:
    """Every row of every table (as the database itself lists them), ordered by primary key."""
    async with connected(url) as conn:
        found: Rows = {}
        for table in (await _tables(conn)).sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            result = await conn.execute(select(table).order_by(*order))
            found[table.name] = [tuple(row) for row in result]
        return found


async def row_counts(url: str) -> dict[str, int]:
    async with connected(url) as conn:
        return {
            table.name: int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
            for table in (await _tables(conn)).sorted_tables
        }


def photos(media_dir: Path) -> dict[str, bytes]:
    """Every file of the store by its path inside it (temporary files of a write included: there must be none)."""
    if not media_dir.is_dir():
        return {}
    return {p.relative_to(media_dir).as_posix(): p.read_bytes() for p in media_dir.rglob("*") if p.is_file()}
