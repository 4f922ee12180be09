"""python-telegram-bot 22 in webhook mode: the emulator pushes updates with the secret header."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from sandbox import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from tests.sandbox.conftest import build_application

SECRET = "s3cret-token_1"


class Receiver:
    """A tiny webhook endpoint on 127.0.0.1 that feeds PTB's update queue."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self.wrong_secrets: list[str | None] = []
        self.received = 0

    async def handle(self, request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        if secret != SECRET:
            self.wrong_secrets.append(secret)
            return web.Response(status=403)
        self.received += 1
        await self.app.update_queue.put(Update.de_json(await request.json(), self.app.bot))
        return web.Response()


@pytest.fixture
async def webhook_setup(
    emulator: Emulator, bot: BotState
) -> AsyncIterator[tuple[Application, Receiver, str]]:
    app = build_application(emulator, bot, updater=False)

    async def shout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text.upper())

    app.add_handler(MessageHandler(filters.TEXT, shout))
    receiver = Receiver(app)
    server = web.Application()
    server.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    await app.initialize()
    await app.start()
    try:
        yield app, receiver, url
    finally:
        await app.bot.delete_webhook()
        await app.stop()
        await app.shutdown()
        await runner.cleanup()


async def test_webhook_delivery_with_secret(
    webhook_setup: tuple[Application, Receiver, str], phone: Phone
) -> None:
    app, receiver, url = webhook_setup
    assert await app.bot.set_webhook(url, secret_token=SECRET)
    await phone.send("hello webhook")
    reply = await phone.wait_for_reply(timeout=15)
    assert reply["text"] == "HELLO WEBHOOK"
    info = await app.bot.get_webhook_info()
    assert info.url == url and info.last_error_message is None
    assert receiver.received == 1 and receiver.wrong_secrets == []


async def test_webhook_gives_up_after_bounded_attempts(
    webhook_setup: tuple[Application, Receiver, str], emulator: Emulator, phone: Phone
) -> None:
    app, receiver, url = webhook_setup
    emulator.webhooks.max_attempts = 2
    assert await app.bot.set_webhook(url, secret_token="wrong")
    await phone.send("lost")
    for _ in range(100):  # bounded: ~10 s
        if emulator.stats()["webhook"]["dropped"] == 1:
            break
        await asyncio.sleep(0.1)
    assert emulator.stats()["webhook"]["dropped"] == 1
    assert len(receiver.wrong_secrets) == 2
    assert (await app.bot.get_webhook_info()).pending_update_count == 0


async def test_wrong_secret_is_visible_and_retried(
    webhook_setup: tuple[Application, Receiver, str], emulator: Emulator, phone: Phone
) -> None:
    app, receiver, url = webhook_setup
    emulator.webhooks.max_attempts = 200  # still bounded, but enough to outlive this test's fix-up
    assert await app.bot.set_webhook(url, secret_token="not-the-secret")
    await phone.send("first")
    info = None
    for _ in range(100):  # bounded: ~10 s
        info = await app.bot.get_webhook_info()
        if info.last_error_message and len(receiver.wrong_secrets) >= 2:
            break
        await asyncio.sleep(0.1)
    assert info is not None and info.last_error_message == "Wrong response from the webhook: 403 Forbidden"
    assert receiver.wrong_secrets[:2] == ["not-the-secret", "not-the-secret"]  # retried
    # Fixing the secret lets the queued update through, in order, before the next one.
    assert await app.bot.set_webhook(url, secret_token=SECRET)
    await phone.send("second")
    await phone.wait_for_reply(lambda m: m["text"] == "SECOND", timeout=15)
    assert [m["text"] for m in phone.messages] == ["FIRST", "SECOND"]
    assert emulator.stats()["webhook"]["delivered"] >= 1
