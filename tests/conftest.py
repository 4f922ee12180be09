"""Shared fixtures: every storage and end-to-end test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import bot  # noqa: F401  (opts PTB into timedelta time periods as the product does, before any test)
from domain.clock import FixedClock
from domain.policy import Policy, load_policy
from sandbox.emulator import Emulator
from storage.db import make_engine, make_sessionmaker
from storage.uow import UnitOfWorkFactory
from tests import db

T = TypeVar("T")
BACKENDS = ["sqlite", "postgresql"]


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to completion on a fresh loop in a worker thread (safe inside a running loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (much faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_blocking(db.migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_run_dsn() -> Iterator[str | None]:
    """A database of this test run on the local PostgreSQL server, migrated once, dropped at the end."""
    if not run_blocking(db.postgres_available()):
        if db.on_ci():
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required under CI=true but is not reachable")
        yield None
        return
    dsn = run_blocking(db.create_pg_database())
    run_blocking(db.migrate(db.sqlalchemy_url(dsn)))
    yield dsn
    run_blocking(db.drop_pg_database(dsn))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database on the backend under test. Whatever the test did, no open case may be
    left without an owner and a next dated step (`notoneless doctor` clean after every scenario), unless
    the test is marked `silent_cases_allowed` (it builds such cases on purpose)."""
    if backend == "sqlite":
        url = db.copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path / "test.db")
    else:
        dsn = request.getfixturevalue("postgres_run_dsn")
        if dsn is None:
            pytest.skip("PostgreSQL not reachable (tests run on it under CI=true)")
        url = db.sqlalchemy_url(dsn)
        engine = make_engine(url)
        await db.empty_tables(engine)
        await engine.dispose()
    yield url
    if request.node.get_closest_marker("silent_cases_allowed") is None:
        assert await db.silent_cases(url) == [], "cases went silent (owner or next dated step missing)"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def uow_factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(make_sessionmaker(engine))


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A started emulator with realistic limits on (tests that flood turn them off or on explicitly)."""
    emu = Emulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
def clock() -> FixedClock:
    # A Tuesday morning in term time, Beijing 09:00.
    return FixedClock(datetime(2026, 10, 13, 1, 0, tzinfo=UTC))


@pytest.fixture
def policy() -> Policy:
    return load_policy()
