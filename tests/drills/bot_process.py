"""The product's bot as a separate process, for kill -9 drills: `python -m tests.drills.bot_process`.

Configured by the usual environment (DATABASE_URL, TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE_URL,
TELEGRAM_FILE_BASE_URL, MEDIA_DIR). It imports and builds everything, prints "ready", then waits for a
line on stdin before it starts polling, so a drill can warm up the next process while the current
one is still running and a restart costs only the launch. It prints "polling" once it polls.
NOL_BENCH_NO_RATE_LIMITER=1 removes the bot's rate limiter, bot.limits (bench/: raw step capacity).
NOL_DRILL_GETME_FIRST=1 makes every update call getMe before any handler runs, so a drill can hold an
update that was fetched (and confirmed) but not yet applied, with a delay fault on getMe in the emulator.
NOL_BENCH_TIMINGS=FILE appends the milliseconds the bot spent on each update (first handler to last,
replies included) to FILE, so a benchmark can tell the bot's own time from the harness's.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

from app.container import build_services
from app.logs import configure_logging
from app.settings import get_settings
from bot.application import build_application, freeze_startup_heap, launch


async def _get_me(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await context.bot.get_me()


def _time_updates(application: Application, path: str) -> None:  # type: ignore[type-arg]
    out = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (open until the process dies)
    started: dict[int, float] = {}

    async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        started[update.update_id] = time.perf_counter()

    async def end(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if (t0 := started.pop(update.update_id, None)) is not None:
            out.write(f"{(time.perf_counter() - t0) * 1e3:.2f}\n")

    application.add_handler(TypeHandler(Update, begin), group=-2)
    application.add_handler(TypeHandler(Update, end), group=99)


async def main() -> None:
    settings = get_settings()
    assert settings.token, "TELEGRAM_BOT_TOKEN is required"
    services = build_services(settings)
    application = build_application(
        services,
        token=settings.token,
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
    )
    if (
        os.environ.get("NOL_BENCH_NO_RATE_LIMITER") == "1"
    ):  # benchmarks only: the product without its 30/s cap
        application.bot._rate_limiter = None
    if timings := os.environ.get("NOL_BENCH_TIMINGS"):  # benchmarks only
        _time_updates(application, timings)
    if os.environ.get("NOL_DRILL_GETME_FIRST") == "1":  # drills only: a point where an update can be held
        application.add_handler(TypeHandler(Update, _get_me), group=-1)
    async with services.uow() as uow:  # opens the pool and proves the database answers
        await uow.directory.areas()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, sys.stdin.readline):
        return  # the drill went away before starting this process
    await launch(application, poll_timeout=1)
    freeze_startup_heap()
    print("polling", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # until killed, or the drill closes stdin
    os._exit(0)  # no graceful shutdown: a drill process only ever ends abruptly


if __name__ == "__main__":
    configure_logging(get_settings().log_level)
    asyncio.run(main())
