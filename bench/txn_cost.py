"""`python -m bench.txn_cost`: what one small write transaction costs the client's CPU, through the
product's storage layers (SQLAlchemy's session and pool, storage/db.py's engine) and through the bare
driver, on SQLite and PostgreSQL (issue 17).

Each update costs the bot two transactions (the inbox's INSERT of the batch; the step's reads and writes),
so their fixed cost is a large part of a step's. The transaction measured is the inbox's: one INSERT of
one row (`storage.inbox._keep_statement`), committed. The variants alternate, 300 transactions at a
time, and the CPU time is this process's (time.process_time: every thread, user and kernel). Nothing else
should run meanwhile; it prints a table and asserts nothing.

  python -m bench.txn_cost [--transactions 1500] [--backends sqlite postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench.harness import scratch_database
from storage.db import make_autocommit_engine, make_engine, make_sessionmaker
from storage.inbox import _keep_statement, keep_alone
from storage.uow import UnitOfWorkFactory
from tests import db

ROUND = 300
INSERT = (
    "INSERT INTO inbox (channel, bot_id, update_id, received_at, payload, attempts) "
    "VALUES ({}) ON CONFLICT DO NOTHING RETURNING update_id"
)
Variant = Callable[[], Awaitable[None]]


async def variants(url: str) -> tuple[dict[str, Variant], Callable[[], Awaitable[None]]]:
    """The ways to do the same transaction, by name, and what closes their connections."""
    engine = make_engine(url)
    uows = UnitOfWorkFactory(make_sessionmaker(engine))
    statement = _keep_statement(engine.dialect.name)
    ids = itertools.count(1)
    now = datetime.now(UTC)

    def row() -> dict[str, Any]:
        n = next(ids)
        payload = {"update_id": n, "message": {"message_id": n, "text": "x" * 40}}
        return {
            "channel": "telegram",
            "bot_id": 1,
            "update_id": n,
            "received_at": now,
            "payload": payload,
            "attempts": 0,
            "sender": None,
            "sent_at": None,
        }

    async def unit_of_work() -> None:
        async with uows() as uow:
            (await uow.session.scalars(statement, row())).all()
            await uow.commit()

    async def begin_commit() -> None:
        async with uows() as uow:
            await uow.session.connection()
            await uow.commit()

    async def checkout() -> None:
        async with engine.connect():
            pass

    found: dict[str, Variant] = {
        "unit of work: INSERT, commit": unit_of_work,
        "unit of work: nothing, commit": begin_commit,
        "pool checkout and checkin only": checkout,
    }
    closers: list[Callable[[], Awaitable[None]]] = [engine.dispose]
    if (alone := make_autocommit_engine(url)) is not None:

        async def autocommit_pool() -> None:
            r = row()
            await keep_alone(alone, {r["update_id"]: r["payload"]}, now, channel="telegram", bot_id=1)

        found["autocommit pool: INSERT (the polling bot's inbox)"] = autocommit_pool
        closers.append(alone.dispose)
    if engine.dialect.name == "postgresql":
        raw = await asyncpg.connect("postgresql://" + url.removeprefix("postgresql+asyncpg://"))
        insert = INSERT.format("$1, $2, $3, $4, $5, 0")

        async def asyncpg_transaction() -> None:
            r = row()
            async with raw.transaction():
                await raw.fetch(insert, *_values(r))

        async def asyncpg_autocommit() -> None:
            await raw.fetch(insert, *_values(row()))

        found["asyncpg alone: INSERT in a transaction"] = asyncpg_transaction
        found["asyncpg alone: INSERT, autocommit"] = asyncpg_autocommit
        closers.append(raw.close)
    else:
        database = make_url(url).database
        assert database is not None
        conn = sqlite3.connect(database, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")
        insert = INSERT.format("?, ?, ?, ?, ?, 0")

        async def sqlite3_transaction() -> None:
            r = row()
            conn.execute("BEGIN")
            values = _values(r)
            values[3] = r["received_at"].isoformat()
            conn.execute(insert, values).fetchall()
            conn.execute("COMMIT")

        async def close_sqlite() -> None:
            conn.close()

        found["sqlite3 alone (blocking): INSERT in a transaction"] = sqlite3_transaction
        closers.append(close_sqlite)

    async def close() -> None:
        for closer in closers:
            await closer()

    return found, close


def _values(r: dict[str, Any]) -> list[Any]:
    return [r["channel"], r["bot_id"], r["update_id"], r["received_at"], json.dumps(r["payload"])]


async def measure(url: str, transactions: int) -> dict[str, float]:
    """Milliseconds of CPU per transaction, by variant, on the migrated database at `url`."""
    found, close = await variants(url)
    try:
        for variant in found.values():  # warm-up: connections made, statements prepared
            for _ in range(50):
                await variant()
        spent = dict.fromkeys(found, 0.0)
        rounds = max(1, transactions // ROUND)
        for _ in range(rounds):
            for name, variant in found.items():
                started = time.process_time()
                for _ in range(ROUND):
                    await variant()
                spent[name] += time.process_time() - started
    finally:
        await close()
    return {name: seconds / (rounds * ROUND) * 1e3 for name, seconds in spent.items()}


async def run(args: argparse.Namespace) -> None:
    print("| db | transaction | client CPU ms per transaction |\n|---|---|---|")
    for backend in args.backends:
        if backend == "postgresql" and not await db.postgres_available():
            print("| postgresql | not reachable | |")
            continue
        async with scratch_database(backend) as url:
            figures = await measure(url, args.transactions)
        for name, ms in figures.items():
            print(f"| {backend} | {name} | {ms:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.txn_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1500, help="per variant (in rounds of 300)")
    parser.add_argument(
        "--backends", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
