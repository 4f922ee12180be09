"""Webhook delivery as Telegram does it: failed requests are retried with backoff a bounded number of
times, queues are per chat (taps: per user), and up to max_connections queues send at once."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiohttp import web

from sandbox import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from sandbox.webhook import WebhookDeliverer, queue_of
from tests.waiting import until

Behave = Callable[[web.Request, dict[str, Any], int], Awaitable[web.StreamResponse]]


class Receiver:
    """A webhook endpoint whose answer to each request is scripted by `behave(request, update, attempt)`."""

    def __init__(self, behave: Behave) -> None:
        self.behave = behave
        self.seen: list[int] = []  # update ids, in arrival order (a retry appears again)
        self.texts: list[str] = []  # texts of the updates answered 200
        self.open = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        update = await request.json()
        self.seen.append(update["update_id"])
        self.open += 1
        try:
            response = await self.behave(request, update, self.seen.count(update["update_id"]))
        finally:
            self.open -= 1
        answered = request.transport is not None and not request.transport.is_closing()
        if response.status == 200 and answered:
            self.texts.append(update["message"]["text"])
        return response


async def ok(request: web.Request, update: dict[str, Any], attempt: int) -> web.StreamResponse:
    return web.Response()


@asynccontextmanager
async def serving(receiver: Receiver, port: int = 0) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    finally:
        await runner.cleanup()


async def set_webhook(emulator: Emulator, bot: BotState, url: str, **options: Any) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(f"{emulator.base_url}{bot.token}/setWebhook", json={"url": url, **options})
    assert answer.json()["result"] is True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_retries_start_at_once_then_double_up_to_the_cap() -> None:
    deliverer = WebhookDeliverer(base_backoff=0.1, max_backoff=0.5)
    assert [deliverer.retry_delay(n) for n in range(1, 7)] == [0.0, 0.1, 0.2, 0.4, 0.5, 0.5]


def test_queues_are_per_chat_for_messages_and_per_user_for_taps() -> None:
    message = {"update_id": 1, "message": {"chat": {"id": 7}, "from": {"id": 7}}}
    edit = {"update_id": 2, "edited_message": {"chat": {"id": 7}, "from": {"id": 7}}}
    tap = {"update_id": 3, "callback_query": {"from": {"id": 7}, "message": {"chat": {"id": 7}}}}
    assert queue_of(message) == queue_of(edit) == ("chat", 7)
    assert queue_of(tap) == ("user", 7)


async def _fails_once(emulator: Emulator, bot: BotState, phone: Phone, first: Behave) -> Receiver:
    async def behave(request: web.Request, update: dict[str, Any], attempt: int) -> web.StreamResponse:
        return await (first if attempt == 1 else ok)(request, update, attempt)

    receiver = Receiver(behave)
    async with serving(receiver) as url:
        await set_webhook(emulator, bot, url)
        await phone.send("hello")
        await until(lambda: emulator.stats()["webhook"]["delivered"] == 1, "delivered")
    return receiver


async def test_a_5xx_answer_is_retried(emulator: Emulator, bot: BotState, phone: Phone) -> None:
    async def fail(request: web.Request, update: dict[str, Any], attempt: int) -> web.StreamResponse:
        return web.Response(status=503)

    receiver = await _fails_once(emulator, bot, phone, fail)
    assert len(receiver.seen) == 2 and receiver.seen[0] == receiver.seen[1]
    assert receiver.texts == ["hello"]
    assert bot.last_webhook_error is not None
    assert bot.last_webhook_error[1] == "Wrong response from the webhook: 503 Service Unavailable"
    assert bot.pending == [] and emulator.stats()["webhook"]["dropped"] == 0


async def test_a_connection_reset_before_any_answer_is_retried(
    emulator: Emulator, bot: BotState, phone: Phone
) -> None:
    async def reset(request: web.Request, update: dict[str, Any], attempt: int) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()  # what a worker killed with SIGKILL leaves behind
        return web.Response()

    receiver = await _fails_once(emulator, bot, phone, reset)
    assert len(receiver.seen) == 2 and receiver.texts == ["hello"]
    assert bot.last_webhook_error is not None and bot.last_webhook_error[1].startswith("Connection failed")


async def test_a_request_that_times_out_is_retried(emulator: Emulator, bot: BotState, phone: Phone) -> None:
    emulator.webhooks.request_timeout = 0.5

    async def stall(request: web.Request, update: dict[str, Any], attempt: int) -> web.StreamResponse:
        await asyncio.Event().wait()  # cancelled when the emulator gives up on the request
        raise AssertionError("unreachable")

    receiver = await _fails_once(emulator, bot, phone, stall)
    assert len(receiver.seen) == 2 and receiver.texts == ["hello"]
    assert bot.last_webhook_error is not None and bot.last_webhook_error[1] == "Read timeout expired"


async def test_a_refused_connection_is_retried_until_the_endpoint_is_back(
    emulator: Emulator, bot: BotState, phone: Phone
) -> None:
    emulator.webhooks.max_attempts = 100  # bounded, and more than this test needs
    port = free_port()
    await set_webhook(emulator, bot, f"http://127.0.0.1:{port}/hook")
    await phone.send("anyone there?")
    update_id = bot.pending[0]["update_id"]
    await until(lambda: bot.webhook_posts[update_id] >= 3, "three refused attempts")
    assert bot.last_webhook_error is not None and bot.last_webhook_error[1] == "Connection refused"
    receiver = Receiver(ok)
    async with serving(receiver, port):
        await until(lambda: receiver.texts == ["anyone there?"] and not bot.pending, "delivered")
    assert emulator.stats()["webhook"] == {"delivered": 1, "dropped": 0}


async def test_a_failing_update_holds_back_only_its_own_chat(
    emulator: Emulator, bot: BotState, phone: Phone
) -> None:
    emulator.webhooks.max_attempts = 1000
    emulator.webhooks.max_backoff = 0.05
    other = await Phone.create(emulator.url, bot.username, first_name="Zhang")
    blocked = asyncio.Event()

    async def behave(request: web.Request, update: dict[str, Any], attempt: int) -> web.StreamResponse:
        if update["message"]["chat"]["id"] == phone.user_id and not blocked.is_set():
            return web.Response(status=500)
        return web.Response()

    receiver = Receiver(behave)
    try:
        async with serving(receiver) as url:
            await set_webhook(emulator, bot, url)
            await phone.send("first")
            await phone.send("second")
            await other.send("meanwhile")
            await until(lambda: "meanwhile" in receiver.texts, "the other chat delivered")
            assert receiver.texts == ["meanwhile"]  # both of the first chat's updates still wait
            blocked.set()
            await until(lambda: len(receiver.texts) == 3, "the first chat delivered")
    finally:
        await other.close()
    assert receiver.texts == ["meanwhile", "first", "second"]  # in order within the chat


@pytest.mark.parametrize("max_connections", [1, 2])
async def test_at_most_max_connections_requests_are_open_at_once(
    emulator: Emulator, bot: BotState, max_connections: int
) -> None:
    gate = asyncio.Event()

    async def hold(request: web.Request, update: dict[str, Any], attempt: int) -> web.StreamResponse:
        await gate.wait()
        return web.Response()

    receiver = Receiver(hold)
    phones = [await Phone.create(emulator.url, bot.username, first_name=f"P{n}") for n in range(3)]
    try:
        async with serving(receiver) as url:
            await set_webhook(emulator, bot, url, max_connections=max_connections)
            for n, person in enumerate(phones):
                await person.send(f"from {n}")
            await until(lambda: receiver.open == max_connections, "requests open")
            await asyncio.sleep(0.3)  # room for a request beyond the limit to show up, if one would
            assert receiver.open == max_connections == len(bot.webhook_in_flight)
            gate.set()
            await until(lambda: len(receiver.texts) == 3, "all delivered")
    finally:
        for person in phones:
            await person.close()
    assert sorted(receiver.texts) == ["from 0", "from 1", "from 2"]
