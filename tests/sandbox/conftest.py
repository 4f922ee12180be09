"""Fixtures for the Bot API emulator tests: an emulator, a bot, phones and running PTB applications."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from telegram.ext import Application, BaseHandler

from sandbox import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState


@pytest.fixture
def bot(emulator: Emulator) -> BotState:
    """A hosted bot with a fake token."""
    return emulator.create_bot(username="sandbox_test_bot")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client for raw Bot API calls."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as client:
        yield client


@pytest.fixture
async def phone(emulator: Emulator, bot: BotState) -> AsyncIterator[Phone]:
    """A person who has the bot open."""
    person = await Phone.create(
        emulator.url,
        bot.username,
        first_name="Li",
        last_name="Wei",
        username="liwei",
        language_code="zh-hans",
    )
    try:
        yield person
    finally:
        await person.close()


def build_application(emulator: Emulator, bot: BotState, *, updater: bool = True) -> Application:
    """Build a python-telegram-bot Application pointed at the emulator."""
    builder = (
        Application.builder()
        .token(bot.token)
        .base_url(emulator.base_url)
        .base_file_url(emulator.file_base_url)
    )
    if not updater:
        builder = builder.updater(None)
    return builder.build()


@contextlib.asynccontextmanager
async def polling_app(
    emulator: Emulator, bot: BotState, handlers: Sequence[BaseHandler]
) -> AsyncIterator[Application]:
    """Run a PTB application in polling mode for the duration of the block, then stop it cleanly."""
    app = build_application(emulator, bot)
    for handler in handlers:
        app.add_handler(handler)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
