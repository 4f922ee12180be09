"""Webhook mode: the emulator pushes updates to /telegram/webhook, which checks the secret first."""

from __future__ import annotations

import asyncio
import logging
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
from web.webhook import MAX_UPDATE_BYTES, webhook_router

SECRET = "e2e-webhook-secret"
MARKER = "PRIVATE-孩子的名字"  # must never reach the log
DEEP = 100_000
NOT_UPDATES = [
    b"[]",
    b"[1, 2]",
    ('"' + MARKER + '"').encode(),
    b"null",
    b"42",
    b"{}",
    ('{"message": {"text": "' + MARKER + '"}}').encode(),  # no update_id
    ('{"update_id": "' + MARKER + '"}').encode(),
    b'{"update_id": true}',
    b'{"update_id": -1}',
    b'{"update_id": 99999999999999999999999}',
    ('{"update_id": 7, "message": "' + MARKER + '"}').encode(),
    b'{"update_id": 7, "message": {"message_id": 1, "date": "soon", "chat": 7}}',
    b'{"update_id": 7, "callback_query": [1, 2, 3]}',
    b"[" * DEEP + b"]" * DEEP,
    b'{"update_id": 7, "message": ' + b'{"a": ' * DEEP + b"1" + b"}" * DEEP + b"}",
    b"not json " + MARKER.encode(),
    b"\xff\xfe\x00",
    b"",
]


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
        assert await uow.directory.account("telegram", str(4242)) is None


async def test_every_handler_blocks_so_the_webhook_answers_after_the_update_is_applied(
    services: Services, emulator: Emulator, tg_bot: BotState
) -> None:
    """A non-blocking handler (block=False) would run after the 200 and be lost with a killed worker."""
    application = make_application(services, emulator, tg_bot, updater=False)
    handlers = [handler for group in application.handlers.values() for handler in group]
    assert handlers and all(handler.block for handler in handlers)
    assert application.error_handlers and all(application.error_handlers.values())


async def good_update_still_served(phones: PhoneFactory, services: Services, world: World) -> None:
    """A teacher's /start, delivered by the emulator through the webhook, is applied and answered."""
    phone = await phones()
    await phone.start(await invite_code(services, world.staff["teacher_b"].id))
    assert "绑定成功" in (await phone.wait_for_reply(timeout=20))["text"]


async def test_a_body_that_is_not_an_update_is_refused_with_400_and_one_quiet_log_line(
    webhook_url: str, phones: PhoneFactory, world: World, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="web.webhook")
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=30) as client:
        for body in NOT_UPDATES:
            reply = await client.post(webhook_url, content=body, headers=headers)
            assert reply.status_code == 400, body[:60]
    refusals = [r for r in caplog.records if r.name == "web.webhook"]
    assert len(refusals) == len(NOT_UPDATES)
    for record in refusals:
        text = record.getMessage()
        assert record.exc_info is None and "\n" not in text and MARKER not in text
    assert not [r for r in caplog.records if r.exc_info]  # no traceback anywhere
    await good_update_still_served(phones, services, world)


async def test_a_body_over_the_limit_is_refused_unread(
    webhook_url: str, phones: PhoneFactory, world: World, services: Services
) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    padding = b" " * (MAX_UPDATE_BYTES + 1)  # JSON whitespace: a valid update once it is read whole

    async def chunked() -> AsyncIterator[bytes]:
        yield b'{"update_id": 990003, "pad": "'
        for _ in range(4):
            yield b"x" * (MAX_UPDATE_BYTES // 2)
        yield b'"}'

    async with httpx.AsyncClient(timeout=30) as client:
        declared = await client.post(webhook_url, content=b'{"update_id": 1}' + padding, headers=headers)
        streamed = await client.post(webhook_url, content=chunked(), headers=headers)
    assert (declared.status_code, streamed.status_code) == (413, 413)
    await good_update_still_served(phones, services, world)
