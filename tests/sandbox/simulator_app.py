"""A demo bot and a FastAPI app mounting the simulator router, shared by the simulator tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from sandbox import Emulator
from sandbox.simulator import simulator_router

PEOPLE = [
    {
        "telegram_user_id": 810001,
        "name": "王老师",
        "role_label": "班主任 / Teacher",
        "language": "zh",
        "start_payload": "demo-teacher",
    },
    {"telegram_user_id": 810002, "name": "Coordinator Li", "role_label": "Coordinator", "language": "en"},
]


async def hello(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Say hi back", callback_data="hi")]])
    await update.message.reply_text(f"hello {update.message.text}", reply_markup=keyboard)


async def tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("👋")
    await query.edit_message_text(f"you tapped {query.data}")


HELLO_HANDLERS: list[BaseHandler[Any, Any, Any]] = [
    MessageHandler(filters.TEXT, hello),
    CallbackQueryHandler(tapped),
]


def make_app(emulator: Emulator) -> FastAPI:
    """Return a FastAPI app with the simulator router over the demo people."""

    async def list_people() -> list[dict[str, Any]]:
        return PEOPLE

    app = FastAPI()
    app.include_router(simulator_router(emulator, list_people))
    return app


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 and a free port; yield its URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):  # bounded: ~10 s to start
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)
