"""`notoneless run` as a whole: with a token it talks to the configured Bot API and never serves the
simulator; without one it starts the emulator and the simulator (demo mode)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from app.runner import run
from app.settings import Settings, load_settings
from sandbox.emulator import Emulator
from sandbox.phone import Phone


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[str]:
    """Runs the whole system in this event loop until the block ends; yields its web address."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop))
    base = f"http://127.0.0.1:{settings.web_port}"
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(300):
            if task.done():
                task.result()  # surfaces the start-up error
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the system did not come up")
    try:
        yield base
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def settings_for(database_url: str, tmp_path: object, **kw: object) -> Settings:
    return load_settings(database_url=database_url, web_port=free_port(), media_dir=f"{tmp_path}/media", **kw)


async def test_with_a_token_the_bot_uses_the_configured_api_and_no_simulator_is_served(
    database_url: str, tmp_path: object
) -> None:
    async with Emulator() as emulator:
        bot = emulator.create_bot(username="nol_runner_bot")
        settings = settings_for(
            database_url,
            tmp_path,
            telegram_bot_token=bot.token,
            telegram_api_base_url=emulator.base_url,
            telegram_file_base_url=emulator.file_base_url,
        )
        async with running(settings) as base, httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(f"{base}/simulator")).status_code == 404
            assert "simulator" not in (await client.get(base)).text
            async with await Phone.create(emulator.url, bot.username, language_code="zh-hans") as phone:
                await phone.send("/start")
                assert "邀请链接" in (await phone.wait_for_reply(timeout=20))["text"]


async def test_without_a_token_the_demo_emulator_and_simulator_run(
    database_url: str, tmp_path: object
) -> None:
    settings = settings_for(database_url, tmp_path)
    async with running(settings) as base, httpx.AsyncClient(timeout=5) as client:
        page = await client.get(f"{base}/simulator")
        assert page.status_code == 200
        assert "simulator" in (await client.get(base)).text
