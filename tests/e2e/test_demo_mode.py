"""Demo mode is asked for (DEMO=true), never guessed from a missing token: without a token and without
DEMO `notoneless run` stops with one line; the demo refuses a token, a non-loopback WEB_HOST and a
database that holds real areas (and so does `notoneless demo-data`); the demo's log stays quiet while the
simulator polls, and its dashboard login is printed last, boxed, once the server is up."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.cli import cli
from app.container import build_services
from app.demo_mode import is_loopback
from app.runner import run
from app.settings import SettingsError, get_settings
from domain.demo import DEMO_LOGIN, RealDataPresent, create_demo_data
from domain.people.webauth import login
from storage.db import make_engine, make_sessionmaker
from storage.models import Area
from storage.uow import UnitOfWorkFactory
from tests.drills.procs import kill9, log_tail, spawn
from tests.e2e.test_runner import settings_for
from tests.factories import build_world

PRODUCT = ["-c", "from app.cli import main; main()"]


def product_env(**settings: str) -> dict[str, str]:
    """This environment without any product setting, plus `settings`."""
    prefixes = ("TELEGRAM_", "DATABASE_", "WEB_", "DEMO", "LOG_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, "PYTHONUNBUFFERED": "1", **settings}


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_without_a_token_and_without_demo_run_stops_with_one_line(
    database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "never" / "nol.db"
    env = product_env(DATABASE_URL=f"sqlite+aiosqlite:///{data}", MEDIA_DIR=str(tmp_path / "media"))
    log = tmp_path / "run.log"
    process = await spawn([*PRODUCT, "run"], env, log)
    try:
        assert await asyncio.wait_for(process.wait(), timeout=60) != 0
    finally:
        await kill9(process)
    lines = log.read_text(encoding="utf-8").strip().splitlines()
    assert len(lines) == 1, lines
    assert "TELEGRAM_BOT_TOKEN" in lines[0] and "DEMO=true" in lines[0]
    assert not data.exists()  # refused before anything was opened


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_demo_with_a_bot_token_is_refused(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url, tmp_path, demo=True, telegram_bot_token="42:not-a-real-token")
    with pytest.raises(SettingsError, match="DEMO"):
        await run(settings, asyncio.Event())


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "nol.example.org"])
async def test_demo_refuses_a_host_other_than_loopback(database_url: str, tmp_path: Path, host: str) -> None:
    settings = settings_for(database_url, tmp_path, demo=True, web_host=host)
    with pytest.raises(SettingsError, match="WEB_HOST"):
        await run(settings, asyncio.Event())


def test_loopback_hosts() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "localhost.example.org", ""]))


async def test_demo_refuses_a_database_with_real_areas(
    database_url: str, tmp_path: Path, uow_factory: UnitOfWorkFactory
) -> None:
    await build_world(uow_factory, pupils_per_class=1)
    settings = settings_for(database_url, tmp_path, demo=True)
    with pytest.raises(SettingsError, match="T-C") as refused:
        await run(settings, asyncio.Event())
    assert "\n" not in str(refused.value)
    # demo-data does not mix fictional people into it either
    services = build_services(settings)
    try:
        with pytest.raises(RealDataPresent):
            await create_demo_data(
                services.uow, now=services.clock.now(), policy=services.policy, tz=services.tz
            )
        async with services.uow() as uow:
            assert (
                await uow.session.scalar(
                    select(func.count()).select_from(Area).where(Area.code.like("DEMO%"))
                )
                == 0
            )
    finally:
        await services.close()


async def _build_world(url: str) -> None:
    engine = make_engine(url)
    try:
        await build_world(UnitOfWorkFactory(make_sessionmaker(engine)), pupils_per_class=1)
    finally:
        await engine.dispose()


def test_demo_data_command_refuses_a_database_with_real_areas(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    asyncio.run(_build_world(database_url))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["demo-data"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "demo county" in result.output and "T-C" in result.output


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_demo_log_is_quiet_and_ends_with_the_login_box(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url, tmp_path, demo=True)
    services = build_services(settings)
    try:
        await create_demo_data(services.uow, now=services.clock.now(), policy=services.policy, tz=services.tz)
    finally:
        await services.close()
    base = f"http://127.0.0.1:{settings.web_port}"
    env = product_env(
        DATABASE_URL=database_url,
        WEB_PORT=str(settings.web_port),
        MEDIA_DIR=str(tmp_path / "media"),
        LOG_LEVEL="INFO",
        DEMO="true",
    )
    log = tmp_path / "run.log"
    process = await spawn([*PRODUCT, "run"], env, log)
    try:
        assert process.stdout is not None
        box: list[str] = []
        async with asyncio.timeout(90):
            while len(box) < 2 or not box[-1].startswith("+"):
                line = (await process.stdout.readline()).decode()
                assert line, f"run ended before printing the login box:\n{log_tail(log)}"
                if line.startswith(("+", "|")) or box:
                    box.append(line.rstrip("\n"))
        async with httpx.AsyncClient(timeout=10) as client:
            # printed once the server is up: it answers at once, no retry needed
            assert (await client.get(f"{base}/healthz")).status_code == 200
            people = (await client.get(f"{base}/simulator/api/people")).json()
            people = people.get("result", people) if isinstance(people, dict) else people
            uid = people[0]["telegram_user_id"]
            opened = await client.post(f"{base}/simulator/api/open", json={"telegram_user_id": uid})
            assert opened.status_code == 200
            for _ in range(5):  # what the simulator page does every second or so
                assert (await client.get(f"{base}/simulator/api/chat/{uid}")).status_code == 200
            assert (await client.get(f"{base}/")).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=40) == 0, log_tail(log)
    finally:
        await kill9(process if process.returncode is None else None)
    found = re.search(rf"user / 用户名 {DEMO_LOGIN}\s+password / 密码 (\S+)", "\n".join(box))
    assert found, box
    assert f"{base}/simulator" in "\n".join(box)
    text = log.read_text(encoding="utf-8")
    assert "/simulator/api/chat/" not in text, text  # no line per poll
    assert '"GET / HTTP/1.1" 200' in text  # the access log itself is on
    assert "getUpdates" not in text and "Running job" not in text  # no line per poll or scheduler tick
    assert "Not One Less is running at" in text

    services = build_services(settings)
    try:
        async with services.uow() as uow:
            assert await login(uow, DEMO_LOGIN, found.group(1), now=datetime.now(UTC), ip="127.0.0.1")
    finally:
        await services.close()
