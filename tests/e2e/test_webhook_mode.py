"""Webhook mode: the emulator pushes updates to /telegram/webhook, which checks the secret first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from app.container import Services
from bot.application import launch, shutdown
from sandbox.emulator import Emulator
from sandbox.state import BotState
from tests.e2e.conftest import PhoneFactory, invite_code, make_application
from tests.factories import World
from web.app import create_app
from web.webhook import webhook_router

SECRET = "e2e-webhook-secret"


@pytest.fixture
async def webhook_url(services: Services, emulator: Emulator, tg_bot: BotState) -> AsyncIterator[str]:
    """The product's web app on a free loopback port, with the bot registered as a webhook."""
    application = make_application(services, emulator, tg_bot, updater=False)
    app = create_app(services, routers=[webhook_router(application, SECRET)])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "web server did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    try:
        await launch(application, webhook_url=url, secret=SECRET)
        yield url
    finally:
        await shutdown(application)
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


async def test_bot_answers_through_the_webhook(
    webhook_url: str, phones: PhoneFactory, world: World, services: Services, tg_bot: BotState
) -> None:
    assert tg_bot.webhook is not None and tg_bot.webhook.get("url") == webhook_url  # type: ignore[union-attr]
    phone = await phones()
    await phone.start(await invite_code(services, world.staff["teacher_a"].id))
    assert "绑定成功" in (await phone.wait_for_reply(timeout=20))["text"]


async def test_wrong_or_missing_secret_is_refused_before_anything_else(
    webhook_url: str, world: World, services: Services
) -> None:
    code = await invite_code(services, world.staff["teacher_b"].id)
    update = {
        "update_id": 990001,
        "message": {
            "message_id": 1,
            "date": 1760000000,
            "chat": {"id": 4242, "type": "private"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Mallory"},
            "text": f"/start {code}",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    async with httpx.AsyncClient(timeout=10) as client:
        wrong = await client.post(
            webhook_url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
        )
        missing = await client.post(webhook_url, json=update)
    assert (wrong.status_code, missing.status_code) == (403, 403)
    await asyncio.sleep(0.5)
    async with services.uow() as uow:
        assert await uow.directory.binding_for_telegram(4242) is None


async def test_every_handler_blocks_so_the_webhook_answers_after_the_update_is_applied(
    services: Services, emulator: Emulator, tg_bot: BotState
) -> None:
    """A non-blocking handler (block=False) would run after the 200 and be lost with a killed worker."""
    application = make_application(services, emulator, tg_bot, updater=False)
    handlers = [handler for group in application.handlers.values() for handler in group]
    assert handlers and all(handler.block for handler in handlers)
    assert application.error_handlers and all(application.error_handlers.values())
