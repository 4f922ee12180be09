"""Tokens made before tokens expired get an end on upgrade: 90 days after they were made, or 90 days
after the upgrade when that has already passed (never cut off at the upgrade itself)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.db import make_engine
from storage.migrate import upgrade
from storage.types import UTCDateTime
from tests import db

_staff = sa.table(
    "staff",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("phone", sa.String()),
    sa.column("role", sa.String()),
    sa.column("active", sa.Boolean()),
    sa.column("created_at", UTCDateTime()),
)
_tokens = sa.table(
    "api_tokens",
    sa.column("id", sa.Integer()),
    sa.column("token_hash", sa.String()),
    sa.column("staff_id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("created_at", UTCDateTime()),
    sa.column("expires_at", UTCDateTime()),
)


@pytest.fixture
async def empty_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    if not await db.postgres_available():
        if db.on_ci():
            pytest.fail("PostgreSQL is required under CI=true")
        pytest.skip("PostgreSQL not reachable")
    dsn = await db.create_pg_database("nol_tok")
    try:
        yield db.sqlalchemy_url(dsn)
    finally:
        await db.drop_pg_database(dsn)


async def test_existing_tokens_get_an_expiry_no_earlier_than_90_days_after_the_upgrade(
    empty_url: str,
) -> None:
    engine = make_engine(empty_url)
    now = datetime.now(UTC)
    recent, old = now - timedelta(days=10), now - timedelta(days=400)
    try:
        await upgrade(engine, "0010")
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(_staff).values(
                    id=1,
                    name="测试科长",
                    phone="13800000008",
                    role="county_officer",
                    active=True,
                    created_at=old,
                )
            )
            await conn.execute(
                sa.insert(_tokens),
                [
                    {"id": 1, "token_hash": "a" * 64, "staff_id": 1, "name": "recent", "created_at": recent},
                    {"id": 2, "token_hash": "b" * 64, "staff_id": 1, "name": "old", "created_at": old},
                ],
            )
        await upgrade(engine)
        async with engine.connect() as conn:
            expiry = dict((await conn.execute(sa.select(_tokens.c.name, _tokens.c.expires_at))).all())
        after = datetime.now(UTC)
        assert expiry["recent"] == recent + timedelta(days=90)
        assert now + timedelta(days=90) <= expiry["old"] <= after + timedelta(days=90)
    finally:
        await engine.dispose()
