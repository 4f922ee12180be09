"""Migrations run up from an empty database on both backends and match the models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from storage.db import make_engine
from storage.migrate import alembic_config, downgrade, upgrade
from storage.models import Base, Code
from tests import db


@pytest.fixture
async def empty_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A brand-new database with no tables at all."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    if not await db.postgres_available():
        if db.on_ci():
            pytest.fail("PostgreSQL is required under CI=true")
        pytest.skip("PostgreSQL not reachable")
    dsn = await db.create_pg_database("nol_mig")
    try:
        yield db.sqlalchemy_url(dsn)
    finally:
        await db.drop_pg_database(dsn)


def _diff(conn: Connection) -> list[object]:
    return list(
        compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    )


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_migrations_run_up_from_empty_and_match_models(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            assert set(Base.metadata.tables) <= await conn.run_sync(_tables)
            codes = (await conn.execute(select(Code.scheme, Code.code))).all()
        assert ("verification_2019", "G") in codes
        assert ("key_group", "left_behind") in codes
        # Codes the sources leave unknown are not invented (DOMAIN.md §4).
        assert not {("verification_2019", "J"), ("verification_2019", "K"), ("record_system", "A1")} & set(
            codes
        )
    finally:
        await engine.dispose()


async def test_every_migration_steps_down_and_up_again(empty_url: str) -> None:
    """The stairway: each revision upgrades, downgrades and upgrades cleanly."""
    revisions = list(ScriptDirectory.from_config(alembic_config()).walk_revisions("base", "heads"))
    engine = make_engine(empty_url)
    try:
        for rev in reversed(revisions):
            await upgrade(engine, rev.revision)
            await downgrade(engine, rev.down_revision or "base")  # type: ignore[arg-type]
            await upgrade(engine, rev.revision)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
