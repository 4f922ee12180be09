"""The product's bot in its own process for bench.step_cost: `python -m bench.product_bot`.

The same start-up as tests/drills/bot_process.py (the real services and build_application, `launch`, the
start-up heap frozen; prints "ready", waits for a line, prints "polling"), configured by the usual
environment. NOL_BENCH_NO_RATE_LIMITER=1 removes the bot's rate limiter (raw step capacity). Once
polling, it reads commands on stdin: "profile" starts cProfile in this process, "dump PATH" stops it and
writes the stats to PATH (then prints "dumped"). When stdin closes it stops as the product does
(polling stopped, the updates handled in the last second forgotten) and exits: killed instead, it would
leave those updates in the inbox, and the next bot on the same database would handle them again and send
their replies again, ahead of the next scenario's (1.2 s of replies for 40 phones, bench.step_cost).
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import sys

from app.container import build_services
from app.logs import configure_logging
from app.settings import get_settings
from bot.application import build_application, freeze_startup_heap, launch, shutdown


def _count_sql() -> None:
    path = os.environ.get("NOL_BENCH_SQL_LOG")
    if not path:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    out = open(path, "a", buffering=1)  # noqa: SIM115

    @event.listens_for(Engine, "before_cursor_execute")
    def _stmt(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        out.write("SQL " + " ".join(statement.split())[:150] + "\n")

    @event.listens_for(Engine, "commit")
    def _commit(conn):  # type: ignore[no-untyped-def]
        out.write("COMMIT\n")

    @event.listens_for(Engine, "rollback")
    def _rollback(conn):  # type: ignore[no-untyped-def]
        out.write("ROLLBACK\n")


async def main() -> None:
    _count_sql()
    settings = get_settings()
    assert settings.token, "TELEGRAM_BOT_TOKEN is required"
    services = build_services(settings)
    application = build_application(
        services,
        token=settings.token,
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
    )
    if os.environ.get("NOL_BENCH_NO_RATE_LIMITER") == "1":
        application.bot._rate_limiter = None
    async with services.uow() as uow:  # opens the pool and proves the database answers
        await uow.directory.areas()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, sys.stdin.readline):
        return
    await launch(application, poll_timeout=1)
    freeze_startup_heap()
    print("polling", flush=True)
    profiler = cProfile.Profile()
    while command := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
        if command == "profile":
            profiler.enable()
        elif command.startswith("dump "):
            profiler.disable()
            profiler.dump_stats(command.removeprefix("dump "))
            print("dumped", flush=True)
    await shutdown(application)
    await services.close()
    os._exit(0)  # threads reading stdin would hold up a normal exit


if __name__ == "__main__":
    configure_logging(get_settings().log_level)
    asyncio.run(main())
