"""A login flood against `notoneless run` (web, bot and scheduler in one process): 20 POST /login a
second with random usernames for 10 s from a few clients, while /healthz and a phone's /help are timed.

Before issue 15, argon2 ran on the event loop that also serves the bot: ~16 failed logins a second
raised /healthz p95 to ~3 s and a bot reply from 0.2 s to 5-6 s; on that code this drill measured
/healthz p95 1.3 s, a /help reply of 31 s, and 135 of the 200 logins answered 500 (the database pool
ran dry). Now the password checks run in two low-priority threads behind a bounded queue
(domain.people.webauth, web.login_throttle) and wait for a slot holding no database connection.

The flood comes from one loopback address but stands for many (a botnet): the per-address rate is
lifted for the drill, so the flood does reach the password checks and the queue bound; with the
default rate nearly all of it would be answered 429 at once. The CSRF check is the double-submit
kind (cookie = form field), so a flood needs no GET of the form. Prints its figures.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from time import perf_counter

import httpx
import pytest

from sandbox.emulator import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from tests.drills.conftest import PhoneFactory
from tests.drills.procs import free_port, kill9, log_tail, product_env, spawn, wait_http

FLOOD_RATE = 20  # POST /login a second
FLOOD_SECONDS = 10.0
CLIENTS = 4
HEALTHZ_P95_BOUND = 0.200  # seconds
BOT_REPLY_SLACK = 1.0  # seconds a /help reply may take beyond the quiet p95 during the flood


@pytest.fixture
async def product(
    database_url: str, emulator: Emulator, tg_bot: BotState, tmp_path: Path
) -> AsyncIterator[str]:
    """`notoneless run` polling the emulator; returns the web server's base URL."""
    port = free_port()
    env = product_env(
        database_url,
        tg_bot.token,
        emulator.url,
        tmp_path / "media",
        WEB_HOST="127.0.0.1",
        WEB_PORT=str(port),
        WEB_LOGIN_ATTEMPTS_PER_MINUTE="1000000",
    )
    log = tmp_path / "run.log"
    # `notoneless run`, from this checkout (app.cli has no __main__ guard)
    process = await spawn(["-c", "from app.cli import main; main()", "run"], env, log)
    try:
        try:
            await wait_http(f"http://127.0.0.1:{port}/healthz", process)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"notoneless run did not come up; its log ends:\n{log_tail(log)}") from exc
        yield f"http://127.0.0.1:{port}"
    finally:
        await kill9(process)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def figures(values: list[float]) -> str:
    ordered = sorted(values)
    return (
        f"n={len(ordered)} p50={ordered[len(ordered) // 2] * 1e3:.0f} ms "
        f"p95={p95(ordered) * 1e3:.0f} ms max={ordered[-1] * 1e3:.0f} ms"
    )


async def flood(base: str) -> Counter[int]:
    """Open loop: a request every 1/FLOOD_RATE s, whether or not the earlier ones were answered."""
    statuses: Counter[int] = Counter()
    clients = [
        httpx.AsyncClient(base_url=base, timeout=60, headers={"Cookie": "nol_login_csrf=flood"})
        for _ in range(CLIENTS)
    ]

    async def attempt(client: httpx.AsyncClient) -> None:
        form = {
            "username": f"u{secrets.token_hex(5)}",
            "password": secrets.token_hex(8),
            "csrf_token": "flood",
        }
        try:
            statuses[(await client.post("/login", data=form)).status_code] += 1
        except httpx.TransportError:
            statuses[0] += 1

    loop = asyncio.get_running_loop()
    start, tasks = loop.time(), []
    for i in range(int(FLOOD_RATE * FLOOD_SECONDS)):
        await asyncio.sleep(max(0.0, start + i / FLOOD_RATE - loop.time()))
        tasks.append(asyncio.create_task(attempt(clients[i % CLIENTS])))
    await asyncio.gather(*tasks)
    for client in clients:
        await client.aclose()
    return statuses


async def time_healthz(base: str, stop: asyncio.Event, limit: int = 2000) -> list[float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while not stop.is_set() and len(latencies) < limit:
            t0 = perf_counter()
            assert (await client.get("/healthz")).status_code == 200
            latencies.append(perf_counter() - t0)
            await asyncio.sleep(0.05)
    return latencies


async def time_help(phone: Phone, stop: asyncio.Event | None, rounds: int) -> list[float]:
    """/help round trips (send to reply), `rounds` of them or until `stop`; 1.2 s apart, as the bot keeps
    Telegram's limit of one message a second per chat (closer, the limiter's wait would be timed)."""
    latencies: list[float] = []
    while len(latencies) < rounds and not (stop is not None and stop.is_set()):
        t0 = perf_counter()
        await phone.send("/help")
        await phone.wait_for_reply(timeout=60)
        latencies.append(perf_counter() - t0)
        await asyncio.sleep(1.2)
    return latencies


async def test_a_login_flood_leaves_healthz_and_the_bot_responsive(
    product: str, phones: PhoneFactory
) -> None:
    phone = await phones()
    quiet_bot = await time_help(phone, None, rounds=5)
    stop = asyncio.Event()
    quiet_healthz = await time_healthz(product, stop, limit=20)

    healthz = asyncio.create_task(time_healthz(product, stop))
    bot = asyncio.create_task(time_help(phone, stop, rounds=100))
    try:
        statuses = await flood(product)
    finally:
        stop.set()
    flooded_healthz, flooded_bot = await healthz, await bot

    print(
        f"\nlogin flood: {FLOOD_RATE}/s for {FLOOD_SECONDS:.0f} s from {CLIENTS} clients; answers {dict(statuses)}"
    )
    print(f"/healthz quiet:   {figures(quiet_healthz)}")
    print(f"/healthz flooded: {figures(flooded_healthz)}")
    print(f"bot /help quiet:   {figures(quiet_bot)}")
    print(f"bot /help flooded: {figures(flooded_bot)}")

    assert set(statuses) <= {401, 429}, statuses  # refused or throttled; never an error, never a 403
    assert statuses[401] > 0 and statuses[429] > 0, (
        "the flood reached the password checks and the queue bound"
    )
    assert p95(flooded_healthz) < HEALTHZ_P95_BOUND
    assert len(flooded_bot) >= 3
    assert p95(flooded_bot) < p95(quiet_bot) + BOT_REPLY_SLACK
