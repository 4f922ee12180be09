"""`notoneless run` as a whole: with a token it talks to the configured Bot API and never serves the
simulator; with DEMO=true it starts the emulator and the simulator (demo mode)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from app.container import Services, build_services
from app.leadership import SCHEDULER
from app.runner import run
from app.settings import Settings, load_settings
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from storage import leases
from storage.models import Lease
from tests.drills.procs import kill9, log_tail, spawn, wait_http


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


async def test_in_demo_mode_the_emulator_and_simulator_run(database_url: str, tmp_path: object) -> None:
    settings = settings_for(database_url, tmp_path, demo=True)
    async with running(settings) as base, httpx.AsyncClient(timeout=5) as client:
        page = await client.get(f"{base}/simulator")
        assert page.status_code == 200
        assert "simulator" in (await client.get(base)).text


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sigterm_stops_run_cleanly_and_its_scheduler_resigns(database_url: str, tmp_path: Path) -> None:
    """What systemd sends: the web server, the bot and the in-process scheduler stop in order, the lease is
    given up (a standby would lead at once) and the process exits 0."""
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "WEB_", "DEMO"))
    }
    env.update(
        DATABASE_URL=database_url,
        WEB_PORT=str(port),
        MEDIA_DIR=str(tmp_path / "media"),
        LOG_LEVEL="INFO",
        DEMO="true",
    )
    log = tmp_path / "run.log"
    process = await spawn(["-c", "from app.cli import main; main()", "run"], env, log)
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz", process)
        services = build_services(load_settings(database_url=database_url))
        try:
            async with asyncio.timeout(60):  # the scheduler takes the lease once it has started
                while (lease := await _lease(services)) is None or lease.expires_at <= services.clock.now():
                    await asyncio.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), timeout=40) == 0, log_tail(log)
            lease = await _lease(services)
            assert (
                lease is not None and lease.expires_at <= services.clock.now()
            )  # resigned, not left to expire
            assert "resigned" in log.read_text(errors="replace")
        finally:
            await services.close()
    finally:
        await kill9(process if process.returncode is None else None)


async def _lease(services: Services) -> Lease | None:
    async with services.uow() as uow:
        return await leases.current(uow.session, SCHEDULER)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sigint_in_polling_mode_stops_without_a_traceback(database_url: str, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) of a polling bot: polling stops before anything else, so no getUpdates is left
    running to clash with the last one ("Conflict: terminated by other getUpdates request")."""
    async with Emulator() as emulator:
        bot = emulator.create_bot(username="nol_sigint_bot")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "WEB_"))}
        env.update(
            DATABASE_URL=database_url,
            WEB_PORT=str(port),
            MEDIA_DIR=str(tmp_path / "media"),
            LOG_LEVEL="INFO",
            TELEGRAM_BOT_TOKEN=bot.token,
            TELEGRAM_API_BASE_URL=emulator.base_url,
            TELEGRAM_FILE_BASE_URL=emulator.file_base_url,
        )
        log = tmp_path / "run.log"
        process = await spawn(["-c", "from app.cli import main; main()", "run"], env, log)
        try:
            await wait_http(f"http://127.0.0.1:{port}/healthz", process)
            async with await Phone.create(emulator.url, bot.username, language_code="zh-hans") as phone:
                await phone.send("/start")  # the bot is polling
                await phone.wait_for_reply(timeout=20)
            await asyncio.sleep(0.5)  # a long poll is in flight
            process.send_signal(signal.SIGINT)
            assert await asyncio.wait_for(process.wait(), timeout=40) == 0, log_tail(log)
            text = log.read_text(errors="replace")
            assert "Task exception was never retrieved" not in text, log_tail(log)
            assert "Traceback" not in text, log_tail(log)
            assert "Conflict" not in text, log_tail(log)
        finally:
            await kill9(process if process.returncode is None else None)
