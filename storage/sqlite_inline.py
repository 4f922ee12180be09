"""SQLite on the event loop's thread: the driver connection the async engine gets for SQLite.

aiosqlite runs every call (cursor, execute, fetch, close, commit) in a thread of its own and hands the
result back through the event loop: some 60 round trips between threads per conversation step, which
cost the bot more CPU than SQLite's own work (bench/RESULTS.md, issue 17). A local SQLite file answers a
statement in microseconds, so this connection runs each call at once in the caller's thread, with the
same interface as aiosqlite's (which SQLAlchemy's aiosqlite dialect adapts), and only a call that must
wait goes to a thread: SQLite reports SQLITE_BUSY at once here (busy_timeout 0), and that call is run
again in a worker thread with the configured busy timeout, so the event loop keeps running (another
task of this process may hold the write lock it waits for) while the call queues for the lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, Self

BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return (code & 0xFF) in BUSY_CODES if code is not None else "locked" in str(error)


class InlineCursor:
    """An aiosqlite-shaped cursor over a sqlite3 cursor."""

    def __init__(self, connection: InlineConnection) -> None:
        self._connection = connection
        self._cursor = connection.raw.cursor()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> InlineCursor:
        await self._connection.run(self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        await self._connection.run(self._cursor.executemany, sql, list(parameters))
        return self

    async def fetchone(self) -> Any:
        return await self._connection.run(self._cursor.fetchone)

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self._cursor.arraysize if size is None else size
        return await self._connection.run(self._cursor.fetchmany, size)  # type: ignore[no-any-return]

    async def fetchall(self) -> list[Any]:
        return await self._connection.run(self._cursor.fetchall)  # type: ignore[no-any-return]

    async def close(self) -> None:
        self._cursor.close()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._rows()

    async def _rows(self) -> AsyncIterator[Any]:
        while (row := await self.fetchone()) is not None:
            yield row


class InlineConnection:
    """An aiosqlite-shaped connection over a sqlite3 connection used from the event loop's thread."""

    def __init__(self, raw: sqlite3.Connection, busy_timeout_ms: int) -> None:
        self.raw = raw
        self._busy_timeout_ms = busy_timeout_ms
        self._connection = raw  # SQLAlchemy's adapter checks this to tell an open connection
        raw.execute("PRAGMA busy_timeout=0")

    async def run(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except sqlite3.OperationalError as error:
            if not _busy(error):
                raise
        return await asyncio.to_thread(self._waiting, call, *args)

    def _waiting(self, call: Callable[..., Any], *args: Any) -> Any:
        """In a worker thread: the call again, waiting up to the busy timeout for the lock."""
        self.raw.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms:d}")
        try:
            return call(*args)
        finally:
            self.raw.execute("PRAGMA busy_timeout=0")

    def cursor(self) -> InlineCursor:
        return InlineCursor(self)

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        await self.run(self.raw.commit)

    async def rollback(self) -> None:
        await self.run(self.raw.rollback)

    async def close(self) -> None:
        self.raw.close()

    def stop(self) -> None:
        self.raw.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.raw.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self.raw.isolation_level


def inline_connector(
    args: Sequence[Any], options: Mapping[str, Any], busy_timeout_ms: int
) -> Callable[[], Any]:
    """The engine's async_creator: a new InlineConnection with the dialect's connect arguments."""

    async def connect() -> InlineConnection:
        raw = sqlite3.connect(*args, **{**options, "check_same_thread": False})
        return InlineConnection(raw, busy_timeout_ms)

    return connect
