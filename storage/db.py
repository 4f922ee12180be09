"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_

from storage.sqlite_inline import inline_connector

# Writers wait this long for SQLite's write lock (storage/sqlite_inline.py waits in a worker thread), so
# they queue, not fail.
BUSY_TIMEOUT_MS = 15000
T = TypeVar("T")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the dashboard read while the bot writes.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def private_sqlite_file(database: str) -> None:
    """Creates the database file readable by its owner only (it holds minors' records; SQLite would make
    it 0644 under the usual umask) and takes group and other access off an existing one and its -wal and
    -shm files. SQLite creates those two with the database file's mode, so they follow."""
    path = Path(database)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # an empty file is a valid empty database
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = file.stat().st_mode & 0o777
            if mode & 0o077:
                file.chmod(mode & 0o700)
        except OSError:  # gone meanwhile, or not ours to change: SQLite reports what matters
            pass


def make_engine(database_url: str, *, ping: bool = True, **kwargs: Any) -> AsyncEngine:
    """Creates the async engine; for SQLite makes sure the folder and a private file exist. PostgreSQL's
    connections are pinged at checkout (`_ping`) unless `ping` is False."""
    url = make_url(database_url)
    # Statement errors would otherwise quote their parameters (names, ID numbers, phones) in every traceback.
    kwargs.setdefault("hide_parameters", True)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            private_sqlite_file(url.database)
        args, options = SQLiteDialect_aiosqlite().create_connect_args(url)
        kwargs.setdefault("async_creator", inline_connector(args, options, BUSY_TIMEOUT_MS))
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    engine = create_async_engine(url, **kwargs)
    if ping and not kwargs.get("pool_pre_ping"):
        event.listen(engine.sync_engine, "checkout", _ping)
    return engine


def make_autocommit_engine(database_url: str) -> AsyncEngine | None:
    """PostgreSQL only: a small pool in autocommit mode, for a write that is one statement (the inbox's
    INSERT of a batch, for every batch a polling bot fetches). There it is one round trip, where a
    transaction takes three (BEGIN, the statement, COMMIT): 0.27 against 0.50 ms of the client's CPU
    (bench/RESULTS.md, issue 17). Its connections are not pinged, since a ping would be one more round
    trip: `once_more_if_cut` runs the statement again on a new connection instead. SQLite: None (a
    statement there costs no round trip, and one writer holds the file anyway)."""
    if make_url(database_url).get_backend_name() == "sqlite":
        return None
    return make_engine(database_url, ping=False, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=4)


async def once_more_if_cut(run: Callable[[], Awaitable[T]]) -> T:
    """`run()`, and once more if the server had closed its connection (a restart, a cut): SQLAlchemy has
    then dropped that connection from the pool, so the second try takes a new one."""
    try:
        return await run()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return await run()


def _ping(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Every pooled PostgreSQL connection is pinged before use and replaced if the server closed it (a
    restart, a cut), so nobody sees the error. pool_pre_ping does it with asyncpg in three round trips
    (BEGIN, a query, ROLLBACK); here the ping is the BEGIN of the transaction the connection is checked
    out for, which its first statement would send anyway: no extra round trip. (A later change of
    isolation level rolls that BEGIN back first, as SQLAlchemy's asyncpg adapter always does.) A connection
    in autocommit mode, or already in a transaction, gets `SELECT 1` in the simple query protocol."""
    try:
        if dbapi_conn._transaction is None and not dbapi_conn.autocommit:
            await_(dbapi_conn._start_transaction())
        else:
            await_(dbapi_conn.driver_connection.execute("SELECT 1"))
    except Exception as exc:  # the driver's error for a closed connection, whatever its class
        raise DisconnectionError("pooled connection lost") from exc


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
