"""Test databases: a migrated SQLite template file, and a per-run PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Base

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
# Rows shipped by migrations; everything else is emptied between tests.
KEEP_TABLES = {"codes", "alembic_version"}


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


async def postgres_available() -> bool:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_DSN), timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def _dsn_for(dbname: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


def sqlalchemy_url(dsn: str) -> str:
    return "postgresql+asyncpg://" + dsn.removeprefix("postgresql://")


async def create_pg_database(prefix: str = "nol_test") -> str:
    """Creates a uniquely named database and returns its asyncpg DSN."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return _dsn_for(name)


async def drop_pg_database(dsn: str) -> None:
    name = dsn.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def copy_sqlite(template: Path, target: Path) -> str:
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


async def empty_tables(engine: AsyncEngine) -> None:
    """Removes test data but keeps reference codes, so each test starts from a migrated database."""
    names = [t.name for t in Base.metadata.sorted_tables if t.name not in KEEP_TABLES]
    async with engine.begin() as conn:
        await conn.execute(
            text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE")
        )


async def silent_cases(url: str) -> list[object]:
    """What `notoneless doctor` would report on this database (domain.casework.invariant)."""
    from domain.casework.invariant import silent_cases as query
    from storage.db import make_sessionmaker
    from storage.uow import UnitOfWorkFactory

    engine = make_engine(url)
    try:
        async with UnitOfWorkFactory(make_sessionmaker(engine))() as uow:
            return list(await query(uow, limit=20))
    finally:
        await engine.dispose()
