"""A bare python-telegram-bot echo bot: the yardstick for the product's update throughput.

Same start-up protocol as tests/drills/bot_process.py (prints "ready", waits for a line on stdin,
prints "polling"), same polling settings as the product, no database, and no rate limiter unless
ECHO_RATE_LIMITER=1 (then the product's rate limiter, bot.limits, at the shipped 28 msg/s; this process's
own budget, as the product has on SQLite).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.limits import BURST, BotRateLimiter, SendLimiter


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_chat is not None and update.effective_message is not None:
        await context.bot.send_message(update.effective_chat.id, update.effective_message.text or "?")


async def main() -> None:
    base = os.environ["TELEGRAM_API_BASE_URL"]
    # Any: the limiter below changes the builder's bot type parameter.
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(base)
        .base_file_url(os.environ["TELEGRAM_FILE_BASE_URL"])
        .concurrent_updates(True)
    )
    if os.environ.get("ECHO_RATE_LIMITER") == "1":  # the product's limiter: at most 28 messages a second
        builder = builder.rate_limiter(BotRateLimiter(SendLimiter(28.0, BURST), max_retries=3))
    application = builder.build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, sys.stdin.readline):
        return
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=["message"])
    print("polling", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
